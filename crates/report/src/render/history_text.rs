//! Plain-text views of the history for a terminal or a log: the list of scans and the diff
//! between two scans. Text from the network is stripped of control characters.

use std::fmt::Write as _;

use clinicscan_model::{Lang, Severity};
use unicode_width::UnicodeWidthStr;

use super::terminal::clean;
use super::view::{ChangeItems, Changes};
use super::{fmt_time, sev_label};
use crate::diff::ScanDiff;
use crate::strings::S;
use clinicscan_store::ScanSummary;

fn pad(s: &str, width: usize) -> String {
    let mut out = s.to_string();
    for _ in UnicodeWidthStr::width(s)..width {
        out.push(' ');
    }
    out
}

fn pad_left(s: &str, width: usize) -> String {
    let mut out = String::new();
    for _ in UnicodeWidthStr::width(s)..width {
        out.push(' ');
    }
    out.push_str(s);
    out
}

/// The scans, one a line, in the order given (the CLI passes newest first).
pub fn render_history_list(scans: &[ScanSummary], lang: Lang) -> String {
    let t = |s: S| s.get(lang);
    let sev_head = Severity::ALL
        .iter()
        .map(|&s| sev_label(s).get(lang))
        .collect::<Vec<_>>()
        .join("/");
    let header = [
        "ID".to_string(),
        t(S::ScanStarted).to_string(),
        t(S::Site).to_string(),
        t(S::VantageZone).to_string(),
        t(S::HostsUp).to_string(),
        format!("{} ({sev_head})", t(S::Findings)),
        t(S::ControlsFailed).to_string(),
    ];
    let rows: Vec<[String; 7]> = scans
        .iter()
        .map(|s| {
            let b = s.by_severity;
            [
                s.id.to_string(),
                fmt_time(s.started),
                clean(s.site.as_deref().unwrap_or("-")),
                if s.vantage_zones.is_empty() {
                    "-".to_string()
                } else {
                    clean(&s.vantage_zones)
                },
                s.hosts_up.to_string(),
                format!(
                    "{} ({}/{}/{}/{}/{})",
                    s.findings, b[0], b[1], b[2], b[3], b[4]
                ),
                s.controls_failed.to_string(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| UnicodeWidthStr::width(h.as_str()));
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(UnicodeWidthStr::width(c.as_str()));
        }
    }
    let line = |cells: &[String; 7]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            // Numbers right-aligned, text left-aligned; no trailing blanks.
            let cell = match i {
                0 | 4 | 6 => pad_left(c, *w),
                _ if i == cells.len() - 1 => c.clone(),
                _ => pad(c, *w),
            };
            l.push_str(&cell);
        }
        l.trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(&header));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    if rows.is_empty() {
        let _ = writeln!(out, "{}", t(S::HistoryEmpty));
    }
    out
}

/// What changed between two scans, as text.
pub fn render_diff(d: &ScanDiff, lang: Lang) -> String {
    let t = |s: S| s.get(lang);
    let mut out = String::new();
    let id = |p: &crate::diff::ScanPoint| p.scan_id.map(|i| format!("#{i} ")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{}: {}{} → {}{}",
        t(S::ChangesSinceLast),
        id(&d.from),
        fmt_time(d.from.started),
        id(&d.to),
        fmt_time(d.to.started)
    );
    for section in Changes::of(d, lang).sections {
        match section.items {
            ChangeItems::Findings(findings) => {
                let _ = writeln!(out, "\n{} ({})", section.label, findings.len());
                for f in findings {
                    let _ = writeln!(
                        out,
                        "  [{}] {}  {}  ({})",
                        f.severity,
                        f.target,
                        clean(f.title),
                        f.finding.rule_id
                    );
                }
            }
            ChangeItems::NotRechecked(rows) => {
                let _ = writeln!(out, "\n{} ({})", section.label, rows.len());
                for c in &rows {
                    let _ = writeln!(
                        out,
                        "  [{}] {}  {}  ({})\n      {}; {}",
                        c.row.severity,
                        c.row.target,
                        clean(c.row.title),
                        c.row.finding.rule_id,
                        clean(&c.reason),
                        c.confirmed(lang)
                    );
                }
                if !rows.is_empty() {
                    let _ = writeln!(out, "  {}", t(S::NotRecheckedNote));
                }
            }
            ChangeItems::Hosts(hosts) => {
                let _ = writeln!(out, "\n{} ({})", section.label, hosts.len());
                for h in hosts {
                    let _ = writeln!(out, "  {h}");
                }
            }
            ChangeItems::Services(services) => {
                let _ = writeln!(out, "\n{} ({})", section.label, services.len());
                for s in services {
                    let _ = writeln!(out, "  {} {}", s.at, clean(s.name.unwrap_or("")));
                }
            }
        }
    }
    if !d.has_changes() {
        let _ = writeln!(out, "\n{}", t(S::NoChanges));
    }
    out
}
