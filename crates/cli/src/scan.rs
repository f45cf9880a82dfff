//! `clinicscan scan`: targets → Observation → Assessment → report, history, email.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clinicscan_model::{Assessment, Lang, Observation};
use clinicscan_policy::Site;
use clinicscan_probe::{HostProfile, ScanConfig, ScanEvent};
use clinicscan_report::{
    EmailOn, EmailSettings, Outbox, ReportInput, RunLock, ScanDiff, SyslogTarget, compose, deliver,
    should_email,
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

    if let Some(path) = &args.save_observation {
        let json = serde_json::to_string_pretty(&observation)? + "\n";
        common::write_output(Some(path), &json)?;
    }

    let observations = vec![observation];
    let assessment = clinicscan_policy::assess(&observations, site.as_ref(), &rules);

    // History: record (or keep for the next run), then compare with the previous scan of
    // the same scope.
    let mut diff: Option<ScanDiff> = None;
    let mut seen = None;
    let mut failed = false;
    if let Some(db) = &db {
        let outbox = ScanOutbox::new(db.state_dir.join("store-outbox"));
        let delivery = record_or_keep(
            &db.location,
            &outbox,
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
    let format = common::format(args.output.format, args.output.output.as_deref());
    // Quiet runs print nothing to the terminal; a file named with -o is still written.
    if !g.quiet || args.output.output.is_some() {
        emit(format, g.color, &input, args.output.output.as_deref())?;
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

    let threshold = common::fail_threshold(args.output.fail_on);
    Ok(if common::has_findings_at(&assessment, threshold) {
        exit::FINDINGS
    } else {
        exit::CLEAN
    })
}

/// Renders the report (or the raw Observation) to a file or stdout.
pub fn emit(
    format: Format,
    color: bool,
    input: &ReportInput<'_>,
    out: Option<&Path>,
) -> Result<()> {
    if format == Format::Jsonl {
        return common::write_output(out, &clinicscan_report::render_jsonl(input));
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
        // A site file without targets on the command line: scan every zone it names.
        if config.targets.is_empty() && config.target_files.is_empty() {
            config.targets = site
                .zones
                .iter()
                .flat_map(|z| z.cidrs.iter().map(|c| c.to_string()))
                .collect();
        }
        for zone in &site.zones {
            let r = &zone.rate;
            config
                .do_not_touch
                .extend(r.do_not_touch.iter().map(|n| n.to_string()));
            if r.max_per_host.is_none() && r.new_per_second.is_none() {
                continue;
            }
            let mut profile = HostProfile::new(
                zone.name.clone(),
                zone.cidrs.iter().map(|c| c.to_string()).collect(),
            );
            profile.max_per_host = r.max_per_host.map(|n| n.max(1) as usize);
            if let Some(rate) = r.new_per_second.filter(|&n| n > 0) {
                profile.connection_gap = Duration::from_secs(1) / rate;
            }
            config.profiles.push(profile);
        }
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
    let bar = (!g.quiet && std::io::stderr().is_terminal()).then(|| {
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
        ScanEvent::Started { addresses, .. } => {
            if let Some(b) = &bar {
                b.set_length(addresses);
            }
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

/// Records the vantage zone when `--vantage-zone` did not: the site zone that holds one of
/// the scanner's addresses, else the site file's `vantage_zone`.
fn set_vantage_zone(obs: &mut Observation, site: Option<&Site>) {
    if obs.scan.vantage.zone.is_some() {
        return;
    }
    let Some(site) = site else { return };
    let from_address = obs
        .scan
        .vantage
        .addresses
        .iter()
        .find_map(|a: &IpAddr| site.zone_of(*a).map(|z| z.name.clone()));
    obs.scan.vantage.zone = from_address.or_else(|| site.vantage_zone.clone());
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
