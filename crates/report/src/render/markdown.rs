//! Markdown: summary, changes, findings by severity with evidence and remediation, controls.
//!
//! Text from the network is escaped so it cannot open a link, an image, raw HTML or break a
//! table: Markdown punctuation gets a backslash, `<` and `>` become entities, and line
//! breaks inside table cells become spaces.

use std::fmt::Write as _;

use clinicscan_model::{CellState, ControlStatus, Severity};

use super::view::{Change, ChangeItems, View};
use super::{ReportInput, fmt_time, sev_label, status_label};
use crate::strings::S;

/// Escapes inline Markdown (also safe inside a table cell): emphasis, code, link and
/// table punctuation everywhere, raw HTML as entities, and what would start a heading, a
/// list or a quote at the start of the text. Line breaks become spaces.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    // Block syntax only counts at the start of a line, and the text may start one.
    let lead = out.len() - out.trim_start().len();
    let rest = &out[lead..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if rest.starts_with(['#', '-', '+', '=']) {
        out.insert(lead, '\\');
    } else if digits > 0 && rest[digits..].starts_with(['.', ')']) {
        out.insert(lead + digits, '\\');
    }
    out
}

/// Text inside a code span: backticks cannot be escaped there, so they are replaced.
fn code(s: &str) -> String {
    let inner: String = s
        .chars()
        .map(|c| if c == '`' || c.is_control() { '\'' } else { c })
        .map(|c| if c == '|' { '¦' } else { c })
        .collect();
    format!("`{inner}`")
}

