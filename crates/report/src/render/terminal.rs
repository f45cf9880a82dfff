//! The terminal table: summary, findings by severity, then controls that need action.
//!
//! Column alignment counts display cells (`unicode-width`), so Japanese text, two cells a
//! character, lines up. Colour is ANSI SGR, only when the caller asks for it; text from
//! the network is stripped of control characters so it cannot move the cursor.

use std::fmt::Write as _;

use clinicscan_model::{CellState, ControlStatus, Severity, VantageState};
use unicode_width::UnicodeWidthStr;

use super::view::{Change, ChangeItems, View};
use super::{ReportInput, fmt_time, sev_label};
use crate::strings::S;

struct Paint {
    on: bool,
}

impl Paint {
    fn sev(&self, sev: Severity, text: &str) -> String {
        let code = match sev {
            Severity::Critical => "1;97;41",
            Severity::High => "1;31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        self.wrap(code, text)
    }
    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
    fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }
    fn status(&self, st: ControlStatus, text: &str) -> String {
        let code = match st {
            ControlStatus::Fail => "1;31",
            ControlStatus::NotVerified => "33",
            ControlStatus::Pass => "32",
            ControlStatus::NotAssessableByScan => "2",
        };
        self.wrap(code, text)
    }
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Removes control characters (ESC above all) from text that came off the network.
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    let mut out = s.to_string();
    for _ in w..width {
        out.push(' ');
    }
    out
}

fn rule(title: &str) -> String {
    let used = UnicodeWidthStr::width(title) + 4;
    let fill = 72usize.saturating_sub(used);
    format!("── {title} {}", "─".repeat(fill))
}

