//! Renderers: one Assessment (with the Observations it came from, and optionally the diff
//! against the previous scan and the history's first/last-seen dates) to a document.
//!
//! Every renderer is a pure function of its [`ReportInput`]: no clock, no I/O, so the same
//! input always gives byte-identical output (the snapshot tests rely on it). Times are shown
//! in Japan Standard Time, labelled, since the tool audits Japanese sites.

mod csv_out;
mod history_text;
mod html;
mod inventory;
mod markdown;
mod precheck;
mod terminal;

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    #[test]
    fn control_ids_sort_naturally() {
        let mut ids = vec![
            "GL6-SO-13-11",
            "GL6-SO-8.1",
            "CL-R7-2-13",
            "GL6-SO-8-3",
            "CL-R7-2-1",
            "GL6-SO-13-2",
            "GL6-SO-8-10",
            "",
            "GL6",
        ];
        ids.sort_by(|a, b| super::natural_cmp(a, b));
        assert_eq!(
            ids,
            [
                "",
                "CL-R7-2-1",
                "CL-R7-2-13",
                "GL6",
                "GL6-SO-8-3",
                "GL6-SO-8-10",
                "GL6-SO-8.1",
                "GL6-SO-13-2",
                "GL6-SO-13-11"
            ]
        );
    }
}

pub use history_text::{render_diff, render_history_list};
pub(crate) use html::esc as esc_html;
pub use precheck::render_precheck;

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, FixedOffset, Utc};
use clinicscan_model::{
    Assessment, ControlStatus, Finding, HostState, Lang, Observation, PortState, Service, Severity,
};

use crate::diff::ScanDiff;
use crate::strings::S;

/// When the history first and last saw a host (by address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSeen {
    /// The start of the first recorded scan that found the host up.
    pub first_seen: DateTime<Utc>,
    /// The start of the last recorded scan that found the host up.
    pub last_seen: DateTime<Utc>,
}

/// Everything a renderer reads.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The assessment to render.
    pub assessment: &'a Assessment,
    /// The Observations it came from (hosts, services, products).
    pub observations: &'a [Observation],
    /// What changed since the previous scan, when there was one.
    pub diff: Option<&'a ScanDiff>,
    /// First/last seen dates from the history, by address.
    pub seen: Option<&'a BTreeMap<IpAddr, HostSeen>>,
    /// The language of every string the user reads.
    pub lang: Lang,
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A plain-text table for a terminal; ANSI colour only when `color` is true.
    Terminal {
        /// Emit ANSI colour escapes.
        color: bool,
    },
    /// The Assessment as JSON (schema `clinicscan/assessment/v1`), pretty-printed.
    Json,
    /// One self-contained HTML file (no external assets).
    Html,
    /// Findings as CSV, one a row (RFC 4180, CRLF; UTF-8 BOM when the language is Japanese).
    Csv,
    /// Markdown.
    Markdown,
    /// The asset inventory (台帳) of every host seen, as CSV with a UTF-8 BOM and CRLF.
    Inventory,
}

/// A renderer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// Serialising to JSON failed.
    #[error("cannot serialise the assessment to JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing CSV failed.
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Renders the input in the given format.
pub fn render(format: Format, input: &ReportInput<'_>) -> Result<String, RenderError> {
    match format {
        Format::Terminal { color } => Ok(terminal::render(input, color)),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(input.assessment)?;
            s.push('\n');
            Ok(s)
        }
        Format::Html => Ok(html::render(input)),
        Format::Csv => csv_out::render(input),
        Format::Markdown => Ok(markdown::render(input)),
        Format::Inventory => inventory::render(input, None),
    }
}

/// The asset inventory (台帳) like [`Format::Inventory`], with each host's zone taken from
/// `zones` (e.g. the site file's zone of each address) before the zone its findings name.
pub fn render_inventory(
    input: &ReportInput<'_>,
    zones: &BTreeMap<IpAddr, String>,
) -> Result<String, RenderError> {
    inventory::render(input, Some(zones))
}

// ------------------------------------------------------------------ shared helpers

