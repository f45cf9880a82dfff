//! Markdown: summary, changes, findings by severity with evidence and remediation, controls.
//!
//! Text from the network is escaped so it cannot open a link, an image, raw HTML or break a
//! table: Markdown punctuation gets a backslash, `<` and `>` become entities, and line
//! breaks inside table cells become spaces.

use std::fmt::Write as _;

use clinicscan_model::{Certainty, Severity};

use super::{
    NewKeys, ReportInput, control_counts, fmt_time, host_views, ordered_findings, product,
    service_name, sev_label, status_label, status_rank, target, transport_str, vantage_zones,
};
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
    let new = NewKeys::of(input.diff);
    let lang = input.lang;
    let t = |s: S| s.get(lang);
    let a = input.assessment;
    let mut o = String::new();

    let _ = writeln!(o, "# {}\n", t(S::ReportTitle));
    if let Some(site) = &a.site {
        let _ = writeln!(o, "- **{}**: {}", t(S::Site), md(site));
    }
    let started = crate::diff::scan_started(a, input.observations);
    let _ = writeln!(o, "- **{}**: {}", t(S::ScanStarted), fmt_time(started));
    if let Some(z) = vantage_zones(input) {
        let _ = writeln!(o, "- **{}**: {}", t(S::VantageZone), md(&z));
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
    for (st, n) in control_counts(a) {
        let _ = writeln!(o, "| {} | {} |", t(status_label(st)), n);
    }
    o.push('\n');

    if let Some(d) = input.diff {
        let _ = writeln!(
            o,
            "## {} ({} {})\n",
            t(S::ChangesSinceLast),
            t(S::PreviousScan),
            fmt_time(d.from.started)
        );
        let _ = writeln!(
            o,
            "{} {} · {} {} · {} {}\n",
            t(S::NewFindings),
            d.new_findings.len(),
            t(S::ResolvedFindings),
            d.resolved_findings.len(),
            t(S::UnchangedFindings),
            d.unchanged_findings.len()
        );
        for f in &d.new_findings {
            let _ = writeln!(
                o,
                "- **{}** {} {} {}",
                t(S::NewMarkPlain),
                t(sev_label(f.severity)),
                md(f.title.get(lang)),
                code(&target(f))
            );
        }
        for f in &d.resolved_findings {
            let _ = writeln!(
                o,
                "- {}: {} {}",
                t(S::ResolvedFindings),
                md(f.title.get(lang)),
                code(&target(f))
            );
        }
        for h in &d.hosts_appeared {
            let _ = writeln!(o, "- {} {}", t(S::HostAppeared), code(&h.to_string()));
        }
        for h in &d.hosts_vanished {
            let _ = writeln!(o, "- {} {}", t(S::HostVanished), code(&h.to_string()));
        }
        for s in &d.services_appeared {
            let _ = writeln!(
                o,
                "- {} {} {}",
                t(S::ServiceAppeared),
                code(&format!(
                    "{}:{}/{}",
                    s.host,
                    s.port,
                    transport_str(s.transport)
                )),
                md(s.name.as_deref().unwrap_or(""))
            );
        }
        for s in &d.services_vanished {
            let _ = writeln!(
                o,
                "- {} {} {}",
                t(S::ServiceVanished),
                code(&format!(
                    "{}:{}/{}",
                    s.host,
                    s.port,
                    transport_str(s.transport)
                )),
                md(s.name.as_deref().unwrap_or(""))
            );
        }
        o.push('\n');
    }

    let findings = ordered_findings(a);
    let _ = writeln!(o, "## {}\n", t(S::Findings));
    if findings.is_empty() {
        let _ = writeln!(o, "{}\n", t(S::NoFindings));
    }
    for sev in Severity::ALL {
        let group: Vec<_> = findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(o, "### {} ({})\n", t(sev_label(sev)), group.len());
        for f in group {
            let _ = writeln!(
                o,
                "#### {}{} — {}{}\n",
                if new.is_new(f) {
                    format!("\\[{}\\] ", t(S::NewMarkPlain))
                } else {
                    String::new()
                },
                md(f.title.get(lang)),
                code(&target(f)),
                if f.certainty == Certainty::Guess {
                    format!(" ({})", t(S::GuessLabel))
                } else {
                    String::new()
                }
            );
            let desc = f.description.get(lang);
            if !desc.is_empty() {
                let _ = writeln!(o, "{}\n", md(desc));
            }
            for e in &f.evidence {
                let _ = writeln!(o, "- {} = {}", code(&e.key), code(&e.value));
            }
            if !f.evidence.is_empty() {
                o.push('\n');
            }
            let _ = writeln!(
                o,
                "**{}**: {}\n",
                t(S::Remediation),
                md(f.remediation.get(lang))
            );
            let _ = writeln!(
                o,
                "{}: {} · {}: {}\n",
                t(S::Rule),
                code(&f.rule_id),
                t(S::Controls),
                md(&f.controls.join(", "))
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
    let mut controls: Vec<_> = a.controls.iter().collect();
    controls.sort_by(|x, y| {
        status_rank(x.status)
            .cmp(&status_rank(y.status))
            .then_with(|| super::natural_cmp(&x.id, &y.id))
    });
    for c in controls {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            t(status_label(c.status)),
            code(&c.id),
            md(c.title.get(lang)),
            c.finding_count
        );
    }
    o.push('\n');

    let _ = writeln!(o, "## {}\n", t(S::ByHost));
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} |\n|---|---|---|---:|",
        t(S::Address),
        t(S::Names),
        t(S::OpenServices),
        t(S::Findings)
    );
    for h in host_views(input) {
        let services: Vec<String> = h
            .services
            .iter()
            .map(|s| {
                let mut x = format!(
                    "{}/{} {}",
                    s.port,
                    transport_str(s.transport),
                    service_name(s)
                );
                if let Some(p) = product(s) {
                    x.push_str(&format!(" ({p})"));
                }
                md(&x)
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
    let notices = super::notices(input);
    if !notices.is_empty() {
        let _ = writeln!(o, "\n## {}\n", t(S::ScanNotes));
        for n in notices {
            let (text, detail) = super::notice_text(n, lang);
            let subject = n
                .subject
                .as_deref()
                .map(|s| format!(" ({})", code(s)))
                .unwrap_or_default();
            let detail = detail.map(|d| format!(" — {}", md(&d))).unwrap_or_default();
            let _ = writeln!(o, "- {}{}{}", md(&text), subject, detail);
        }
    }
    if !a.rule_errors.is_empty() {
        let _ = writeln!(o, "\n## {}\n", t(S::RuleErrors));
        for e in &a.rule_errors {
            let _ = writeln!(o, "- {}", md(e));
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