pub(crate) fn render(input: &ReportInput<'_>, color: bool) -> String {
    let v = View::of(input);
    let p = Paint { on: color };
    let lang = v.lang;
    let a = v.assessment;
    let t = |s: S| s.get(lang);
    let mut out = String::new();

    // Header.
    let _ = writeln!(out, "{}", p.bold(t(S::ReportTitle)));
    if let Some(site) = &a.site {
        let _ = writeln!(out, "{}: {}", t(S::Site), clean(site));
    }
    let _ = writeln!(out, "{}: {}", t(S::ScanStarted), fmt_time(v.started));
    if let Some(z) = &v.vantage_zones {
        let _ = writeln!(out, "{}: {}", t(S::VantageZone), clean(z));
    }

    // Counts.
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|&s| {
            p.sev(
                s,
                &format!("{} {}", sev_label(s).get(lang), a.counts.get(s)),
            )
        })
        .collect();
    let _ = writeln!(out, "{}: {}", t(S::Findings), counts.join("  "));
    let cc = v.control_counts;
    let _ = writeln!(
        out,
        "{}: {} {} / {} {} / {} {}",
        t(S::Controls),
        t(S::StatusFail),
        cc[0].1,
        t(S::StatusNotVerified),
        cc[1].1,
        t(S::StatusPass),
        cc[2].1
    );
    if let Some(changes) = &v.changes {
        let _ = writeln!(
            out,
            "{} ({}): {}",
            t(S::ChangesSinceLast),
            fmt_time(changes.diff.from.started),
            changes.counts_joined(" / ")
        );
        // Findings are listed below; here only hosts and services.
        for section in &changes.sections {
            let sign = if section.kind == Change::Gone {
                '-'
            } else {
                '+'
            };
            match &section.items {
                ChangeItems::Findings(_) => {}
                // Not among the findings below: listed here, with why they were not checked.
                ChangeItems::NotRechecked(rows) => {
                    for c in rows {
                        let _ = writeln!(
                            out,
                            "  ? {} [{}] {} {}: {} ({})",
                            section.label,
                            c.row.severity,
                            c.row.target,
                            clean(c.row.title),
                            clean(&c.reason),
                            c.confirmed(lang)
                        );
                    }
                }
                ChangeItems::Hosts(hosts) => {
                    for h in *hosts {
                        let _ = writeln!(out, "  {sign} {} {h}", section.label);
                    }
                }
                ChangeItems::Services(services) => {
                    for s in services {
                        let _ = writeln!(
                            out,
                            "  {sign} {} {} {}",
                            section.label,
                            s.at,
                            clean(s.name.unwrap_or(""))
                        );
                    }
                }
            }
        }
    }

    // Findings by severity.
    if v.findings.is_empty() {
        let _ = writeln!(out, "\n{}", t(S::NoFindings));
    }
    let width = v
        .findings
        .iter()
        .map(|f| UnicodeWidthStr::width(f.target.as_str()))
        .max()
        .unwrap_or(0);
    for (sev, group) in v.by_severity() {
        let head = format!("{} ({})", sev_label(sev).get(lang), group.len());
        let _ = writeln!(out, "\n{}", p.sev(sev, &rule(&head)));
        for f in group {
            let mark = if f.new { t(S::NewMark) } else { "" };
            let guess = if f.guess {
                format!(" {}", p.dim(t(S::GuessMark)))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {}  {}{}{}",
                pad(&f.target, width),
                mark,
                clean(f.title),
                guess
            );
            let _ = writeln!(
                out,
                "  {}  {}",
                pad("", width),
                p.dim(&format!(
                    "{} [{}]",
                    f.finding.rule_id,
                    f.finding.controls.join(", ")
                ))
            );
        }
    }

    // Every control a scan can assess, with what decides its status: the findings that fail
    // it, what is missing, what was checked for a pass.
    let controls: Vec<_> = v
        .controls
        .iter()
        .filter(|c| c.control.status != ControlStatus::NotAssessableByScan)
        .collect();
    if !controls.is_empty() {
        let _ = writeln!(out, "\n{}", p.bold(&rule(t(S::ByControl))));
        let idw = controls
            .iter()
            .map(|c| UnicodeWidthStr::width(c.control.id.as_str()))
            .max()
            .unwrap_or(0);
        let stw = controls
            .iter()
            .map(|c| UnicodeWidthStr::width(c.status))
            .max()
            .unwrap_or(0);
        let indent = format!("  {}  {}  ", pad("", stw), pad("", idw));
        for c in controls {
            let _ = writeln!(
                out,
                "  {}  {}  {} ({} {})",
                p.status(c.control.status, &pad(c.status, stw)),
                pad(&c.control.id, idw),
                clean(c.title),
                c.control.finding_count,
                t(S::FindingsUnit)
            );
            let _ = writeln!(out, "{indent}{}", p.dim(&clean(&c.control.source)));
            for f in c.findings.iter().map(|&i| &v.findings[i]) {
                let _ = writeln!(out, "{indent}- {} {}", f.target, p.dim(&clean(f.title)));
            }
            for m in &c.missing {
                let _ = writeln!(out, "{indent}? {}", clean(m));
            }
            if c.control.status == ControlStatus::Pass {
                const SHOWN: usize = 3;
                for line in c.checked.iter().take(SHOWN) {
                    let _ = writeln!(out, "{indent}✓ {}", p.dim(&clean(line)));
                }
                if c.checked.len() > SHOWN {
                    let _ = writeln!(
                        out,
                        "{indent}✓ {}",
                        p.dim(&format!(
                            "+{} {}",
                            c.checked.len() - SHOWN,
                            t(S::MoreChecks)
                        ))
                    );
                }
            }
        }
    }
    let organisational: Vec<&str> = v
        .controls
        .iter()
        .filter(|c| c.control.status == ControlStatus::NotAssessableByScan)
        .map(|c| c.control.id.as_str())
        .collect();
    if !organisational.is_empty() {
        let _ = writeln!(
            out,
            "\n{}: {}",
            t(S::NotAssessableListed),
            p.dim(&organisational.join(", "))
        );
    }

    // A site audit: where it was scanned from, and where not.
    if !v.vantages.is_empty() {
        let _ = writeln!(out, "\n{}", p.bold(&rule(t(S::Vantages))));
        let zw = v
            .vantages
            .iter()
            .map(|l| UnicodeWidthStr::width(l.zone))
            .max()
            .unwrap_or(0);
        for l in &v.vantages {
            let mark = match l.state {
                VantageState::Current => "✓",
                VantageState::Stale => "!",
                VantageState::NeverScanned if l.expected => "✗",
                VantageState::NeverScanned => "·",
            };
            let text = format!(
                "  {mark} {} ({}) {}{}",
                pad(&clean(l.zone), zw),
                clean(l.kind),
                l.label,
                if l.scan.is_empty() {
                    String::new()
                } else {
                    format!(": {}", clean(&l.scan))
                }
            );
            let _ = writeln!(out, "{}", text.trim_end());
        }
    }

    // The zone × zone matrix.
    if let Some(m) = &v.matrix {
        let _ = writeln!(out, "\n{}", p.bold(&rule(t(S::Coverage))));
        let rw = m
            .rows
            .iter()
            .map(|r| UnicodeWidthStr::width(r.from))
            .max()
            .unwrap_or(0);
        let mut head = format!("  {}", pad("", rw));
        for z in &m.zones {
            head.push_str("  ");
            head.push_str(&clean(z));
        }
        let _ = writeln!(out, "{head}");
        let mut details = Vec::new();
        for row in &m.rows {
            let mut line = format!("  {}", pad(&clean(row.from), rw));
            for (z, cell) in m.zones.iter().zip(&row.cells) {
                let w = UnicodeWidthStr::width(*z);
                let sym = match cell {
                    Some(c) => c.symbol,
                    None if *z == row.from => "-",
                    None => " ",
                };
                line.push_str("  ");
                line.push_str(&pad(sym, w));
                if let Some(c) = cell
                    && c.state == CellState::Violation
                {
                    details.push(format!("{} → {}: {}", row.from, z, c.detail));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let _ = writeln!(out, "  {}", p.dim(t(S::CoverageLegend)));
        for d in details {
            let _ = writeln!(out, "  ✗ {}", clean(&d));
        }
    }

    if !v.notices.is_empty() {
        let _ = writeln!(out, "\n{}", rule(t(S::ScanNotes)));
        for n in &v.notices {
            let subject = n
                .subject
                .map(|s| format!(" ({})", clean(s)))
                .unwrap_or_default();
            let _ = writeln!(out, "  * {}{}", clean(n.text), subject);
        }
    }
    if !a.rule_errors.is_empty() {
        let _ = writeln!(out, "\n{}", rule(t(S::RuleErrors)));
        for e in &a.rule_errors {
            let _ = writeln!(out, "  ! {}", clean(e));
        }
    }
    if !v.data.is_empty() {
        let _ = writeln!(out, "\n{}:", t(S::DataUsed));
        for d in &v.data {
            let _ = writeln!(out, "  {}", p.dim(&clean(d)));
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        p.dim(&format!(
            "{} clinicscan {} — {}",
            t(S::GeneratedBy),
            clean(&a.tool_version),
            fmt_time(a.generated)
        ))
    );
    out
}