/// A time in JST, labelled.
pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(9 * 3600) {
        Some(jst) => t
            .with_timezone(&jst)
            .format("%Y-%m-%d %H:%M JST")
            .to_string(),
        None => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

pub(crate) fn sev_label(sev: Severity) -> S {
    match sev {
        Severity::Critical => S::SevCritical,
        Severity::High => S::SevHigh,
        Severity::Medium => S::SevMedium,
        Severity::Low => S::SevLow,
        Severity::Info => S::SevInfo,
    }
}

pub(crate) fn status_label(status: ControlStatus) -> S {
    match status {
        ControlStatus::Fail => S::StatusFail,
        ControlStatus::Partial => S::StatusPartial,
        ControlStatus::Pass => S::StatusPass,
        ControlStatus::NotObserved => S::StatusNotObserved,
        ControlStatus::NotAssessableByScan => S::StatusNotAssessable,
    }
}

/// Display order of control statuses: the ones that need action first.
pub(crate) fn status_rank(status: ControlStatus) -> u8 {
    match status {
        ControlStatus::Fail => 0,
        ControlStatus::Partial => 1,
        ControlStatus::NotObserved => 2,
        ControlStatus::Pass => 3,
        ControlStatus::NotAssessableByScan => 4,
    }
}

/// Compares ids with their numbers as numbers: "GL6-SO-8-3" < "GL6-SO-13-11".
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x, y) {
            ((true, nx), (true, ny)) => {
                let (tx, ty) = (nx.trim_start_matches('0'), ny.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            ((_, sx), (_, sy)) => sx.cmp(sy),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// "10.0.0.1:3389/tcp", or the bare address for a host finding.
pub(crate) fn target(f: &Finding) -> String {
    match (f.port, f.transport) {
        (Some(p), Some(t)) => format!("{}:{}/{}", fmt_addr(f.host), p, transport_str(t)),
        (Some(p), None) => format!("{}:{}", fmt_addr(f.host), p),
        _ => f.host.to_string(),
    }
}

fn fmt_addr(a: IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

pub(crate) fn transport_str(t: clinicscan_model::Transport) -> &'static str {
    match t {
        clinicscan_model::Transport::Tcp => "tcp",
        clinicscan_model::Transport::Udp => "udp",
    }
}

/// Findings in display order: most severe first, then by host, port and rule.
pub(crate) fn ordered_findings(a: &Assessment) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = a.findings.iter().collect();
    v.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then_with(|| x.host.cmp(&y.host))
            .then_with(|| x.port.cmp(&y.port))
            .then_with(|| x.rule_id.cmp(&y.rule_id))
            .then_with(|| x.key.cmp(&y.key))
    });
    v
}

/// The keys of the findings that are new since the previous scan (empty without a diff).
pub(crate) struct NewKeys<'a>(std::collections::HashSet<&'a str>);

impl<'a> NewKeys<'a> {
    pub(crate) fn of(diff: Option<&'a ScanDiff>) -> NewKeys<'a> {
        NewKeys(
            diff.map(|d| d.new_findings.iter().map(|f| f.key.as_str()).collect())
                .unwrap_or_default(),
        )
    }

    /// Whether the finding is new since the previous scan.
    pub(crate) fn is_new(&self, f: &Finding) -> bool {
        self.0.contains(f.key.as_str())
    }
}

/// One host merged over all Observations.
pub(crate) struct HostView<'a> {
    pub address: IpAddr,
    pub mac: Option<&'a str>,
    pub vendor: Option<&'a str>,
    pub names: Vec<&'a str>,
    /// Open services, by port and transport.
    pub services: Vec<&'a Service>,
    pub zone: Option<&'a str>,
    pub findings: Vec<&'a Finding>,
}

