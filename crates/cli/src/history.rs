//! `clinicscan history` and `clinicscan inventory`: read the scan history.

use anyhow::{Result, bail};
use clinicscan_report::{History, ReportInput, ScanId};

use crate::args::{Format, HistoryAction, HistoryArgs, InventoryArgs};
use crate::scan::{Globals, db_path, emit};
use crate::{common, exit};

pub fn run(g: &Globals, args: HistoryArgs) -> Result<u8> {
    let path = db_path(args.db.db)?;
    if !path.exists() {
        bail!(
            "no history database at {} (run a scan first, or give --db)",
            path.display()
        );
    }
    let history = History::open(&path)?;
    match args.action {
        HistoryAction::List { limit } => {
            let mut out = String::new();
            let (id, when, zone, hosts, findings) = match g.lang {
                clinicscan_model::Lang::Ja => (
                    "ID",
                    "開始",
                    "ゾーン",
                    "ホスト",
                    "指摘 (重大/高/中/低/情報)",
                ),
                clinicscan_model::Lang::En => (
                    "ID",
                    "started",
                    "zones",
                    "hosts",
                    "findings (crit/high/med/low/info)",
                ),
            };
            out.push_str(&format!(
                "{id:>5}  {when:<20}  {zone:<16}  {hosts:>6}  {findings}\n"
            ));
            for s in history.list()?.into_iter().take(limit as usize) {
                let b = s.by_severity;
                out.push_str(&format!(
                    "{:>5}  {:<20}  {:<16}  {:>6}  {} ({}/{}/{}/{}/{})\n",
                    s.id,
                    s.started.format("%Y-%m-%d %H:%M:%S"),
                    if s.vantage_zones.is_empty() {
                        "-"
                    } else {
                        &s.vantage_zones
                    },
                    s.hosts_up,
                    s.findings,
                    b[0],
                    b[1],
                    b[2],
                    b[3],
                    b[4]
                ));
            }
            common::write_output(None, &out)?;
            Ok(exit::CLEAN)
        }
        HistoryAction::Show { id, output } => {
            let id = resolve(&history, &id)?;
            let stored = history.show(id)?;
            let diff = match history.latest_before(id)? {
                Some(prev) => Some(history.diff(prev, id)?),
                None => None,
            };
            let input = ReportInput {
                assessment: &stored.assessment,
                observations: &stored.observations,
                diff: diff.as_ref(),
                seen: None,
                lang: g.lang,
            };
            let format = common::format(output.format, output.output.as_deref());
            emit(format, g.color, &input, output.output.as_deref())?;
            Ok(exit::CLEAN)
        }
        HistoryAction::Diff { a, b, format } => {
            let (a, b) = (resolve(&history, &a)?, resolve(&history, &b)?);
            let diff = history.diff(a, b)?;
            let text = match format {
                Some(Format::Json) => serde_json::to_string_pretty(&diff)? + "\n",
                _ => render_diff(&diff, g.lang),
            };
            common::write_output(None, &text)?;
            Ok(if diff.has_changes() {
                exit::FINDINGS
            } else {
                exit::CLEAN
            })
        }
    }
}

fn resolve(history: &History, id: &str) -> Result<ScanId> {
    if id == "latest" {
        return match history.latest()? {
            Some(id) => Ok(id),
            None => bail!("the history is empty"),
        };
    }
    match id.parse() {
        Ok(n) => Ok(n),
        Err(_) => bail!("{id:?} is not a scan id (a number or \"latest\")"),
    }
}

pub fn inventory(g: &Globals, args: InventoryArgs) -> Result<u8> {
    let path = db_path(args.db.db)?;
    if !path.exists() {
        bail!(
            "no history database at {} (run a scan first, or give --db)",
            path.display()
        );
    }
    let history = History::open(&path)?;
    let Some(latest) = history.latest()? else {
        bail!("the history is empty");
    };
    let stored = history.show(latest)?;
    let seen = history.host_seen()?;
    let input = ReportInput {
        assessment: &stored.assessment,
        observations: &stored.observations,
        diff: None,
        seen: Some(&seen),
        lang: g.lang,
    };
    let text = clinicscan_report::render(clinicscan_report::Format::Inventory, &input)?;
    common::write_output(args.output.as_deref(), &text)?;
    Ok(exit::CLEAN)
}

/// The diff as plain text for a terminal or a log.
// TODO(report): move into clinicscan_report next to the other renderers.
fn render_diff(d: &clinicscan_report::ScanDiff, lang: clinicscan_model::Lang) -> String {
    use clinicscan_model::Lang;
    use std::fmt::Write;
    let ja = lang == Lang::Ja;
    let mut out = String::new();
    let title = |f: &clinicscan_model::Finding| {
        format!(
            "  [{}] {} {}{}  {}\n",
            f.severity.as_str(),
            f.rule_id,
            f.host,
            f.port.map(|p| format!(":{p}")).unwrap_or_default(),
            f.title.get(lang)
        )
    };
    let sections: [(&str, &str, &Vec<clinicscan_model::Finding>); 3] = [
        ("新たな指摘", "New findings", &d.new_findings),
        ("解消した指摘", "Resolved findings", &d.resolved_findings),
        ("継続中の指摘", "Unchanged findings", &d.unchanged_findings),
    ];
    for (j, e, list) in sections {
        let _ = writeln!(out, "{} ({})", if ja { j } else { e }, list.len());
        for f in list {
            out.push_str(&title(f));
        }
    }
    let hosts: [(&str, &str, &Vec<std::net::IpAddr>); 2] = [
        (
            "新たに見つかったホスト",
            "Hosts appeared",
            &d.hosts_appeared,
        ),
        ("見えなくなったホスト", "Hosts vanished", &d.hosts_vanished),
    ];
    for (j, e, list) in hosts {
        let _ = writeln!(out, "{} ({})", if ja { j } else { e }, list.len());
        for h in list {
            let _ = writeln!(out, "  {h}");
        }
    }
    let services: [(&str, &str, &Vec<clinicscan_report::ServiceRef>); 2] = [
        (
            "新たに開いたサービス",
            "Services appeared",
            &d.services_appeared,
        ),
        ("閉じたサービス", "Services vanished", &d.services_vanished),
    ];
    for (j, e, list) in services {
        let _ = writeln!(out, "{} ({})", if ja { j } else { e }, list.len());
        for s in list {
            let t = match s.transport {
                clinicscan_model::Transport::Tcp => "tcp",
                clinicscan_model::Transport::Udp => "udp",
            };
            let _ = writeln!(
                out,
                "  {}:{}/{} {}",
                s.host,
                s.port,
                t,
                s.name.as_deref().unwrap_or("")
            );
        }
    }
    out
}
