//! Findings as CSV: one finding a row, RFC 4180 quoting (the `csv` crate), CRLF.
//!
//! The header row is in the chosen language. In Japanese the file starts with a UTF-8 BOM,
//! which Japanese Excel needs to read UTF-8 instead of Shift_JIS.
//!
//! A cell from the network that starts with `=`, `+`, `-`, `@`, tab or CR would be taken
//! as a formula by a spreadsheet; such cells get a leading `'` (OWASP "CSV injection").

use clinicscan_model::{Certainty, Lang};

use super::{NewKeys, RenderError, ReportInput, ordered_findings, sev_label, transport_str};
use crate::strings::S;

/// Neutralises spreadsheet formulas.
pub(crate) fn cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

pub(crate) fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new())
}

pub(crate) fn finish(w: csv::Writer<Vec<u8>>, bom: bool) -> Result<String, RenderError> {
    let bytes = w
        .into_inner()
        .map_err(|e| RenderError::Csv(csv::Error::from(e.into_error())))?;
    let body = String::from_utf8_lossy(&bytes);
    let mut out = String::with_capacity(body.len() + 3);
    if bom {
        out.push('\u{feff}');
    }
    out.push_str(&body);
    Ok(out)
}

pub(crate) fn render(input: &ReportInput<'_>) -> Result<String, RenderError> {
    let new = NewKeys::of(input.diff);
    let lang = input.lang;
    let t = |s: S| s.get(lang);
    let mut w = writer();
    let mut header = vec![
        t(S::Severity),
        t(S::Rule),
        t(S::Title),
        t(S::Address),
        t(S::Port),
        t(S::Transport),
        t(S::Zone),
        t(S::Controls),
        t(S::Certainty),
        t(S::Description),
        t(S::Evidence),
        t(S::Remediation),
        t(S::FindingKey),
    ];
    if input.diff.is_some() {
        header.push(t(S::Change));
    }
    w.write_record(&header)?;
    for f in ordered_findings(input.assessment) {
        let evidence: Vec<String> = f
            .evidence
            .iter()
            .map(|e| format!("{}={}", e.key, e.value))
            .collect();
        let mut row = vec![
            sev_label(f.severity).get(lang).to_string(),
            cell(&f.rule_id),
            cell(f.title.get(lang)),
            f.host.to_string(),
            f.port.map(|p| p.to_string()).unwrap_or_default(),
            f.transport
                .map(transport_str)
                .unwrap_or_default()
                .to_string(),
            cell(f.zone.as_deref().unwrap_or("")),
            cell(&f.controls.join("; ")),
            match f.certainty {
                Certainty::Fact => t(S::CertaintyFact),
                Certainty::Guess => t(S::GuessLabel),
            }
            .to_string(),
            cell(f.description.get(lang)),
            cell(&evidence.join("; ")),
            cell(f.remediation.get(lang)),
            cell(&f.key),
        ];
        if input.diff.is_some() {
            row.push(
                if new.is_new(f) {
                    t(S::NewMarkPlain)
                } else {
                    t(S::UnchangedFindings)
                }
                .to_string(),
            );
        }
        w.write_record(&row)?;
    }
    finish(w, lang == Lang::Ja)
}