pub(crate) fn render(input: &ReportInput<'_>) -> String {
    let v = View::of(input);
    let lang = v.lang;
    let t = |s: S| s.get(lang);
    let a = v.assessment;
    let mut o = String::new();

    let _ = writeln!(o, "# {}\n", t(S::ReportTitle));
    if let Some(site) = &a.site {
        let _ = writeln!(o, "- **{}**: {}", t(S::Site), md(site));
    }
    let _ = writeln!(o, "- **{}**: {}", t(S::ScanStarted), fmt_time(v.started));
    if let Some(z) = &v.vantage_zones {
        let _ = writeln!(o, "- **{}**: {}", t(S::VantageZone), md(z));
    }
    let _ = writeln!(
        o,
        "- **{}**: {}",
        t(S::Editions),
        md(&a.editions.join(", "))
    );
    let _ = writeln!(o, "- **{}**: {}\n", t(S::Generated), fmt_time(a.generated));

    let _ = writeln!(o, "## {}\n", t(S::Summary));
    let _ = writeln!(o, "| {} | {} |\n|---|---:|", t(S::Severity), t(S::Findings));
    for sev in Severity::ALL {
        let _ = writeln!(o, "| {} | {} |", t(sev_label(sev)), a.counts.get(sev));
    }
    let _ = writeln!(o, "\n| {} | {} |\n|---|---:|", t(S::Status), t(S::Controls));
    for (st, n) in v.control_counts {
        let _ = writeln!(o, "| {} | {} |", t(status_label(st)), n);
    }
    o.push('\n');

    if let Some(changes) = &v.changes {
        let _ = writeln!(
            o,
            "## {} ({} {})\n",
            t(S::ChangesSinceLast),
            t(S::PreviousScan),
            fmt_time(changes.diff.from.started)
        );
        let _ = writeln!(o, "{}\n", changes.counts_joined(" · "));
        for section in &changes.sections {
            let label = section.label;
            match (&section.items, section.kind) {
                (ChangeItems::Findings(findings), Change::New) => {
                    for f in findings {
                        let _ = writeln!(
                            o,
                            "- **{}** {} {} {}",
                            t(S::NewMarkPlain),
                            f.severity,
                            md(f.title),
                            code(&f.target)
                        );
                    }
                }
                (ChangeItems::Findings(findings), Change::Resolved) => {
                    for f in findings {
                        let _ = writeln!(o, "- {label}: {} {}", md(f.title), code(&f.target));
                    }
                }
                (ChangeItems::Findings(_), _) => {}
                (ChangeItems::NotRechecked(rows), _) => {
                    for c in rows {
                        let _ = writeln!(
                            o,
                            "- {label}: {} {} {}: {} ({})",
                            c.row.severity,
                            md(c.row.title),
                            code(&c.row.target),
                            md(&c.reason),
                            md(&c.confirmed(v.lang))
                        );
                    }
                    if !rows.is_empty() {
                        let _ = writeln!(o, "- {}", md(t(S::NotRecheckedNote)));
                    }
                }
                (ChangeItems::Hosts(hosts), _) => {
                    for h in *hosts {
                        let _ = writeln!(o, "- {label} {}", code(&h.to_string()));
                    }
                }
                (ChangeItems::Services(services), _) => {
                    for s in services {
                        let _ =
                            writeln!(o, "- {label} {} {}", code(&s.at), md(s.name.unwrap_or("")));
                    }
                }
            }
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## {}\n", t(S::Findings));
    if v.findings.is_empty() {
        let _ = writeln!(o, "{}\n", t(S::NoFindings));
    }
    for (sev, group) in v.by_severity() {
        let _ = writeln!(o, "### {} ({})\n", t(sev_label(sev)), group.len());
        for f in group {
            let _ = writeln!(
                o,
                "#### {}{} — {}{}\n",
                if f.new {
                    format!("\\[{}\\] ", t(S::NewMarkPlain))
                } else {
                    String::new()
                },
                md(f.title),
                code(&f.target),
                if f.guess {
                    format!(" ({})", t(S::GuessLabel))
                } else {
                    String::new()
                }
            );
            if !f.description.is_empty() {
                let _ = writeln!(o, "{}\n", md(f.description));
            }
            for e in &f.finding.evidence {
                let _ = writeln!(o, "- {} = {}", code(&e.key), code(&e.value));
            }
            if !f.finding.evidence.is_empty() {
                o.push('\n');
            }
            let _ = writeln!(o, "**{}**: {}\n", t(S::Remediation), md(f.remediation));
            let _ = writeln!(
                o,
                "{}: {} · {}: {}\n",
                t(S::Rule),
                code(&f.finding.rule_id),
                t(S::Controls),
                md(&f.finding.controls.join(", "))
            );
        }
    }

    let _ = writeln!(o, "## {}\n", t(S::ByControl));
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} |\n|---|---|---|---:|",
        t(S::Status),
        t(S::ControlId),
        t(S::ControlTitle),
        t(S::Findings)
    );
    for c in &v.controls {
        // The source with its verification tag, then why the control has its status.
        let mut why = vec![format!(
            "{}: {}",
            t(S::ControlSource),
            md(&c.control.source)
        )];
        why.extend(c.missing.iter().map(|m| format!("? {}", md(m))));
        if c.control.status == ControlStatus::Pass {
            why.extend(c.checked.iter().map(|l| format!("✓ {}", md(l))));
        }
        let _ = writeln!(
            o,
            "| {} | {} | {}<br>{} | {} |",
            c.status,
            code(&c.control.id),
            md(c.title),
            why.join("<br>"),
            c.control.finding_count
        );
    }
    o.push('\n');

    if !v.vantages.is_empty() {
        let _ = writeln!(
            o,
            "## {}\n\n| {} | {} | {} | {} |\n|---|---|---|---|",
            t(S::Vantages),
            t(S::VantageZoneHead),
            t(S::VantageKind),
            t(S::VantageStateHead),
            t(S::VantageScan)
        );
        for l in &v.vantages {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                md(l.zone),
                md(l.kind),
                md(l.label),
                md(&l.scan)
            );
        }
        o.push('\n');
    }

    if let Some(m) = &v.matrix {
        let _ = writeln!(o, "## {}\n", t(S::Coverage));
        let mut head = String::from("| |");
        let mut rule = String::from("|---|");
        for z in &m.zones {
            head.push_str(&format!(" {} |", md(z)));
            rule.push_str(":---:|");
        }
        let _ = writeln!(o, "{head}\n{rule}");
        let mut details = Vec::new();
        for row in &m.rows {
            let mut line = format!("| **{}** |", md(row.from));
            for (z, cell) in m.zones.iter().zip(&row.cells) {
                let sym = match cell {
                    Some(c) => c.symbol,
                    None if *z == row.from => "-",
                    None => "",
                };
                line.push_str(&format!(" {sym} |"));
                if let Some(c) = cell
                    && c.state == CellState::Violation
                {
                    details.push(format!("{} → {}: {}", row.from, z, c.detail));
                }
            }
            let _ = writeln!(o, "{line}");
        }
        let _ = writeln!(o, "\n{}\n", md(t(S::CoverageLegend)));
        for d in details {
            let _ = writeln!(o, "- ✗ {}", md(&d));
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## {}\n", t(S::ByHost));
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} |\n|---|---|---|---:|",
        t(S::Address),
        t(S::Names),
        t(S::OpenServices),
        t(S::Findings)
    );
    for h in &v.hosts {
        let services: Vec<String> = h
            .services
            .iter()
            .map(|s| match &s.product {
                Some(p) => md(&format!("{} {} ({p})", s.port, s.name)),
                None => md(&format!("{} {}", s.port, s.name)),
            })
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            code(&h.address.to_string()),
            md(&h.names.join(", ")),
            services.join("<br>"),
            h.findings.len()
        );
    }
    if !v.notices.is_empty() {
        let _ = writeln!(o, "\n## {}\n", t(S::ScanNotes));
        for n in &v.notices {
            let subject = n
                .subject
                .map(|s| format!(" ({})", code(s)))
                .unwrap_or_default();
            let detail = n
                .detail
                .map(|d| format!(" — {}", md(d)))
                .unwrap_or_default();
            let _ = writeln!(o, "- {}{}{}", md(n.text), subject, detail);
        }
    }
    if !a.rule_errors.is_empty() {
        let _ = writeln!(o, "\n## {}\n", t(S::RuleErrors));
        for e in &a.rule_errors {
            let _ = writeln!(o, "- {}", md(e));
        }
    }
    if !v.data.is_empty() {
        let _ = writeln!(o, "\n## {}\n", t(S::DataUsed));
        for d in &v.data {
            let _ = writeln!(o, "- {}", md(d));
        }
    }
    let _ = writeln!(
        o,
        "\n---\n{} clinicscan {} · {}",
        t(S::GeneratedBy),
        md(&a.tool_version),
        fmt_time(a.generated)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn escapes_what_markdown_would_act_on() {
        assert_eq!(md("1. item"), "1\\. item");
        assert_eq!(md("  # heading"), "  \\# heading");
        assert_eq!(md("- list"), "\\- list");
        assert_eq!(md("[a](javascript:x)"), "\\[a\\](javascript:x)");
        assert_eq!(md("![i](http://e/x.png)"), "!\\[i\\](http://e/x.png)");
        assert_eq!(
            md("a|b *c* _d_ `e` ~f~"),
            "a\\|b \\*c\\* \\_d\\_ \\`e\\` \\~f\\~"
        );
        assert_eq!(md("<b>x</b> & y\nz"), "&lt;b&gt;x&lt;/b&gt; &amp; y z");
        assert_eq!(md("TLS 1.0 / 1.1 (port 443)"), "TLS 1.0 / 1.1 (port 443)");
        assert_eq!(md("2026"), "2026");
    }
}
