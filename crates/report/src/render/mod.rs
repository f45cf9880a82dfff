//! Renderers: one Assessment (with the Observations it came from, and optionally the diff
//! against the previous scan and the history's first/last-seen dates) to a document.
//!
//! Every renderer is a pure function of its [`ReportInput`]: no clock, no I/O, so the same
//! input always gives byte-identical output (the snapshot tests rely on it). Times are shown
//! in Japan Standard Time, labelled, since the tool audits Japanese sites.
//!
//! Every renderer (and the email body, and the history's diff) reads the same `view::View`:
//! the order of findings, controls and hosts, their grouping and every translated label are
//! decided there once, and a renderer only lays the rows out and escapes them for its format.
//! A new format is a module here that reads a `View`, a [`Format`] variant, and snapshots in
//! `tests/render.rs`.

mod checklist;
mod csv_out;
mod history_text;
mod html;
mod inventory;
mod markdown;
mod precheck;
mod terminal;
mod view;
mod xlsx;

#[cfg(test)]
mod props;

pub use checklist::{
    ChecklistAnswer, ChecklistInput, ItemAnswer, checklist_answers, render_checklist,
    render_precheck_checklist,
};
pub use history_text::{render_diff, render_history_list};
pub(crate) use html::esc as esc_html;
pub use precheck::render_precheck;
pub(crate) use view::{Change, ChangeItems, View};

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, FixedOffset, Utc};
use clinicscan_model::{Assessment, ControlStatus, Lang, Observation, Severity};

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
    /// The Assessment as JSON (schema `clinicscan/assessment/v2`), pretty-printed.
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
    /// Writing the Excel workbook failed.
    #[error("cannot write the Excel workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// The checklist as an Excel workbook (.xlsx): the form's sheet and the evidence sheet.
pub fn render_checklist_xlsx(input: &ChecklistInput<'_>) -> Result<Vec<u8>, RenderError> {
    Ok(xlsx::render_checklist_xlsx(input)?)
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
        ControlStatus::Pass => S::StatusPass,
        ControlStatus::NotVerified => S::StatusNotVerified,
        ControlStatus::NotAssessableByScan => S::StatusNotAssessable,
    }
}

pub(crate) fn transport_str(t: clinicscan_model::Transport) -> &'static str {
    match t {
        clinicscan_model::Transport::Tcp => "tcp",
        clinicscan_model::Transport::Udp => "udp",
    }
}

/// A one-line subject-style summary: "重大 1 / 高 2 / 中 0 / 低 1 / 情報 3".
pub(crate) fn counts_line(a: &Assessment, lang: Lang) -> String {
    Severity::ALL
        .iter()
        .map(|&s| format!("{} {}", sev_label(s).get(lang), a.counts.get(s)))
        .collect::<Vec<_>>()
        .join(" / ")
}
