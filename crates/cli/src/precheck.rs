//! `clinicscan precheck`: hold one host against a vendor hand-over profile, on evidence.
//!
//! The scan probes every port the profile names (besides `--ports` or the clinic list) and
//! records closed and filtered ports one by one, so each expectation can say which ports
//! answered how. Exit 0: all met on a host that answered; 1: one not met; 2: one not
//! verified (the host never answered, a port was not probed).

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clinicscan_model::{Audience, Transport};
use clinicscan_policy::{DataTree, Profile};

use crate::args::{Format, PrecheckArgs, TargetArgs};
use crate::scan::Globals;
use crate::{common, exit};

pub fn run(g: &Globals, args: PrecheckArgs) -> Result<u8> {
    let (rules, site) = common::load_policy(&args.policy)?;
    let profile = load_profile(
        &args.profile,
        common::data_dir(&args.policy.data).as_deref(),
    )?;
    profile.check_controls(rules.catalogue())?;
    let observation = match &args.observation {
        Some(path) => {
            let mut all = crate::assess::read_observations(path)?;
            if all.len() != 1 {
                bail!(
                    "{} holds {} observations; give one",
                    path.display(),
                    all.len()
                );
            }
            all.remove(0)
        }
        None => {
            let targets = TargetArgs {
                targets: vec![args.host.clone()],
                target_file: Vec::new(),
                exclude: Vec::new(),
                exclude_file: Vec::new(),
                ports: Some(port_spec(args.ports.as_deref(), &profile)?),
                top_ports: None,
                syn: false,
                // A hand-over check must not miss a host that drops pings; whether the host
                // answered at all is judged from its ports instead.
                no_discovery: true,
                no_probes: false,
                no_dns: false,
                allow_public: args.allow_public,
                max_concurrency: None,
                max_per_host: None,
                max_rate: None,
                snmp_communities: Vec::new(),
            };
            let mut config = crate::scan::scan_config(&targets, site.as_ref(), None)?;
            // Every port's answer is evidence: closed and filtered ones too.
            config.report_closed = true;
            crate::scan::scan_observation(g, &config)?
        }
    };
    let host: IpAddr = match args.host.parse() {
        Ok(ip) => ip,
        Err(_) => observation
            .hosts
            .iter()
            .find(|h| {
                h.names
                    .iter()
                    .any(|n| n.name.eq_ignore_ascii_case(&args.host))
            })
            .map(|h| h.address)
            .with_context(|| format!("{} is not in the observation", args.host))?,
    };
    let report = clinicscan_policy::precheck(&observation, host, &profile);
    let text = match args.format {
        Some(Format::Json) => serde_json::to_string_pretty(&report)? + "\n",
        Some(Format::Checklist) => {
            // The vendor's form of the default checklist edition: a pre-check names none.
            let form = rules
                .catalogue()
                .form_for(Audience::Vendor, &[])
                .context("no vendor (事業者確認用) checklist form in the catalogue")?;
            clinicscan_report::render_precheck_checklist(form, &report, g.lang)
        }
        Some(Format::ChecklistXlsx) => {
            bail!("the vendor's checklist is HTML only: use -f checklist")
        }
        _ => clinicscan_report::render_precheck(&report, g.lang),
    };
    common::write_output(args.output.as_deref(), &text)?;
    Ok(if report.failed() {
        exit::FINDINGS
    } else if report.passed() {
        exit::CLEAN
    } else {
        // Not verified (or not evaluable): neither a pass nor a proven failure.
        exit::ERROR
    })
}

/// The ports to scan: the user's list (or the clinic list) plus every port the profile
/// names, written out when the profile adds any.
fn port_spec(user: Option<&str>, profile: &Profile) -> Result<String> {
    let base = user.unwrap_or("clinic");
    let plan = clinicscan_probe::parse_ports(base)?;
    let mut tcp = plan.tcp.clone();
    let mut udp = plan.udp.clone();
    let mut added = false;
    for (t, p) in profile.ports() {
        let list = match t {
            Transport::Tcp => &mut tcp,
            Transport::Udp => &mut udp,
        };
        if !list.contains(&p) {
            list.push(p);
            added = true;
        }
    }
    if !added {
        return Ok(base.to_string());
    }
    let join = |ps: &[u16]| ps.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let mut spec = format!("T:{}", join(&tcp));
    if !udp.is_empty() {
        spec.push_str(&format!(",U:{}", join(&udp)));
    }
    Ok(spec)
}

/// A profile by name from the data (built in, or `--data`), or a profile file.
fn load_profile(name: &str, data: Option<&Path>) -> Result<Profile> {
    let path = Path::new(name);
    if path.extension().is_some_and(|e| e == "toml") || path.exists() {
        return Profile::from_file(path)
            .with_context(|| format!("cannot load the profile {}", path.display()));
    }
    let all = Profile::all_in(&DataTree::load(data)?)?;
    let known: Vec<String> = all.iter().map(|p| p.id.clone()).collect();
    match all.into_iter().find(|p| p.id == name) {
        Some(p) => Ok(p),
        None => bail!("no profile named {name:?}; profiles: {}", known.join(", ")),
    }
}
