//! Findings as CSV: one finding a row, RFC 4180 quoting (the `csv` crate), CRLF.
//!
//! The header row is in the chosen language. In Japanese the file starts with a UTF-8 BOM,
//! which Japanese Excel needs to read UTF-8 instead of Shift_JIS.
//!
//! A cell from the network that starts with `=`, `+`, `-`, `@`, tab or CR would be taken
//! as a formula by a spreadsheet; such cells get a leading `'` (OWASP "CSV injection").

use clinicscan_model::Lang;

use super::view::{ChangeItems, FindingRow, View};
use super::{RenderError, ReportInput, transport_str};
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

/// Writes the header row: each key's text in the language.
pub(crate) fn header(
    w: &mut csv::Writer<Vec<u8>>,
    keys: &[S],
    lang: Lang,
    extra: Option<S>,
) -> Result<(), RenderError> {
    let row: Vec<&str> = keys
        .iter()
        .chain(extra.iter())
        .map(|k| k.get(lang))
        .collect();
    Ok(w.write_record(&row)?)
}

/// The cells of one finding, before the change column.
fn row_cells(row: &FindingRow<'_>, lang: Lang) -> Vec<String> {
    let t = |s: S| s.get(lang);
    let f = row.finding;
    let evidence: Vec<String> = f
        .evidence
        .iter()
        .map(|e| format!("{}={}", e.key, e.value))
        .collect();
    vec![
        row.severity.to_string(),
        cell(&f.rule_id),
        cell(row.title),
        f.host.to_string(),
        f.port.map(|p| p.to_string()).unwrap_or_default(),
        f.transport
            .map(transport_str)
            .unwrap_or_default()
            .to_string(),
        cell(f.zone.as_deref().unwrap_or("")),
        cell(&f.controls.join("; ")),
        if row.guess {
            t(S::GuessLabel)
        } else {
            t(S::CertaintyFact)
        }
        .to_string(),
        cell(row.description),
        cell(&evidence.join("; ")),
        cell(row.remediation),
        cell(&f.key),
    ]
}

pub(crate) fn render(input: &ReportInput<'_>) -> Result<String, RenderError> {
    let v = View::of(input);
    let lang = v.lang;
    let t = |s: S| s.get(lang);
    let mut w = writer();
    let change = v.changes.as_ref().map(|_| S::Change);
    header(
        &mut w,
        &[
            S::Severity,
            S::Rule,
            S::Title,
            S::Address,
            S::Port,
            S::Transport,
            S::Zone,
            S::Controls,
            S::Certainty,
            S::Description,
            S::Evidence,
            S::Remediation,
            S::FindingKey,
        ],
        lang,
        change,
    )?;
    for row in &v.findings {
        let mut record = row_cells(row, lang);
        if change.is_some() {
            record.push(
                if row.new {
                    t(S::NewMarkPlain)
                } else {
                    t(S::UnchangedFindings)
                }
                .to_string(),
            );
        }
        w.write_record(&record)?;
    }
    // Findings this scan could not check again: their own rows, as last confirmed, the
    // reason in the change column (never left out, which would read as resolved).
    let carried = v
        .changes
        .iter()
        .flat_map(|c| c.sections.iter())
        .filter_map(|s| match &s.items {
            ChangeItems::NotRechecked(rows) => Some(rows),
            _ => None,
        });
    for c in carried.flatten() {
        let mut record = row_cells(&c.row, lang);
        record.push(cell(&format!(
            "{}: {} ({})",
            t(S::NotRechecked),
            c.reason,
            c.confirmed(lang)
        )));
        w.write_record(&record)?;
    }
    // After the findings: the rule errors and the data used, one row each, the kind in
    // the first column and the text in the title column, so a spreadsheet shows them too.
    let width = 13 + usize::from(change.is_some());
    let mut note = |kind: S, text: &str| -> Result<(), RenderError> {
        let mut record = vec![String::new(); width];
        record[0] = t(kind).to_string();
        record[2] = cell(text);
        Ok(w.write_record(&record)?)
    };
    for e in &v.assessment.rule_errors {
        note(S::RecordRuleError, e)?;
    }
    for d in &v.data {
        note(S::RecordData, d)?;
    }
    finish(w, lang == Lang::Ja)
}
