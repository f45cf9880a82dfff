//! The fleet view of a shared store as text for a terminal or as one self-contained HTML
//! page (no scripts, no external assets), in Japanese or English. The JSON form is the
//! [`FleetReport`] itself, serialised.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, Utc};
use clinicscan_model::{Lang, Severity};
use clinicscan_store::{FleetReport, SitePosture};
use unicode_width::UnicodeWidthStr;

use crate::render::esc_html as esc;

/// How to render the fleet view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetFormat {
    /// Plain text for a terminal.
    Text,
    /// One self-contained HTML page.
    Html,
}

fn t(lang: Lang, ja: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

fn jst(time: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(9 * 3600) {
        Some(tz) => time
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M JST")
            .to_string(),
        None => time.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// "3日" / "3 d", "5時間" / "5 h": the age of a site's last scan.
fn age(seconds: i64, lang: Lang) -> String {
    let hours = seconds.max(0) / 3600;
    if hours >= 48 {
        format!("{}{}", hours / 24, t(lang, "日", " d"))
    } else {
        format!("{hours}{}", t(lang, "時間", " h"))
    }
}

fn sev_word(s: Severity, lang: Lang) -> &'static str {
    match s {
        Severity::Critical => t(lang, "重大", "critical"),
        Severity::High => t(lang, "高", "high"),
        Severity::Medium => t(lang, "中", "medium"),
        Severity::Low => t(lang, "低", "low"),
        Severity::Info => t(lang, "情報", "info"),
    }
}

/// Control characters never reach the terminal: a site name is data from a site file.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// Sites with the most serious posture first: stale ones, then by counts.
fn ordered(report: &FleetReport) -> Vec<&SitePosture> {
    let mut v: Vec<&SitePosture> = report.sites.iter().collect();
    v.sort_by(|a, b| {
        let key = |s: &SitePosture| {
            (
                s.counts.critical,
                s.counts.high,
                s.controls_failing.len(),
                s.counts.medium,
            )
        };
        key(b).cmp(&key(a)).then_with(|| a.site_id.cmp(&b.site_id))
    });
    v
}

/// Renders the fleet view; `top` bounds the list of shared findings.
pub fn render_fleet(report: &FleetReport, format: FleetFormat, lang: Lang, top: usize) -> String {
    match format {
        FleetFormat::Text => text(report, lang, top),
        FleetFormat::Html => html(report, lang, top),
    }
}

fn text(report: &FleetReport, lang: Lang, top: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} — {} {} ({})",
        t(lang, "clinicscan 拠点一覧", "clinicscan fleet"),
        report.sites.len(),
        t(lang, "拠点", "sites"),
        jst(report.generated)
    );
    let header = [
        t(lang, "拠点ID", "SITE"),
        t(lang, "名称", "NAME"),
        t(lang, "最終スキャン", "LAST SCAN"),
        t(lang, "経過", "AGE"),
        t(lang, "重大", "CRIT"),
        t(lang, "高", "HIGH"),
        t(lang, "中", "MED"),
        t(lang, "低", "LOW"),
        t(lang, "情報", "INFO"),
        t(lang, "不適合", "FAILING"),
        t(lang, "ゾーン", "ZONES"),
    ];
    let rows: Vec<[String; 11]> = ordered(report)
        .into_iter()
        .map(|p| {
            [
                one_line(&p.site_id),
                one_line(p.site.as_deref().unwrap_or("-")),
                jst(p.last_scan),
                format!(
                    "{}{}",
                    age(p.age_seconds, lang),
                    if p.stale { " !" } else { "" }
                ),
                p.counts.critical.to_string(),
                p.counts.high.to_string(),
                p.counts.medium.to_string(),
                p.counts.low.to_string(),
                p.counts.info.to_string(),
                p.controls_failing.len().to_string(),
                one_line(&p.vantage_zones.join(",")),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| UnicodeWidthStr::width(*h)).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(UnicodeWidthStr::width(c.as_str()));
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            l.push_str(&pad(c, widths[i] + 2));
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(s, "\n{}", line(header.to_vec()));
    for r in &rows {
        let _ = writeln!(s, "{}", line(r.iter().map(String::as_str).collect()));
    }
    let stale: Vec<&SitePosture> = report.sites.iter().filter(|p| p.stale).collect();
    let _ = writeln!(
        s,
        "\n{} ({} {}):",
        t(lang, "スキャンが途絶えた拠点", "Sites not scanned recently"),
        report.stale_after_days,
        t(lang, "日以上", "days or more")
    );
    if stale.is_empty() {
        let _ = writeln!(s, "  {}", t(lang, "なし", "none"));
    }
    for p in stale {
        let _ = writeln!(
            s,
            "  {}  {}  {}",
            one_line(&p.site_id),
            jst(p.last_scan),
            age(p.age_seconds, lang)
        );
    }
    let _ = writeln!(
        s,
        "\n{}:",
        t(
            lang,
            "多くの拠点に共通する検出",
            "Findings most sites share"
        )
    );
    if report.common_findings.is_empty() {
        let _ = writeln!(s, "  {}", t(lang, "なし", "none"));
    }
    for f in report.common_findings.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:>4} {}  [{}] {}  {}",
            f.sites,
            t(lang, "拠点", "sites"),
            sev_word(f.severity, lang),
            one_line(&f.rule_id),
            one_line(f.title.get(lang))
        );
    }
    s
}

