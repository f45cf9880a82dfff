//! `clinicscan scan`: targets → Observation → Assessment → report, history, email.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clinicscan_model::{Assessment, Audience, Lang, Observation};
use clinicscan_policy::{Catalogue, RuleSet, Site};
use clinicscan_probe::{HostProfile, ScanConfig, ScanEvent};
use clinicscan_report::{
    ChecklistInput, EmailOn, EmailSettings, Outbox, ReportInput, RunLock, ScanDiff, SyslogTarget,
    compose, deliver, should_email,
};
use clinicscan_store::{Delivery, Retry, ScanOutbox, record_or_keep};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{EmailOnArg, Format, ScanArgs, SyslogArgs, TargetArgs};
use crate::common;
use crate::exit;
use crate::history::{self, Db};

/// Global settings every command shares.
pub struct Globals {
    pub quiet: bool,
    /// How many -v: log lines replace the progress bar.
    pub verbose: u8,
    pub lang: Lang,
    pub color: bool,
}

pub fn run(g: &Globals, args: ScanArgs) -> Result<u8> {
    // Everything that can be wrong with the input is found before any packet is sent.
    let (rules, site) = common::load_policy(&args.policy)?;
    let config = scan_config(&args.target, site.as_ref(), args.vantage_zone.clone())?;
    clinicscan_probe::plan(&config)?;
    let email = if args.email {
        Some(email_settings(site.as_ref())?)
    } else {
        None
    };
    let db = if args.no_history {
        None
    } else {
        Some(Db::resolve(args.history.db.clone())?)
    };
    // A shared history keys every scan by its site, so the site file must name it.
    if let Some(db) = &db
        && db.location.is_shared()
        && site.as_ref().and_then(|s| s.id.as_ref()).is_none()
    {
        bail!(
            "the history {} is shared by several sites: give a --site file whose [site] table has an id",
            db.location
        );
    }
    let syslog = syslog_target(&args.syslog)?;
    // Scheduled runs (or an explicit --lock) never overlap.
    let lock_path = args
        .lock
        .clone()
        .or_else(|| g.quiet.then(|| db.as_ref().map(Db::lock_path)).flatten());
    let _lock = match &lock_path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            Some(RunLock::acquire(p)?)
        }
        None => None,
    };

    let mut observation = scan_observation(g, &config)?;
    set_vantage_zone(&mut observation, site.as_ref());
    log_hosts_per_segment(&observation, site.as_ref());

    if let Some(path) = &args.save_observation {
        let json = serde_json::to_string_pretty(&observation)? + "\n";
        common::write_output(Some(path), &json)?;
    }

    let observations = vec![observation];
    let mut assessment = clinicscan_policy::assess(&observations, site.as_ref(), &rules);
    let store_outbox = db
        .as_ref()
        .map(|db| ScanOutbox::new(db.state_dir.join("store-outbox")));
    if let (Some(db), Some(outbox)) = (&db, &store_outbox) {
        carry_not_rechecked(
            db,
            outbox,
            &observations,
            &mut assessment,
            site.as_ref(),
            &rules,
        );
    }
    common::log_assessment(&assessment);

    // History: record (or keep for the next run), then compare with the previous scan of
    // the same scope.
    let format = common::format(args.output.format, args.output.output.as_deref());
    let mut diff: Option<ScanDiff> = None;
    // The checklist's first round: the previous scan of the same scope.
    let mut previous: Option<Assessment> = None;
    let mut seen = None;
    let mut failed = false;
    if let (Some(db), Some(outbox)) = (&db, &store_outbox) {
        let delivery = record_or_keep(
            &db.location,
            outbox,
            &Retry::default(),
            &observations,
            &assessment,
        )?;
        match delivery {
            Delivery::Recorded {
                mut store,
                recorded,
                flushed,
            } => {
                if flushed > 0 && !g.quiet {
                    eprintln!(
                        "clinicscan: history: {flushed} scan(s) kept by earlier runs now recorded in {}",
                        store.location()
                    );
                }
                if let Some(prev) = store.latest_before(recorded.id)? {
                    diff = Some(history::diff(store.as_mut(), prev, recorded.id)?);
                    if matches!(format, Format::Checklist | Format::ChecklistXlsx) {
                        previous = Some(store.show(prev)?.assessment);
                    }
                }
                let site = if store.is_shared() {
                    assessment.site_id.as_deref()
                } else {
                    None
                };
                seen = Some(history::host_seen(store.as_mut(), site)?);
            }
            Delivery::Kept { pending, error, .. } => {
                // Said even when quiet: the operator must know the store is not current.
                eprintln!(
                    "clinicscan: {error}\nclinicscan: history: the scan is kept in {} ({pending} waiting) and will be recorded by the next run",
                    outbox.dir().display()
                );
                // A store that refuses for good (credentials, certificate, schema) must show
                // as a failed run; a brief outage need not.
                failed |= !error.is_transient();
            }
        }
    }

    let input = ReportInput {
        assessment: &assessment,
        observations: &observations,
        diff: diff.as_ref(),
        seen: seen.as_ref(),
        lang: g.lang,
    };
    // Quiet runs print nothing to the terminal; a file named with -o is still written.
    if !g.quiet || args.output.output.is_some() {
        let checklist = ChecklistSource {
            catalogue: rules.catalogue(),
            previous: previous.as_ref(),
        };
        emit(
            format,
            g.color,
            &input,
            args.output.output.as_deref(),
            checklist,
        )?;
    }

    if let Some(settings) = &email {
        // Without history there is no directory of ours: keep the outbox in the temp dir.
        let dir = db
            .as_ref()
            .map_or_else(std::env::temp_dir, |d| d.state_dir.clone());
        send_email(g, settings, &dir.join("outbox"), args.email_on, &input)?;
    }

    if let Some(target) = &syslog {
        let events = clinicscan_report::events(&input);
        let hostname = observations
            .iter()
            .find_map(|o| o.scan.vantage.hostname.clone())
            .unwrap_or_default();
        match clinicscan_report::send_events(target, &events, &hostname) {
            Ok(r) if !g.quiet => eprintln!(
                "clinicscan: syslog: {} event(s) sent{}",
                r.sent,
                if r.shortened > 0 {
                    format!(" ({} shortened to fit a UDP datagram)", r.shortened)
                } else {
                    String::new()
                }
            ),
            Ok(_) => {}
            Err(e) => {
                eprintln!("clinicscan: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Ok(exit::ERROR);
    }

    Ok(common::assessment_exit(&assessment, args.output.fail_on))
}

/// What the checklist formats read besides the report's input: the catalogue whose form
/// they fill, and the previous scan's assessment for the first round.
#[derive(Clone, Copy)]
pub struct ChecklistSource<'a> {
    pub catalogue: &'a Catalogue,
    pub previous: Option<&'a Assessment>,
}

/// Carries the findings of the previous scan of this scope that this run could not check
/// again (policy's `carry_forward`), before the scan is recorded: what the history, the
/// diff, the report and the email then show as "not re-checked", never as resolved.
///
/// The previous scan is looked up after the store has taken what its outbox kept, so a scan
/// an earlier run could not record still counts as the previous one. When the store cannot
/// be read nothing is carried, and the run says so even when quiet: a finding this run did
/// not check could then read as resolved in the next diff.
fn carry_not_rechecked(
    db: &Db,
    outbox: &ScanOutbox,
    observations: &[Observation],
    assessment: &mut Assessment,
    site: Option<&Site>,
    rules: &RuleSet,
) {
    let previous = clinicscan_store::open(&db.location).and_then(|mut store| {
        outbox.flush(store.as_mut())?;
        match store.latest_of_scope(observations, assessment)? {
            Some(id) => store.show(id).map(Some),
            None => Ok(None),
        }
    });
    match previous {
        Ok(Some(previous)) => {
            let carried = clinicscan_policy::carry_forward(
                &previous.assessment,
                assessment,
                observations,
                site,
                rules,
            );
            clinicscan_policy::apply_not_rechecked(assessment, carried, rules);
        }
        Ok(None) => {}
        Err(e) => eprintln!(
            "clinicscan: history: the previous scan could not be read ({e}); findings this run could not check again are not carried"
        ),
    }
}

/// Renders the report (or the raw Observation) to a file or stdout.
pub fn emit(
    format: Format,
    color: bool,
    input: &ReportInput<'_>,
    out: Option<&Path>,
    checklist: ChecklistSource<'_>,
) -> Result<()> {
    if format == Format::Jsonl {
        return common::write_output(out, &clinicscan_report::render_jsonl(input));
    }
    if matches!(format, Format::Checklist | Format::ChecklistXlsx) {
        let form = common::checklist_form(
            checklist.catalogue,
            input.assessment,
            Audience::MedicalInstitution,
        )?;
        let cl = ChecklistInput {
            form,
            assessment: input.assessment,
            previous: checklist.previous,
            lang: input.lang,
        };
        return if format == Format::Checklist {
            common::write_output(out, &clinicscan_report::render_checklist(&cl))
        } else {
            common::write_output_bytes(out, &clinicscan_report::render_checklist_xlsx(&cl)?)
        };
    }
    let text = match common::report_format(format, color && out.is_none()) {
        Some(f) => clinicscan_report::render(f, input)?,
        None => {
            let obs = if input.observations.len() == 1 {
                serde_json::to_string_pretty(&input.observations[0])?
            } else {
                serde_json::to_string_pretty(input.observations)?
            };
            obs + "\n"
        }
    };
    common::write_output(out, &text)
}

/// Builds the engine's configuration from the flags and the site file.
pub fn scan_config(
    t: &TargetArgs,
    site: Option<&Site>,
    zone: Option<String>,
) -> Result<ScanConfig> {
    let mut config = ScanConfig {
        targets: t.targets.clone(),
        target_files: t.target_file.clone(),
        exclude: t.exclude.clone(),
        exclude_files: t.exclude_file.clone(),
        syn: t.syn,
        discovery: !t.no_discovery,
        service_probes: !t.no_probes,
        reverse_dns: !t.no_dns,
        allow_public: t.allow_public,
        // Only an explicit --vantage-zone goes in up front; otherwise the zone is derived
        // from the scanner's own address after the scan (one site file, many vantages).
        zone,
        ..ScanConfig::default()
    };
    if let Some(p) = &t.ports {
        config.ports = p.clone();
    } else if let Some(n) = t.top_ports {
        config.ports = format!("top{n}");
    }
    if let Some(n) = t.max_concurrency {
        config.max_concurrency = n.max(1) as usize;
    }
    if let Some(n) = t.max_per_host {
        config.max_per_host = n.max(1) as usize;
    }
    config.rate = t.max_rate;
    for c in &t.snmp_communities {
        if !config.snmp_communities.contains(c) {
            config.snmp_communities.push(c.clone());
        }
    }
    if let Some(site) = site {
        let strings = |nets: &[_]| {
            nets.iter()
                .map(ToString::to_string)
                .collect::<Vec<String>>()
        };
        // The zone decides the default targets and the egress attempts: the declared one,
        // else the zone of the scanner's own address toward the targets.
        let from = match &config.zone {
            Some(z) => Some(z.clone()),
            None => {
                let toward = if config.targets.is_empty() {
                    strings(&site.scan_plan(None).targets)
                } else {
                    config.targets.clone()
                };
                site.vantage_zone_of(&clinicscan_probe::vantage_toward(&toward))
            }
        };
        let plan = site.scan_plan(from.as_deref());
        config.public = strings(&plan.public);
        config.egress = plan.egress.clone();
        // A site file without targets on the command line: scan every zone it names.
        if config.targets.is_empty() && config.target_files.is_empty() {
            config.targets = strings(&plan.targets);
        }
        config.do_not_touch.extend(strings(&plan.do_not_touch));
        config.profiles.extend(plan.profiles.iter().map(|p| {
            let mut profile = HostProfile::new(p.zone.clone(), strings(&p.cidrs));
            profile.max_per_host = p.max_per_host.map(|n| n as usize);
            profile.connection_gap = p.connection_gap;
            profile
        }));
    }
    if config.targets.is_empty() && config.target_files.is_empty() {
        bail!(
            "no targets: name addresses, CIDRs or host names, use --target-file, or give a --site file with zones"
        );
    }
    Ok(config)
}

/// Runs the engine on a tokio runtime, with a progress bar on a terminal and Ctrl-C
/// stopping the scan with a partial result.
pub fn scan_observation(g: &Globals, config: &ScanConfig) -> Result<Observation> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = (!g.quiet && g.verbose == 0 && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} hosts  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let quiet = g.quiet;
    let progress = |event: ScanEvent| match event {
        ScanEvent::Started {
            addresses,
            tcp_ports,
            udp_ports,
        } => {
            tracing::info!(
                addresses,
                tcp_ports,
                udp_ports,
                syn = config.syn,
                "targets resolved"
            );
            if let Some(b) = &bar {
                b.set_length(addresses);
            }
        }
        ScanEvent::HostDone {
            address,
            up,
            open_ports,
        } => {
            if up {
                tracing::debug!(%address, open_ports, "host up");
            } else {
                tracing::trace!(%address, "no answer");
            }
        }
        ScanEvent::Finished { cancelled } => {
            tracing::info!(cancelled, "scan finished");
        }
        ScanEvent::Progress {
            addresses_done,
            hosts_up,
            ..
        } => {
            if let Some(b) = &bar {
                b.set_position(addresses_done);
                b.set_message(format!("{hosts_up} up"));
            }
        }
        ScanEvent::Notice(n) if !quiet => {
            tracing::debug!(notice = %n.message, "notice");
            let line = format!("clinicscan: note: {}", n.message);
            match &bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
        _ => {}
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = rt.block_on(clinicscan_probe::scan_until(config, progress, stop));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(result?)
}

/// One log line per segment (the site's zone, else the /24 or /64) with the hosts found
/// up in it and their open ports.
fn log_hosts_per_segment(obs: &Observation, site: Option<&Site>) {
    use std::collections::BTreeMap;
    let mut segments: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for host in obs
        .hosts
        .iter()
        .filter(|h| h.status.state == clinicscan_model::HostState::Up)
    {
        let segment = site
            .and_then(|s| s.zone_of(host.address))
            .map(|z| format!("zone {}", z.name))
            .unwrap_or_else(|| match host.address {
                std::net::IpAddr::V4(a) => {
                    let [x, y, z, _] = a.octets();
                    format!("{x}.{y}.{z}.0/24")
                }
                std::net::IpAddr::V6(a) => {
                    let s = a.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            });
        let entry = segments.entry(segment).or_default();
        entry.0 += 1;
        entry.1 += host
            .services
            .iter()
            .filter(|s| s.state == clinicscan_model::PortState::Open)
            .count();
    }
    for (segment, (hosts, open_ports)) in segments {
        tracing::info!(%segment, hosts, open_ports, "hosts found");
    }
}

/// Records the vantage zone when `--vantage-zone` did not (an explicit zone is kept as
/// typed: the Observation says what the user declared, the assessment resolves it).
pub fn set_vantage_zone(obs: &mut Observation, site: Option<&Site>) {
    if let Some(site) = site
        && obs.scan.vantage.zone.is_none()
    {
        obs.scan.vantage.zone = site.vantage_zone_of(&obs.scan.vantage);
    }
}

fn email_settings(site: Option<&Site>) -> Result<EmailSettings> {
    let table = match site.and_then(|s| s.email.clone()) {
        Some(t) => Some(
            t.try_into::<EmailSettings>()
                .context("the site file's [email] table is invalid")?,
        ),
        None => None,
    };
    EmailSettings::resolve(table, |k| std::env::var(k).ok())?.context(
        "--email needs an SMTP host: set [email] host in the site file or CLINICSCAN_SMTP_HOST",
    )
}

/// The syslog target, checked before any packet is sent.
fn syslog_target(args: &SyslogArgs) -> Result<Option<SyslogTarget>> {
    let Some(url) = &args.target else {
        return Ok(None);
    };
    let mut target = SyslogTarget::parse(url)?;
    target.ca_file = args.ca.clone();
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        target.client_cert = Some((cert.clone(), key.clone()));
    }
    if target.transport != clinicscan_report::SyslogTransport::Tls
        && (target.ca_file.is_some() || target.client_cert.is_some())
    {
        bail!("--syslog-ca, --syslog-cert and --syslog-key are for a tls:// collector");
    }
    Ok(Some(target))
}

fn send_email(
    g: &Globals,
    settings: &EmailSettings,
    outbox_dir: &Path,
    on: EmailOnArg,
    input: &ReportInput<'_>,
) -> Result<()> {
    let on = match on {
        EmailOnArg::Always => EmailOn::Always,
        EmailOnArg::Findings => EmailOn::Findings,
        EmailOnArg::Changes => EmailOn::Changes,
    };
    let assessment: &Assessment = input.assessment;
    let mail = should_email(on, assessment, input.diff).then(|| compose(input));
    let outbox = Outbox::new(outbox_dir);
    let report = deliver(settings, &outbox, mail.as_ref())?;
    // A failed send is kept and retried next run; the run says so even when quiet.
    if report.kept > 0 {
        eprintln!(
            "clinicscan: email: {} message(s) kept in {} for the next run: {}",
            report.kept,
            outbox.dir().display(),
            report.last_error.as_deref().unwrap_or("send failed")
        );
    } else if !g.quiet && (report.new_sent || report.retried_sent > 0) {
        eprintln!(
            "clinicscan: email sent ({} new, {} from earlier runs)",
            u8::from(report.new_sent),
            report.retried_sent
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        target: TargetArgs,
    }

    fn example_site() -> Site {
        let text = include_str!("../../../docs/examples/site.toml");
        Site::parse(text, "site.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_site_plan_reaches_the_engine_config() {
        let flags = Flags::try_parse_from(["clinicscan"]).expect("no flags needed");
        let config = scan_config(&flags.target, Some(&example_site()), None).expect("config");
        assert_eq!(
            config.targets,
            [
                "192.168.20.0/24",
                "192.168.10.0/24",
                "192.168.50.0/24",
                "192.168.40.0/24",
                "192.168.30.0/28",
            ]
        );
        assert_eq!(config.do_not_touch, ["192.168.40.50/32"]);
        let mut gentle = HostProfile::new("medical-devices", vec!["192.168.40.0/24".into()]);
        gentle.max_per_host = Some(1);
        gentle.connection_gap = Duration::from_millis(500);
        assert_eq!(config.profiles, [gentle]);
        assert_eq!(config.zone, None);
    }

    #[test]
    fn named_targets_replace_the_sites_zones_but_keep_its_limits() {
        let flags = Flags::try_parse_from(["clinicscan", "192.168.10.5"]).expect("flags");
        let config = scan_config(&flags.target, Some(&example_site()), Some("general".into()))
            .expect("config");
        assert_eq!(config.targets, ["192.168.10.5"]);
        assert_eq!(config.do_not_touch, ["192.168.40.50/32"]);
        assert_eq!(config.profiles.len(), 1);
        assert_eq!(config.zone.as_deref(), Some("general"));
    }

    #[test]
    fn an_explicit_vantage_zone_is_kept_and_a_missing_one_derived() {
        let text = include_str!("../../../fixtures/policy/lab-general.json");
        let mut obs: Observation = serde_json::from_str(text).expect("fixture");
        let lab = include_str!("../../../fixtures/policy/lab-site.toml");
        let site = Site::parse(lab, "lab-site.toml").expect("site");
        // As typed, even a zone this site does not name (another site file may).
        obs.scan.vantage.zone = Some("lobby".into());
        set_vantage_zone(&mut obs, Some(&site));
        assert_eq!(obs.scan.vantage.zone.as_deref(), Some("lobby"));
        // Undeclared: the zone of the scanner's address.
        obs.scan.vantage.zone = None;
        obs.scan.vantage.addresses = vec!["10.77.50.10".parse().expect("ip")];
        set_vantage_zone(&mut obs, Some(&site));
        assert_eq!(obs.scan.vantage.zone.as_deref(), Some("guest"));
        // Without a site there is nothing to derive it from.
        obs.scan.vantage.zone = None;
        set_vantage_zone(&mut obs, None);
        assert_eq!(obs.scan.vantage.zone, None);
    }
}
