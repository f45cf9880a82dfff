//! The checklist as an Excel workbook: one sheet in the form's layout (number, item, and
//! for each round the date, the answer and the target date, then the remarks), one with the
//! evidence appendix. The rows are the same [`ChecklistView`] the HTML page lays out.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use super::checklist::{ChecklistInput, ChecklistView};
use crate::strings::S;

/// A4 in Excel's paper-size numbering.
const PAPER_A4: u8 = 9;

/// The row the form's column headings start at (0-based): title, edition, site, date and
/// vantage lines come before.
pub(crate) const FORM_HEADER_ROW: u32 = 6;

/// The checklist as an .xlsx workbook.
pub(crate) fn render_checklist_xlsx(input: &ChecklistInput<'_>) -> Result<Vec<u8>, XlsxError> {
    let v = ChecklistView::new(input);
    let lang = v.lang;
    let t = |s: S| s.get(lang);
    let font = "Noto Sans CJK JP";
    let base = Format::new()
        .set_font_name(font)
        .set_font_size(9)
        .set_text_wrap()
        .set_align(FormatAlign::Top);
    let cell = base.clone().set_border(FormatBorder::Thin);
    let head = cell
        .clone()
        .set_bold()
        .set_background_color(0xEEF1F6)
        .set_align(FormatAlign::Center);
    let section = base.clone().set_bold().set_font_size(11);
    let title = base.clone().set_bold().set_font_size(13);

    let mut wb = Workbook::new();
    let form = wb.add_worksheet();
    form.set_name(t(S::ClItem))?;
    form.set_paper_size(PAPER_A4).set_landscape();
    form.set_print_fit_to_pages(1, 0);
    form.set_column_width(0, 7)?;
    form.set_column_width(1, 42)?;
    let rounds = v.rounds.len() as u16;
    for i in 0..rounds {
        form.set_column_width(2 + i * 3, 11)?;
        form.set_column_width(3 + i * 3, 8)?;
        form.set_column_width(4 + i * 3, 11)?;
    }
    let remarks_col = 2 + rounds * 3;
    form.set_column_width(remarks_col, 50)?;

    form.write_string_with_format(0, 0, v.form.title.get(lang), &title)?;
    form.write_string_with_format(1, 0, v.form.edition_label.get(lang), &base)?;
    let meta = [
        (S::ClSite, v.site.clone()),
        (S::ClScanDates, v.scan_date.clone()),
        (S::ClVantages, v.vantages.clone()),
        (
            S::ClFormData,
            format!(
                "{} ({})",
                v.form.edition,
                v.form.updated.as_deref().unwrap_or("")
            ),
        ),
    ];
    for (i, (k, val)) in meta.iter().enumerate() {
        let row = 2 + i as u32;
        form.write_string_with_format(row, 0, t(*k), &base)?;
        form.write_string_with_format(row, 1, val, &base)?;
    }

    let mut row = FORM_HEADER_ROW;
    form.write_string_with_format(row, 0, t(S::ClNumber), &head)?;
    form.write_string_with_format(row, 1, t(S::ClItem), &head)?;
    for (i, r) in v.rounds.iter().enumerate() {
        let c = 2 + i as u16 * 3;
        let label = if r.label.is_empty() {
            t(S::ClCurrent).to_string()
        } else {
            r.label.clone()
        };
        form.merge_range(row, c, row, c + 2, &label, &head)?;
        form.write_string_with_format(row + 1, c, t(S::ClDate), &head)?;
        form.write_string_with_format(row + 1, c + 1, t(S::ClAnswer), &head)?;
        form.write_string_with_format(row + 1, c + 2, t(S::ClTargetDate), &head)?;
    }
    form.write_string_with_format(row, remarks_col, t(S::ClRemarks), &head)?;
    form.write_string_with_format(row + 1, 0, "", &head)?;
    form.write_string_with_format(row + 1, 1, "", &head)?;
    form.write_string_with_format(row + 1, remarks_col, "", &head)?;
    form.set_repeat_rows(row, row + 1)?;
    row += 2;
    let mut breaks = Vec::new();
    for s in &v.sections {
        if row > FORM_HEADER_ROW + 2 {
            breaks.push(row);
        }
        form.merge_range(
            row,
            0,
            row,
            remarks_col,
            &format!("{} {}", s.number, s.title),
            &section,
        )?;
        row += 1;
        for r in &s.rows {
            let mut text = r.text.clone();
            for tag in &r.tags {
                text.push('\n');
                text.push_str(tag);
            }
            form.write_string_with_format(row, 0, &r.number, &cell)?;
            form.write_string_with_format(row, 1, &text, &cell)?;
            for (i, round) in v.rounds.iter().enumerate() {
                let c = 2 + i as u16 * 3;
                let (answer, date) = v.round_cells(round, r);
                form.write_string_with_format(row, c, &date, &cell)?;
                form.write_string_with_format(row, c + 1, &answer, &cell)?;
                // The target date is the clinic's to write; the cell stays empty.
                form.write_string_with_format(row, c + 2, "", &cell)?;
            }
            form.write_string_with_format(row, remarks_col, r.remarks.join("\n"), &cell)?;
            row += 1;
        }
    }
    form.set_page_breaks(&breaks)?;
    row += 1;
    for line in [
        t(S::ClTagLegend).to_string(),
        t(S::ClDisclaimer).to_string(),
    ]
    .into_iter()
    .chain(v.form.notes.iter().map(|n| n.get(lang).to_string()))
    .chain(v.column_notes())
    {
        form.merge_range(row, 0, row, remarks_col, &line, &base)?;
        row += 1;
    }

    let ev = wb.add_worksheet();
    appendix_sheet(ev, &v, &base, &cell, &head, &title)?;
    wb.save_to_buffer()
}