/// Every host that was up in any Observation or that a finding names, by address.
pub(crate) fn host_views<'a>(input: &ReportInput<'a>) -> Vec<HostView<'a>> {
    let mut map: BTreeMap<IpAddr, HostView<'a>> = BTreeMap::new();
    for host in input.observations.iter().flat_map(|o| o.hosts.iter()) {
        if host.status.state != HostState::Up {
            continue;
        }
        let v = map.entry(host.address).or_insert_with(|| HostView {
            address: host.address,
            mac: None,
            vendor: None,
            names: Vec::new(),
            services: Vec::new(),
            zone: None,
            findings: Vec::new(),
        });
        v.mac = v.mac.or(host.mac.as_deref());
        v.vendor = v.vendor.or(host.vendor.as_deref());
        for n in &host.names {
            if !v.names.contains(&n.name.as_str()) {
                v.names.push(&n.name);
            }
        }
        for s in host.services.iter().filter(|s| s.state == PortState::Open) {
            if !v
                .services
                .iter()
                .any(|o| o.port == s.port && o.transport == s.transport)
            {
                v.services.push(s);
            }
        }
    }
    for f in ordered_findings(input.assessment) {
        let v = map.entry(f.host).or_insert_with(|| HostView {
            address: f.host,
            mac: None,
            vendor: None,
            names: Vec::new(),
            services: Vec::new(),
            zone: None,
            findings: Vec::new(),
        });
        if v.zone.is_none() {
            v.zone = f.zone.as_deref();
        }
        v.findings.push(f);
    }
    let mut out: Vec<HostView<'a>> = map.into_values().collect();
    for v in &mut out {
        v.services.sort_by_key(|s| (s.transport, s.port));
    }
    out
}

/// "OpenSSH 9.2p1", or the product alone.
pub(crate) fn product(s: &Service) -> Option<String> {
    s.software.as_ref().map(|sw| match &sw.version {
        Some(v) => format!("{} {}", sw.product, v),
        None => sw.product.clone(),
    })
}

/// The protocol a probe identified, else the port name with a "?" (a guess from the number).
pub(crate) fn service_name(s: &Service) -> String {
    match (&s.protocol, &s.port_name) {
        (Some(p), _) => p.clone(),
        (None, Some(n)) => format!("{n}?"),
        (None, None) => "?".to_string(),
    }
}

/// A scan notice in the chosen language: the translation of a known kind, else the
/// scanner's own (English) message. The second value is the scanner's detail, shown beside
/// a translation (it names the error or the target).
pub(crate) fn notice_text(n: &clinicscan_model::Notice, lang: Lang) -> (String, Option<String>) {
    let known = crate::strings::notice_text(&n.kind);
    match (known, lang) {
        (Some(k), Lang::Ja) => (k.get(lang).to_string(), Some(n.message.clone())),
        _ => (n.message.clone(), None),
    }
}

/// Every notice of every Observation.
pub(crate) fn notices<'a>(input: &ReportInput<'a>) -> Vec<&'a clinicscan_model::Notice> {
    input
        .observations
        .iter()
        .flat_map(|o| o.scan.notices.iter())
        .collect()
}

/// Number of controls with each status.
pub(crate) fn control_counts(a: &Assessment) -> [(ControlStatus, usize); 5] {
    let statuses = [
        ControlStatus::Fail,
        ControlStatus::Partial,
        ControlStatus::Pass,
        ControlStatus::NotObserved,
        ControlStatus::NotAssessableByScan,
    ];
    statuses.map(|st| (st, a.controls.iter().filter(|c| c.status == st).count()))
}

/// The sites's zones the scan ran from, comma-separated.
pub(crate) fn vantage_zones(input: &ReportInput<'_>) -> Option<String> {
    let mut zones: Vec<&str> = input
        .assessment
        .observations
        .iter()
        .filter_map(|o| o.vantage_zone.as_deref())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    (!zones.is_empty()).then(|| zones.join(", "))
}

/// A one-line subject-style summary: "重大 1 / 高 2 / 中 0 / 低 1 / 情報 3".
pub(crate) fn counts_line(a: &Assessment, lang: Lang) -> String {
    Severity::ALL
        .iter()
        .map(|&s| format!("{} {}", sev_label(s).get(lang), a.counts.get(s)))
        .collect::<Vec<_>>()
        .join(" / ")
}
