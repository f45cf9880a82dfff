//! `clinicscan precheck`: hold one host against a vendor hand-over profile.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clinicscan_policy::Profile;

use crate::args::{PrecheckArgs, TargetArgs};
use crate::scan::Globals;
use crate::{common, exit};

pub fn run(g: &Globals, args: PrecheckArgs) -> Result<u8> {
    let profile = load_profile(&args.profile)?;
    let (_, site) = common::load_policy(&args.policy)?;
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
                ports: args.ports.clone(),
                top_ports: None,
                syn: false,
                // A hand-over check must not miss a host that drops pings.
                no_discovery: true,
                no_probes: false,
                no_dns: false,
                allow_public: args.allow_public,
                max_concurrency: None,
                max_per_host: None,
                max_rate: None,
                snmp_communities: Vec::new(),
            };
            let config = crate::scan::scan_config(&targets, site.as_ref(), None)?;
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
        Some(crate::args::Format::Json) => serde_json::to_string_pretty(&report)? + "\n",
        _ => clinicscan_report::render_precheck(&report, g.lang),
    };
    common::write_output(args.output.as_deref(), &text)?;
    Ok(if report.passed() {
        exit::CLEAN
    } else {
        exit::FINDINGS
    })
}

/// A shipped profile by name, or a profile file.
fn load_profile(name: &str) -> Result<Profile> {
    let path = Path::new(name);
    if path.extension().is_some_and(|e| e == "toml") || path.exists() {
        return Profile::from_file(path)
            .with_context(|| format!("cannot load the profile {}", path.display()));
    }
    match Profile::shipped(name)? {
        Some(p) => Ok(p),
        None => {
            let known: Vec<String> = Profile::shipped_all()?.into_iter().map(|p| p.id).collect();
            bail!(
                "no profile named {name:?}; shipped profiles: {}",
                known.join(", ")
            )
        }
    }
}