fn appendix_sheet(
    ev: &mut Worksheet,
    v: &ChecklistView<'_>,
    base: &Format,
    cell: &Format,
    head: &Format,
    title: &Format,
) -> Result<(), XlsxError> {
    let lang = v.lang;
    let t = |s: S| s.get(lang);
    ev.set_name(t(S::ClEvidence))?;
    ev.set_paper_size(PAPER_A4).set_landscape();
    ev.set_print_fit_to_pages(1, 0);
    for (c, w) in [7.0, 14.0, 10.0, 12.0, 16.0, 40.0, 22.0, 50.0]
        .into_iter()
        .enumerate()
    {
        ev.set_column_width(c as u16, w)?;
    }
    ev.write_string_with_format(0, 0, t(S::ClAppendix), title)?;
    ev.write_string_with_format(1, 0, t(S::ClAppendixIntro), base)?;
    let headings = [
        S::ClNumber,
        S::ControlId,
        S::Status,
        S::ClKind,
        S::VantageZone,
        S::ClTargets,
        S::ClObservation,
        S::ClWhat,
    ];
    let mut row = 3;
    for (c, h) in headings.iter().enumerate() {
        ev.write_string_with_format(row, c as u16, t(*h), head)?;
    }
    ev.set_repeat_rows(row, row)?;
    row += 1;
    for s in &v.sections {
        for r in &s.rows {
            for l in &r.appendix {
                let cells = [
                    r.number.as_str(),
                    &l.control,
                    &l.status,
                    l.kind,
                    &l.zone,
                    &l.targets,
                    &l.observation,
                    &l.what,
                ];
                for (c, text) in cells.iter().enumerate() {
                    ev.write_string_with_format(row, c as u16, *text, cell)?;
                }
                row += 1;
            }
        }
    }
    row += 1;
    for (c, h) in [S::ClObservation, S::VantageZone, S::ScanStarted]
        .iter()
        .enumerate()
    {
        ev.write_string_with_format(row, c as u16, t(*h), head)?;
    }
    row += 1;
    for (id, zone, started) in &v.observations {
        ev.write_string_with_format(row, 0, id, cell)?;
        ev.write_string_with_format(row, 1, zone, cell)?;
        ev.write_string_with_format(row, 2, started, cell)?;
        row += 1;
    }
    Ok(())
}
