//! The terminal table: summary, findings by severity, then controls that need action.
//!
//! Column alignment counts display cells (`unicode-width`), so Japanese text, two cells a
//! character, lines up. Colour is ANSI SGR, only when the caller asks for it; text from
//! the network is stripped of control characters so it cannot move the cursor.

use std::fmt::Write as _;

use clinicscan_model::{ControlStatus, Severity};
use unicode_width::UnicodeWidthStr;

use super::{
    NewKeys, ReportInput, control_counts, fmt_time, ordered_findings, sev_label, status_label,
    status_rank, target, vantage_zones,
};
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
            ControlStatus::Partial => "33",
            ControlStatus::Pass => "32",
            ControlStatus::NotObserved | ControlStatus::NotAssessableByScan => "2",
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
    let new = NewKeys::of(input.diff);
    let p = Paint { on: color };
    let lang = input.lang;
    let a = input.assessment;
    let t = |s: S| s.get(lang);
    let mut out = String::new();

    // Header.
    let _ = writeln!(out, "{}", p.bold(t(S::ReportTitle)));
    if let Some(site) = &a.site {
        let _ = writeln!(out, "{}: {}", t(S::Site), clean(site));
    }
    let started = crate::diff::scan_started(a, input.observations);
    let _ = writeln!(out, "{}: {}", t(S::ScanStarted), fmt_time(started));
    if let Some(z) = vantage_zones(input) {
        let _ = writeln!(out, "{}: {}", t(S::VantageZone), clean(&z));
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
    let cc = control_counts(a);
    let _ = writeln!(
        out,
        "{}: {} {} / {} {} / {} {}",
        t(S::Controls),
        t(S::StatusFail),
        cc[0].1,
        t(S::StatusPartial),
        cc[1].1,
        t(S::StatusPass),
        cc[2].1
    );
    if let Some(d) = input.diff {
        let _ = writeln!(
            out,
            "{} ({}): {} {} / {} {} / {} {}",
            t(S::ChangesSinceLast),
            fmt_time(d.from.started),
            t(S::NewFindings),
            d.new_findings.len(),
            t(S::ResolvedFindings),
            d.resolved_findings.len(),
            t(S::UnchangedFindings),
            d.unchanged_findings.len()
        );
        for h in &d.hosts_appeared {
            let _ = writeln!(out, "  + {} {}", t(S::HostAppeared), h);
        }
        for h in &d.hosts_vanished {
            let _ = writeln!(out, "  - {} {}", t(S::HostVanished), h);
        }
        for s in &d.services_appeared {
            let _ = writeln!(
                out,
                "  + {} {}:{}/{} {}",
                t(S::ServiceAppeared),
                s.host,
                s.port,
                super::transport_str(s.transport),
                clean(s.name.as_deref().unwrap_or(""))
            );
        }
        for s in &d.services_vanished {
            let _ = writeln!(
                out,
                "  - {} {}:{}/{} {}",
                t(S::ServiceVanished),
                s.host,
                s.port,
                super::transport_str(s.transport),
                clean(s.name.as_deref().unwrap_or(""))
            );
        }
    }

    // Findings by severity.
    let findings = ordered_findings(a);
    if findings.is_empty() {
        let _ = writeln!(out, "\n{}", t(S::NoFindings));
    }
    let width = findings
        .iter()
        .map(|f| UnicodeWidthStr::width(target(f).as_str()))
        .max()
        .unwrap_or(0);
    for sev in Severity::ALL {
        let group: Vec<_> = findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let head = format!("{} ({})", sev_label(sev).get(lang), group.len());
        let _ = writeln!(out, "\n{}", p.sev(sev, &rule(&head)));
        for f in group {
            let mark = if new.is_new(f) { t(S::NewMark) } else { "" };
            let guess = if f.certainty == clinicscan_model::Certainty::Guess {
                format!(" {}", p.dim(t(S::GuessMark)))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {}  {}{}{}",
                pad(&target(f), width),
                mark,
                clean(f.title.get(lang)),
                guess
            );
            let _ = writeln!(
                out,
                "  {}  {}",
                pad("", width),
                p.dim(&format!("{} [{}]", f.rule_id, f.controls.join(", ")))
            );
        }
    }

    // Controls that need action.
    let mut controls: Vec<_> = a
        .controls
        .iter()
        .filter(|c| matches!(c.status, ControlStatus::Fail | ControlStatus::Partial))
        .collect();
    controls.sort_by(|x, y| {
        status_rank(x.status)
            .cmp(&status_rank(y.status))
            .then_with(|| super::natural_cmp(&x.id, &y.id))
    });
    if !controls.is_empty() {
        let _ = writeln!(out, "\n{}", p.bold(&rule(t(S::ControlsNeedingAction))));
        let idw = controls
            .iter()
            .map(|c| UnicodeWidthStr::width(c.id.as_str()))
            .max()
            .unwrap_or(0);
        let stw = controls
            .iter()
            .map(|c| UnicodeWidthStr::width(status_label(c.status).get(lang)))
            .max()
            .unwrap_or(0);
        for c in controls {
            let _ = writeln!(
                out,
                "  {}  {}  {} ({} {})",
                p.status(c.status, &pad(status_label(c.status).get(lang), stw)),
                pad(&c.id, idw),
                clean(c.title.get(lang)),
                c.finding_count,
                t(S::FindingsUnit)
            );
            for f in findings.iter().filter(|f| f.controls.contains(&c.id)) {
                let _ = writeln!(
                    out,
                    "  {}  {}  - {} {}",
                    pad("", stw),
                    pad("", idw),
                    target(f),
                    p.dim(&clean(f.title.get(lang)))
                );
            }
        }
    }
    let notices = super::notices(input);
    if !notices.is_empty() {
        let _ = writeln!(out, "\n{}", rule(t(S::ScanNotes)));
        for n in notices {
            let (text, _) = super::notice_text(n, lang);
            let subject = n
                .subject
                .as_deref()
                .map(|s| format!(" ({})", clean(s)))
                .unwrap_or_default();
            let _ = writeln!(out, "  * {}{}", clean(&text), subject);
        }
    }
    if !a.rule_errors.is_empty() {
        let _ = writeln!(out, "\n{}", rule(t(S::RuleErrors)));
        for e in &a.rule_errors {
            let _ = writeln!(out, "  ! {}", clean(e));
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
