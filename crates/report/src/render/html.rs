//! One self-contained HTML file: no script, no external asset, a Content-Security-Policy
//! that forbids both, print-friendly CSS and a small inline SVG chart.
//!
//! Every string that is not a literal of this file goes through [`esc`]: host names, titles,
//! product strings and evidence all came off the network (or from a user's own rules).
//! Element ids are made from indexes, never from such text.

use std::fmt::Write as _;

use clinicscan_model::{CellState, ControlStatus, Lang, Severity, VantageState};

use super::view::{Change, ChangeItems, Changes, FindingRow, HostRow, View};
use super::{ReportInput, fmt_time, sev_label, status_label};
use crate::strings::S;

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than newline and tab have no business in a report.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn sev_class(s: Severity) -> &'static str {
    s.as_str()
}

fn status_class(s: ControlStatus) -> &'static str {
    match s {
        ControlStatus::Fail => "fail",
        ControlStatus::Pass => "pass",
        ControlStatus::NotVerified => "notver",
        ControlStatus::NotAssessableByScan => "na",
    }
}

const CSS: &str = r#"
:root{--ink:#1d2433;--muted:#5b6475;--line:#d9dee7;--bg:#f4f6f9;--card:#fff;--accent:#0b5cad;
--critical:#8b0f1a;--high:#d1342f;--medium:#e08a00;--low:#2f7fb8;--info:#7a8392;
--pass:#1f7a3a;--fail:#c62828;--notver:#c77700;--na:#9aa1ad}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.6 "Noto Sans CJK JP","Noto Sans JP","Hiragino Kaku Gothic ProN","Yu Gothic",Meiryo,system-ui,sans-serif}
header.top{background:#13294b;color:#fff;padding:20px 0 18px}
header.top .wrap{max-width:1120px;margin:0 auto;padding:0 24px}
header.top .brand{font-size:12px;letter-spacing:.12em;text-transform:uppercase;opacity:.75}
header.top h1{margin:4px 0 10px;font-size:22px;font-weight:700}
dl.meta{display:grid;grid-template-columns:repeat(2,max-content minmax(12em,max-content));justify-content:start;gap:2px 16px;margin:0;font-size:13px}
dl.meta dt{opacity:.7}dl.meta dd{margin:0 32px 0 0}
main{max-width:1120px;margin:0 auto;padding:8px 24px 32px}
nav.toc{background:#fff;border-bottom:1px solid var(--line);padding:8px 0;font-size:13px;position:sticky;top:0;z-index:1}
nav.toc a{margin-left:max(24px,calc((100% - 1120px)/2 + 24px))}nav.toc a+a{margin-left:20px}
h2{font-size:18px;margin:28px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--accent)}
h3{font-size:15px;margin:18px 0 8px}
section{break-inside:auto}
section,.finding,.host{scroll-margin-top:48px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:10px;margin:8px 0 16px}
.card{background:var(--card);border:1px solid var(--line);border-top:5px solid var(--c);border-radius:6px;padding:10px 14px}
.card .n{font-size:28px;font-weight:700;color:var(--c);line-height:1.2}
.card .l{font-size:12px;color:var(--muted)}
.grid2{display:grid;grid-template-columns:1.2fr 1fr;gap:16px;align-items:start}
.panel{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 16px}
.panel h3{margin-top:0}
table{border-collapse:collapse;width:100%;background:var(--card)}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600;font-size:12px;color:var(--muted)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
#controls td.mono{white-space:nowrap}
.finding table.ev td{word-break:break-all}
.kv td:first-child{color:var(--muted);width:55%}
.badge{display:inline-block;min-width:3.2em;text-align:center;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:var(--c);white-space:nowrap}
.critical{--c:var(--critical)}.high{--c:var(--high)}.medium{--c:var(--medium)}.low{--c:var(--low)}.info{--c:var(--info)}
.st-fail{--c:var(--fail)}.st-notver{--c:var(--notver)}.st-pass{--c:var(--pass)}.st-na{--c:var(--na)}
.tag-new{display:inline-block;padding:0 6px;border-radius:3px;background:#fde68a;color:#6b4700;font-size:11px;font-weight:700;margin-right:4px}
.tag-guess{display:inline-block;padding:0 6px;border-radius:3px;background:#e5e7eb;color:#374151;font-size:11px;margin-left:6px}
.changes{border-left:5px solid var(--accent);margin-top:16px}
.changes ul{margin:4px 0 0;padding-left:20px}
ol.urgent{margin:0;padding-left:22px}ol.urgent li{margin:3px 0}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
code,.mono{font-family:"Noto Sans Mono CJK JP","DejaVu Sans Mono",Consolas,monospace;font-size:12.5px}
.ctl-findings{margin:2px 0 0;padding-left:18px;font-size:13px}
.ctl-missing,.ctl-checked{margin:4px 0 0;padding-left:18px;font-size:12.5px}
.ctl-missing li{list-style:"? ";color:var(--notver)}.ctl-checked li{list-style:"✓ ";color:var(--muted)}
table.matrix td,table.matrix th{text-align:center;padding:4px 8px}table.matrix th.from{text-align:left}
table.matrix td.c-violation{background:#fde8e8;color:var(--fail);font-weight:700}table.matrix td.c-allowed{background:#eef6ee}
table.matrix td.c-clean{color:var(--pass)}table.matrix td.c-notprobed{color:var(--na)}
table.matrix td .sym{display:block;font-size:1.2em}table.matrix td .lbl{display:block;font-size:.75em}
table.matrix td.c-notprobed{background:repeating-linear-gradient(45deg,#fff,#fff 4px,#f2f2f2 4px,#f2f2f2 8px)}
table.matrix td.c-violation{border:2px solid var(--fail)}
table.vantages tr.v-missing td,table.vantages tr.v-stale td{color:var(--fail);font-weight:700}table.vantages tr.v-never td{color:var(--na)}
.host{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:12px 0;break-inside:avoid-page}
.host h3{margin:0 0 4px;font-size:16px}.host .names{color:var(--muted);font-weight:400;font-size:13px;margin-left:8px}
.host dl{display:flex;flex-wrap:wrap;gap:2px 18px;margin:0 0 8px;font-size:12.5px;color:var(--muted)}
.host dl dd{margin:0 0 0 4px;color:var(--ink)}.host dl div{display:flex}
.finding{border:1px solid var(--line);border-left:5px solid var(--c);border-radius:4px;padding:8px 12px;margin:10px 0;break-inside:avoid}
.finding .fh{font-weight:600}.finding .tgt{color:var(--muted);font-weight:400;margin-left:6px}
.finding p{margin:4px 0;white-space:pre-line}
.finding .remed{background:#f0f6ff;border-radius:4px;padding:6px 10px;margin-top:6px;white-space:pre-line}
.finding .remed b{display:block;font-size:12px;color:var(--accent)}
.finding table.ev{margin:6px 0;font-size:12.5px}.finding table.ev td:first-child{width:40%}.finding table.ev td{padding:3px 8px}
.refs{font-size:12px;color:var(--muted)}
.muted{color:var(--muted)}
footer{max-width:1120px;margin:0 auto;padding:12px 24px 40px;font-size:12px;color:var(--muted)}
@media screen and (max-width:800px){.cards{grid-template-columns:repeat(3,1fr)}.grid2{grid-template-columns:1fr}dl.meta{grid-template-columns:max-content 1fr}}
@media print{body{background:#fff;font-size:11pt}nav.toc{display:none}header.top{background:#fff;color:var(--ink);border-bottom:3px solid #13294b;padding:0 0 8px}
main,footer,header.top .wrap{max-width:none;padding:0}.card,.panel,.host{border-color:#bbb}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}a{color:var(--ink)}h2{break-after:avoid}
@page{size:A4;margin:14mm 12mm}}
"#;

pub(crate) fn render(input: &ReportInput<'_>) -> String {
    let v = View::of(input);
    let lang = v.lang;
    let t = |s: S| esc(s.get(lang));
    let a = v.assessment;
    let mut o = String::with_capacity(64 * 1024);

    let html_lang = match lang {
        Lang::Ja => "ja",
        Lang::En => "en",
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"{html_lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"generator\" content=\"clinicscan {}\">\n<title>{}{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&a.tool_version),
        t(S::ReportTitle),
        a.site
            .as_deref()
            .map(|s| format!(" — {}", esc(s)))
            .unwrap_or_default(),
    );

    // ------------------------------------------------------------ header
    let _ = write!(
        o,
        "<header class=\"top\"><div class=\"wrap\"><div class=\"brand\">clinicscan</div><h1>{}</h1><dl class=\"meta\">",
        t(S::ReportTitle)
    );
    let mut meta = |k: S, value: String| {
        let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", t(k), value);
    };
    meta(
        S::Site,
        a.site.as_deref().map(esc).unwrap_or_else(|| t(S::NotSet)),
    );
    meta(S::ScanStarted, esc(&fmt_time(v.started)));
    meta(
        S::VantageZone,
        v.vantage_zones
            .as_deref()
            .map(esc)
            .unwrap_or_else(|| t(S::NotSet)),
    );
    meta(S::Editions, esc(&a.editions.join(", ")));
    meta(S::HostsUp, v.hosts.len().to_string());
    meta(S::Generated, esc(&fmt_time(a.generated)));
    o.push_str("</dl></div></header>\n");
    let has_notes = !v.notices.is_empty() || !a.rule_errors.is_empty();
    let _ = write!(
        o,
        "<nav class=\"toc\"><a href=\"#summary\">{}</a><a href=\"#controls\">{}</a>{}<a href=\"#hosts\">{}</a>{}</nav>\n<main>\n",
        t(S::Summary),
        t(S::ByControl),
        if v.matrix.is_some() {
            format!(
                "{}<a href=\"#coverage\">{}</a>",
                if v.vantages.is_empty() {
                    String::new()
                } else {
                    format!("<a href=\"#vantages\">{}</a>", t(S::Vantages))
                },
                t(S::CoverageShort)
            )
        } else {
            String::new()
        },
        t(S::ByHost),
        if has_notes {
            format!("<a href=\"#notes\">{}</a>", t(S::ScanNotes))
        } else {
            String::new()
        }
    );

    // ------------------------------------------------------------ summary
    let _ = write!(
        o,
        "<section id=\"summary\">\n<h2>{}</h2>\n<div class=\"cards\">",
        t(S::Summary)
    );
    for sev in Severity::ALL {
        let _ = write!(
            o,
            "<div class=\"card {}\"><div class=\"n\">{}</div><div class=\"l\">{}</div></div>",
            sev_class(sev),
            a.counts.get(sev),
            t(sev_label(sev))
        );
    }
    o.push_str("</div>\n<div class=\"grid2\">\n");
    // Chart.
    let _ = writeln!(
        o,
        "<div class=\"panel\"><h3>{}</h3>{}</div>",
        t(S::FindingsBySeverity),
        chart(input)
    );
    // Controls summary.
    let _ = write!(
        o,
        "<div class=\"panel\"><h3>{}</h3><table class=\"kv\">",
        t(S::Controls)
    );
    for (st, n) in v.control_counts {
        let _ = write!(
            o,
            "<tr><td><span class=\"badge st-{}\">{}</span></td><td class=\"num\">{}</td></tr>",
            status_class(st),
            t(status_label(st)),
            n
        );
    }
    let services: usize = v.hosts.iter().map(|h| h.services.len()).sum();
    let _ = write!(
        o,
        "<tr><td>{}</td><td class=\"num\">{}</td></tr><tr><td>{}</td><td class=\"num\">{}</td></tr></table></div>\n</div>\n",
        t(S::HostsUp),
        v.hosts.len(),
        t(S::OpenServices),
        services
    );

    // Changes since the last scan.
    if let Some(changes) = &v.changes {
        changes_panel(&mut o, changes, lang);
    }

    // Most urgent.
    let urgent: Vec<(usize, &FindingRow<'_>)> = v
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.finding.severity >= Severity::High)
        .take(10)
        .collect();
    let _ = write!(o, "<h3>{}</h3>", t(S::MostUrgent));
    if urgent.is_empty() {
        let _ = write!(o, "<p class=\"muted\">{}</p>", t(S::NothingUrgent));
    } else {
        o.push_str("<ol class=\"urgent\">");
        for (i, f) in urgent {
            let _ = write!(
                o,
                "<li>{} {}<a href=\"#{}\">{}</a> <span class=\"mono muted\">{}</span></li>",
                badge(f),
                new_tag(f, lang),
                anchor(i),
                esc(f.title),
                esc(&f.target)
            );
        }
        o.push_str("</ol>");
    }
    o.push_str("\n</section>\n");

    // ------------------------------------------------------------ by control
    let _ = write!(
        o,
        "<section id=\"controls\">\n<h2>{}</h2>\n<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th class=\"num\">{}</th></tr></thead><tbody>",
        t(S::ByControl),
        t(S::Status),
        t(S::ControlId),
        t(S::ControlTitle),
        t(S::Findings)
    );
    for c in &v.controls {
        let _ = write!(
            o,
            "<tr><td><span class=\"badge st-{}\">{}</span></td><td class=\"mono\">{}</td><td>{}<div class=\"refs\">{}</div>",
            status_class(c.control.status),
            esc(c.status),
            esc(&c.control.id),
            esc(c.title),
            esc(&c.control.source)
        );
        if !c.missing.is_empty() {
            o.push_str("<ul class=\"ctl-missing\">");
            for m in &c.missing {
                let _ = write!(o, "<li>{}</li>", esc(m));
            }
            o.push_str("</ul>");
        }
        if c.control.status == ControlStatus::Pass && !c.checked.is_empty() {
            o.push_str("<ul class=\"ctl-checked\">");
            for line in &c.checked {
                let _ = write!(o, "<li class=\"mono\">{}</li>", esc(line));
            }
            o.push_str("</ul>");
        }
        if !c.findings.is_empty() {
            o.push_str("<ul class=\"ctl-findings\">");
            for &i in &c.findings {
                let f = &v.findings[i];
                let _ = write!(
                    o,
                    "<li>{} <a href=\"#{}\">{}</a> <span class=\"mono muted\">{}</span></li>",
                    badge(f),
                    anchor(i),
                    esc(f.title),
                    esc(&f.target)
                );
            }
            o.push_str("</ul>");
        }
        let _ = write!(
            o,
            "</td><td class=\"num\">{}</td></tr>",
            c.control.finding_count
        );
    }
    o.push_str("</tbody></table>\n</section>\n");

    // ------------------------------------------------------------ vantage zones
    if !v.vantages.is_empty() {
        let _ = write!(
            o,
            "<section id=\"vantages\">\n<h2>{}</h2>\n<table class=\"vantages\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            t(S::Vantages),
            t(S::VantageZoneHead),
            t(S::VantageKind),
            t(S::VantageStateHead),
            t(S::VantageScan)
        );
        for l in &v.vantages {
            let class = match l.state {
                VantageState::Current => "v-current",
                VantageState::Stale => "v-stale",
                VantageState::NeverScanned if l.expected => "v-missing",
                VantageState::NeverScanned => "v-never",
            };
            let _ = write!(
                o,
                "<tr class=\"{class}\"><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                esc(l.zone),
                esc(l.kind),
                esc(l.label),
                esc(&l.scan)
            );
        }
        o.push_str("</tbody></table>\n</section>\n");
    }

    // ------------------------------------------------------------ zone × zone
    if let Some(m) = &v.matrix {
        let _ = write!(
            o,
            "<section id=\"coverage\">\n<h2>{}</h2>\n<table class=\"matrix\"><thead><tr><th></th>",
            t(S::Coverage)
        );
        for z in &m.zones {
            let _ = write!(o, "<th class=\"mono\">{}</th>", esc(z));
        }
        o.push_str("</tr></thead><tbody>");
        for row in &m.rows {
            let _ = write!(o, "<tr><th class=\"from mono\">{}</th>", esc(row.from));
            for (z, cell) in m.zones.iter().zip(&row.cells) {
                match cell {
                    Some(c) => {
                        let class = match c.state {
                            CellState::ProbedClean => "c-clean",
                            CellState::AllowedBySite => "c-allowed",
                            CellState::Violation => "c-violation",
                            CellState::NotProbed => "c-notprobed",
                        };
                        // The symbol and the state in words: readable in print and
                        // without colour.
                        let _ = write!(
                            o,
                            "<td class=\"{class}\" title=\"{}{}\"><span class=\"sym\">{}</span><span class=\"lbl\">{}</span></td>",
                            esc(c.label),
                            if c.detail.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", esc(&c.detail))
                            },
                            c.symbol,
                            esc(c.label)
                        );
                    }
                    None if *z == row.from => o.push_str("<td class=\"muted\">-</td>"),
                    None => o.push_str("<td></td>"),
                }
            }
            o.push_str("</tr>");
        }
        let _ = write!(
            o,
            "</tbody></table>\n<p class=\"refs\">{}</p>\n",
            t(S::CoverageLegend)
        );
        for row in &m.rows {
            for (z, cell) in m.zones.iter().zip(&row.cells) {
                if let Some(c) = cell
                    && c.state == CellState::Violation
                {
                    let _ = write!(
                        o,
                        "<p class=\"refs mono\">✗ {} → {}: {}</p>",
                        esc(row.from),
                        esc(z),
                        esc(&c.detail)
                    );
                }
            }
        }
        o.push_str("</section>\n");
    }

    // ------------------------------------------------------------ by host
    let _ = write!(o, "<section id=\"hosts\">\n<h2>{}</h2>\n", t(S::ByHost));
    if v.hosts.is_empty() {
        let _ = write!(o, "<p class=\"muted\">{}</p>", t(S::NoHosts));
    }
    for (i, h) in v.hosts.iter().enumerate() {
        host_block(&mut o, &v, h, i);
    }
    o.push_str("</section>\n");

    // ------------------------------------------------------------ notices, rule errors
    if has_notes {
        let _ = write!(
            o,
            "<section id=\"notes\">\n<h2>{}</h2><ul>",
            t(S::ScanNotes)
        );
        for n in &v.notices {
            let _ = write!(
                o,
                "<li>{}{}{}</li>",
                esc(n.text),
                n.subject
                    .map(|s| format!(" <span class=\"mono\">({})</span>", esc(s)))
                    .unwrap_or_default(),
                n.detail
                    .map(|d| format!("<div class=\"refs\">{}</div>", esc(d)))
                    .unwrap_or_default()
            );
        }
        for e in &a.rule_errors {
            let _ = write!(o, "<li>{}: {}</li>", t(S::RuleErrors), esc(e));
        }
        o.push_str("</ul>\n</section>\n");
    }

    let data = if v.data.is_empty() {
        String::new()
    } else {
        format!(
            "<p>{}: <span class=\"mono\">{}</span></p>",
            t(S::DataUsed),
            v.data
                .iter()
                .map(|d| esc(d))
                .collect::<Vec<_>>()
                .join(" · ")
        )
    };
    let _ = write!(
        o,
        "</main>\n<footer><p>{}</p>{data}<p>{} clinicscan {} · {}</p></footer>\n</body>\n</html>\n",
        t(S::Disclaimer),
        t(S::GeneratedBy),
        esc(&a.tool_version),
        esc(&fmt_time(a.generated))
    );
    o
}

/// The element id of the finding at `index` in display order.
fn anchor(index: usize) -> String {
    format!("f-{}", index + 1)
}

/// The "new" tag of a finding new since the previous scan, else nothing.
fn new_tag(f: &FindingRow<'_>, lang: Lang) -> String {
    if f.new {
        format!(
            "<span class=\"tag-new\">{}</span>",
            esc(S::NewMarkPlain.get(lang))
        )
    } else {
        String::new()
    }
}

/// The severity badge of a finding.
fn badge(f: &FindingRow<'_>) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        sev_class(f.finding.severity),
        esc(f.severity)
    )
}

fn changes_panel(o: &mut String, changes: &Changes<'_>, lang: Lang) {
    let t = |s: S| esc(s.get(lang));
    let _ = write!(
        o,
        "<div class=\"panel changes\" id=\"changes\"><h3>{} <span class=\"muted\">({} {})</span></h3>",
        t(S::ChangesSinceLast),
        t(S::PreviousScan),
        esc(&fmt_time(changes.diff.from.started))
    );
    let counts: Vec<String> = changes
        .counts
        .iter()
        .map(|(label, n)| format!("<b>{}</b> {n}", esc(label)))
        .collect();
    let _ = write!(o, "<p>{}</p>", counts.join(" · "));
    let mut items = String::new();
    for section in &changes.sections {
        let label = esc(section.label);
        let sign = if section.kind == Change::Gone {
            '−'
        } else {
            '+'
        };
        match (&section.items, section.kind) {
            (ChangeItems::Findings(findings), Change::New) => {
                for f in findings {
                    let _ = write!(
                        items,
                        "<li><span class=\"tag-new\">{}</span>{} {} <span class=\"mono\">{}</span></li>",
                        t(S::NewMarkPlain),
                        badge(f),
                        esc(f.title),
                        esc(&f.target)
                    );
                }
            }
            (ChangeItems::Findings(findings), Change::Resolved) => {
                for f in findings {
                    let _ = write!(
                        items,
                        "<li>✓ {label}: {} <span class=\"mono\">{}</span></li>",
                        esc(f.title),
                        esc(&f.target)
                    );
                }
            }
            (ChangeItems::Findings(_), _) => {}
            (ChangeItems::NotRechecked(rows), _) => {
                for c in rows {
                    let _ = write!(
                        items,
                        "<li>? {label}: {} {} <span class=\"mono\">{}</span> — {} <span class=\"muted\">({})</span></li>",
                        badge(&c.row),
                        esc(c.row.title),
                        esc(&c.row.target),
                        esc(&c.reason),
                        esc(&c.confirmed(lang))
                    );
                }
                if !rows.is_empty() {
                    let _ = write!(items, "<li class=\"muted\">{}</li>", t(S::NotRecheckedNote));
                }
            }
            (ChangeItems::Hosts(hosts), _) => {
                for h in *hosts {
                    let _ = write!(
                        items,
                        "<li>{sign} {label} <span class=\"mono\">{h}</span></li>"
                    );
                }
            }
            (ChangeItems::Services(services), _) => {
                for s in services {
                    let _ = write!(
                        items,
                        "<li>{sign} {label} <span class=\"mono\">{}</span> {}</li>",
                        s.at,
                        esc(s.name.unwrap_or(""))
                    );
                }
            }
        }
    }
    if items.is_empty() {
        let _ = write!(o, "<p class=\"muted\">{}</p>", t(S::NoChanges));
    } else {
        let _ = write!(o, "<ul>{items}</ul>");
    }
    o.push_str("</div>\n");
}

fn host_block(o: &mut String, v: &View<'_>, h: &HostRow<'_>, index: usize) {
    let t = |s: S| esc(s.get(v.lang));
    let _ = write!(
        o,
        "<article class=\"host\" id=\"h-{}\"><h3><span class=\"mono\">{}</span>{}{}</h3><dl>",
        index + 1,
        h.address,
        if h.names.is_empty() {
            String::new()
        } else {
            format!("<span class=\"names\">{}</span>", esc(&h.names.join(", ")))
        },
        h.worst
            .map(|s| format!(
                " <span class=\"badge {}\">{}</span>",
                sev_class(s),
                t(sev_label(s))
            ))
            .unwrap_or_default()
    );
    let mut dd = |k: S, value: Option<String>| {
        if let Some(value) = value {
            let _ = write!(o, "<div><dt>{}:</dt><dd>{}</dd></div>", t(k), value);
        }
    };
    dd(S::Zone, h.zone.map(esc));
    dd(
        S::Mac,
        h.mac
            .map(|m| format!("<span class=\"mono\">{}</span>", esc(m))),
    );
    dd(S::Vendor, h.vendor.map(esc));
    if let Some(seen) = h.seen {
        dd(S::FirstSeen, Some(esc(&fmt_time(seen.first_seen))));
        dd(S::LastSeen, Some(esc(&fmt_time(seen.last_seen))));
    }
    o.push_str("</dl>");
    if h.services.is_empty() {
        let _ = write!(o, "<p class=\"muted\">{}</p>", t(S::NoOpenServices));
    } else {
        let _ = write!(
            o,
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            t(S::Port),
            t(S::Service),
            t(S::Product)
        );
        for s in &h.services {
            let _ = write!(
                o,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
                s.port,
                esc(&s.name),
                s.product.as_deref().map(esc).unwrap_or_default()
            );
        }
        o.push_str("</tbody></table>");
    }
    for &i in &h.findings {
        let f = &v.findings[i];
        let _ = write!(
            o,
            "<div class=\"finding {}\" id=\"{}\"><div class=\"fh\">{} {}{}<span class=\"tgt mono\">{}</span>{}</div>",
            sev_class(f.finding.severity),
            anchor(i),
            badge(f),
            new_tag(f, v.lang),
            esc(f.title),
            esc(&f.target),
            if f.guess {
                format!("<span class=\"tag-guess\">{}</span>", t(S::GuessLabel))
            } else {
                String::new()
            }
        );
        if !f.description.is_empty() {
            let _ = write!(o, "<p>{}</p>", esc(f.description));
        }
        if !f.finding.evidence.is_empty() {
            let _ = write!(
                o,
                "<table class=\"ev\"><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>",
                t(S::Evidence),
                t(S::Value)
            );
            for e in &f.finding.evidence {
                let _ = write!(
                    o,
                    "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                    esc(&e.key),
                    esc(&e.value)
                );
            }
            o.push_str("</tbody></table>");
        }
        let _ = write!(
            o,
            "<div class=\"remed\"><b>{}</b>{}</div><div class=\"refs\">{}: <span class=\"mono\">{}</span> · {}: <span class=\"mono\">{}</span></div></div>",
            t(S::Remediation),
            esc(f.remediation),
            t(S::Rule),
            esc(&f.finding.rule_id),
            t(S::Controls),
            esc(&f.finding.controls.join(", "))
        );
    }
    o.push_str("</article>\n");
}

/// A horizontal bar chart of the counts by severity, as inline SVG.
fn chart(input: &ReportInput<'_>) -> String {
    let a = input.assessment;
    let lang = input.lang;
    let max = Severity::ALL
        .iter()
        .map(|&s| a.counts.get(s))
        .max()
        .unwrap_or(0)
        .max(1);
    let (label_w, bar_w, row_h) = (64u32, 300u32, 26u32);
    let height = row_h * 5 + 6;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"100%\" viewBox=\"0 0 {} {}\" aria-label=\"{}\">",
        label_w + bar_w + 44,
        height,
        esc(S::FindingsBySeverity.get(lang))
    );
    for (i, sev) in Severity::ALL.iter().enumerate() {
        let n = a.counts.get(*sev);
        let y = 4 + row_h * i as u32;
        let w = if n == 0 {
            2
        } else {
            (u64::from(n) * u64::from(bar_w) / u64::from(max)).max(4) as u32
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\" fill=\"#5b6475\">{}</text>\
<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" style=\"fill:var(--c)\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"12\" font-weight=\"600\" fill=\"#1d2433\">{}</text>",
            label_w - 8,
            y + 16,
            esc(sev_label(*sev).get(lang)),
            sev_class(*sev),
            label_w,
            y + 3,
            w,
            row_h - 8,
            label_w + w + 6,
            y + 16,
            n
        );
    }
    s.push_str("</svg>");
    s
}