fn html(report: &FleetReport, lang: Lang, top: usize) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\">\
<title>{}</title><style>\
body{{font-family:'Noto Sans CJK JP','Hiragino Sans',Meiryo,sans-serif;color:#1d2433;margin:24px;line-height:1.5}}\
table{{border-collapse:collapse;width:100%;font-size:14px}}th,td{{border-bottom:1px solid #d8dde6;padding:4px 8px;text-align:left}}\
th{{background:#f2f4f8}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}\
.crit{{color:#fff;background:#a8071a}}.high{{color:#fff;background:#d4380d}}.stale{{color:#a8071a;font-weight:bold}}\
.muted{{color:#667}}@media print{{body{{margin:0}}}}</style></head><body>",
        match lang {
            Lang::Ja => "ja",
            Lang::En => "en",
        },
        esc(t(lang, "clinicscan 拠点一覧", "clinicscan fleet"))
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"muted\">{} {} · {} {}</p>",
        esc(t(lang, "拠点一覧", "Fleet")),
        report.sites.len(),
        esc(t(lang, "拠点", "sites")),
        esc(t(lang, "作成", "generated")),
        esc(&jst(report.generated))
    );
    let _ = write!(
        h,
        "<h2>{}</h2><table><thead><tr>",
        esc(t(lang, "拠点ごとの最新状況", "Newest posture of each site"))
    );
    for col in [
        t(lang, "拠点ID", "Site"),
        t(lang, "名称", "Name"),
        t(lang, "最終スキャン", "Last scan"),
        t(lang, "経過", "Age"),
        t(lang, "重大", "Critical"),
        t(lang, "高", "High"),
        t(lang, "中", "Medium"),
        t(lang, "低", "Low"),
        t(lang, "情報", "Info"),
        t(lang, "不適合の管理策", "Controls failing"),
        t(lang, "スキャン元ゾーン", "Vantage zones"),
    ] {
        let _ = write!(h, "<th>{}</th>", esc(col));
    }
    h.push_str("</tr></thead><tbody>");
    for p in ordered(report) {
        let num = |n: u32, class: &str| {
            if n > 0 && !class.is_empty() {
                format!("<td class=\"n {class}\">{n}</td>")
            } else {
                format!("<td class=\"n\">{n}</td>")
            }
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td>{}{}{}{}{}<td>{}</td><td>{}</td></tr>",
            esc(&p.site_id),
            esc(p.site.as_deref().unwrap_or("")),
            esc(&jst(p.last_scan)),
            if p.stale { " class=\"stale\"" } else { "" },
            esc(&age(p.age_seconds, lang)),
            num(p.counts.critical, "crit"),
            num(p.counts.high, "high"),
            num(p.counts.medium, ""),
            num(p.counts.low, ""),
            num(p.counts.info, ""),
            esc(&p.controls_failing.join(", ")),
            esc(&p.vantage_zones.join(", "))
        );
    }
    h.push_str("</tbody></table>");
    let _ = write!(
        h,
        "<h2>{} ({} {})</h2>",
        esc(t(
            lang,
            "スキャンが途絶えた拠点",
            "Sites not scanned recently"
        )),
        report.stale_after_days,
        esc(t(lang, "日以上", "days or more"))
    );
    let stale: Vec<&SitePosture> = report.sites.iter().filter(|p| p.stale).collect();
    if stale.is_empty() {
        let _ = write!(h, "<p>{}</p>", esc(t(lang, "なし", "None")));
    } else {
        h.push_str("<ul>");
        for p in stale {
            let _ = write!(
                h,
                "<li class=\"stale\">{} — {} ({})</li>",
                esc(&p.site_id),
                esc(&jst(p.last_scan)),
                esc(&age(p.age_seconds, lang))
            );
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<h2>{}</h2>",
        esc(t(
            lang,
            "多くの拠点に共通する検出",
            "Findings most sites share"
        ))
    );
    if report.common_findings.is_empty() {
        let _ = write!(h, "<p>{}</p>", esc(t(lang, "なし", "None")));
    } else {
        let _ = write!(
            h,
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            esc(t(lang, "拠点数", "Sites")),
            esc(t(lang, "重大度", "Severity")),
            esc(t(lang, "ルール", "Rule")),
            esc(t(lang, "内容", "Title"))
        );
        for f in report.common_findings.iter().take(top) {
            let _ = write!(
                h,
                "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.sites,
                esc(sev_word(f.severity, lang)),
                esc(&f.rule_id),
                esc(f.title.get(lang))
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</body></html>\n");
    h
}
