//! The inspection checklist (チェックリスト) pre-filled from an Assessment: the form of one
//! edition (data: `rules/controls/<edition>.toml`, `[[form]]`) in its official order, one
//! row per item, answered from the verdicts of the controls the item names as evidence.
//!
//! - はい: every control the item names passed, each with what it checked, and nothing of
//!   the item is organisational. The date is the scan's; the evidence goes to the appendix.
//! - いいえ: a control it names failed: the findings and what to do, and an empty target
//!   date for the clinic.
//! - 要確認: a scan can speak to the item, but this assessment cannot answer it (not
//!   verified, not assessed, or an organisational part left to confirm): what to do.
//! - blank: an organisational item: what it asks and who answers it. Never はい.
//!
//! The rows are decided here once ([`ChecklistView`]); the HTML page (this module) and the
//! Excel workbook (`xlsx.rs`) only lay them out.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, Utc};
use clinicscan_model::{
    Assessment, ChecklistForm, ControlResult, ControlStatus, Finding, FormItem, Lang, MissingKind,
    Outcome, PrecheckReport, Verification, Wording,
};

use super::html::esc;
use super::precheck::port_checks;
use super::{fmt_time, status_label};
use crate::strings::S;

/// Everything the checklist reads.
#[derive(Debug, Clone, Copy)]
pub struct ChecklistInput<'a> {
    /// The form to fill in (of the Assessment's checklist edition).
    pub form: &'a ChecklistForm,
    /// The assessment that answers it.
    pub assessment: &'a Assessment,
    /// The previous scan's assessment, whose answers fill the first round of a two-round
    /// form.
    pub previous: Option<&'a Assessment>,
    /// The language of everything but the form's own wording, which the form gives in both.
    pub lang: Lang,
}

/// The answer of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecklistAnswer {
    /// はい: everything a scan can see of the item passed, with evidence, and nothing of it
    /// is organisational.
    Yes,
    /// いいえ: a finding shows the item is not met.
    No,
    /// 要確認: a scan can speak to the item, but this one cannot answer it.
    ToConfirm,
    /// Left blank: organisational, for the clinic (or the vendor) to answer.
    Blank,
}

impl ChecklistAnswer {
    /// The answer as the form writes it ("はい", "いいえ", "要確認", "" for blank).
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            ChecklistAnswer::Yes => S::ClAnswerYes.get(lang),
            ChecklistAnswer::No => S::ClAnswerNo.get(lang),
            ChecklistAnswer::ToConfirm => S::ClAnswerConfirm.get(lang),
            ChecklistAnswer::Blank => "",
        }
    }
}

/// One item and its answers, as data (what the tests and the lab compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAnswer {
    /// The item's number as printed; empty when the reference does not know it.
    pub number: String,
    /// The catalogue control the item is, when it is one.
    pub control: Option<String>,
    /// The answer from this assessment.
    pub answer: ChecklistAnswer,
    /// The answer from the previous assessment, when one was given.
    pub previous: Option<ChecklistAnswer>,
}

/// Every item of the form with its answers, in the form's order.
pub fn checklist_answers(input: &ChecklistInput<'_>) -> Vec<ItemAnswer> {
    input
        .form
        .items()
        .map(|item| ItemAnswer {
            number: item.number.clone(),
            control: item.control.clone(),
            answer: judge(item, input.assessment, input.lang).answer,
            previous: input.previous.map(|p| judge(item, p, input.lang).answer),
        })
        .collect()
}

// ------------------------------------------------------------------ judging one item

/// An item's answer from one assessment, with what backs it.
pub(crate) struct Judged<'a> {
    pub(crate) answer: ChecklistAnswer,
    /// The evidence controls' results, in the item's order (absent ones left out).
    pub(crate) results: Vec<&'a ControlResult>,
    /// Evidence controls the assessment does not hold.
    pub(crate) absent: Vec<&'a str>,
    /// The findings that make it fail.
    pub(crate) failing: Vec<&'a Finding>,
    /// What to do or confirm, in the input's language, without repeats.
    pub(crate) todo: Vec<String>,
}

fn judge<'a>(item: &'a FormItem, a: &'a Assessment, lang: Lang) -> Judged<'a> {
    let mut j = Judged {
        answer: ChecklistAnswer::Blank,
        results: Vec::new(),
        absent: Vec::new(),
        failing: Vec::new(),
        todo: Vec::new(),
    };
    if item.evidence.is_empty() {
        return j;
    }
    let mut todo = Vec::new();
    for id in &item.evidence {
        match a.controls.iter().find(|c| &c.id == id) {
            Some(c) => j.results.push(c),
            None => {
                j.absent.push(id.as_str());
                todo.push(format!("{id}: {}", S::ClNotInAssessment.get(lang)));
            }
        }
    }
    let mut keys = BTreeSet::new();
    for c in &j.results {
        for key in &c.findings {
            if keys.insert(key.as_str())
                && let Some(f) = a.findings.iter().find(|f| &f.key == key)
            {
                j.failing.push(f);
            }
        }
    }
    let failed = j.results.iter().any(|c| c.status == ControlStatus::Fail);
    let all_passed_with_evidence = j.absent.is_empty()
        && j.results
            .iter()
            .all(|c| c.status == ControlStatus::Pass && !c.checked.is_empty());
    j.answer = if failed {
        ChecklistAnswer::No
    } else if all_passed_with_evidence && item.organisational.is_none() {
        ChecklistAnswer::Yes
    } else {
        ChecklistAnswer::ToConfirm
    };
    if j.answer != ChecklistAnswer::Yes {
        for c in &j.results {
            if c.status == ControlStatus::Pass && c.checked.is_empty() {
                todo.push(format!("{}: {}", c.id, S::ClNoEvidenceRecorded.get(lang)));
            }
            if c.status == ControlStatus::Fail {
                continue;
            }
            for m in &c.missing {
                // The item's own words say what of it is organisational, better than the
                // control's generic note.
                if m.kind == MissingKind::Organisational && item.organisational.is_some() {
                    continue;
                }
                let text = m.text.get(lang);
                todo.push(match &m.subject {
                    Some(s) if !text.contains(s.as_str()) => format!("{text} ({s})"),
                    _ => text.to_string(),
                });
            }
        }
        if let Some(org) = &item.organisational {
            todo.push(org.get(lang).to_string());
        }
    }
    let mut seen = BTreeSet::new();
    j.todo = todo
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect();
    j
}

// ------------------------------------------------------------------ the view

/// One line of the evidence appendix.
pub(crate) struct AppendixLine {
    pub(crate) control: String,
    pub(crate) status: String,
    pub(crate) kind: &'static str,
    pub(crate) zone: String,
    pub(crate) targets: String,
    pub(crate) observation: String,
    pub(crate) what: String,
}

/// One row of the form.
pub(crate) struct Row<'a> {
    pub(crate) item: &'a FormItem,
    /// The number as printed, or a dash.
    pub(crate) number: String,
    /// The item's wording, or clinicscan's topic (labelled) when the wording is unknown.
    pub(crate) text: String,
    /// What the reference does not verify about the number and the wording.
    pub(crate) tags: Vec<String>,
    pub(crate) current: Judged<'a>,
    pub(crate) previous: Option<Judged<'a>>,
    /// The remarks cell: findings and what to do, what to confirm, or what the item asks.
    pub(crate) remarks: Vec<String>,
    pub(crate) appendix: Vec<AppendixLine>,
}

/// One section of the form.
pub(crate) struct SectionView<'a> {
    pub(crate) number: String,
    pub(crate) title: String,
    pub(crate) rows: Vec<Row<'a>>,
}

/// One answer column group (1回目 / 2回目).
pub(crate) struct Round {
    pub(crate) label: String,
    /// Which assessment fills it: the previous (`true`) or this one.
    pub(crate) previous: bool,
    pub(crate) date: String,
}

/// The form, decided once for every layout.
pub(crate) struct ChecklistView<'a> {
    pub(crate) lang: Lang,
    pub(crate) form: &'a ChecklistForm,
    pub(crate) site: String,
    pub(crate) scan_date: String,
    pub(crate) vantages: String,
    pub(crate) generated: String,
    pub(crate) rounds: Vec<Round>,
    pub(crate) sections: Vec<SectionView<'a>>,
    /// (observation id, zone, started) of every scan the answers rest on.
    pub(crate) observations: Vec<(String, String, String)>,
}

/// How many findings or things to do the form's remarks cell shows before pointing to the
/// appendix: one section must fit one printed A4 page.
const REMARK_LINES: usize = 2;

fn jst_date(t: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(9 * 3600) {
        Some(jst) => t.with_timezone(&jst).format("%Y-%m-%d").to_string(),
        None => t.format("%Y-%m-%d").to_string(),
    }
}

/// The scan's date: the day its (first) observation started, in JST; a span for scans
/// over several days.
pub(crate) fn scan_date(a: &Assessment) -> String {
    let first = a.observations.iter().map(|o| o.started).min();
    let last = a.observations.iter().map(|o| o.started).max();
    match (first, last) {
        (Some(f), Some(l)) if jst_date(f) != jst_date(l) => {
            format!("{}〜{}", jst_date(f), jst_date(l))
        }
        (Some(f), _) => jst_date(f),
        _ => jst_date(a.generated),
    }
}

fn number_tag(item: &FormItem, lang: Lang) -> Option<String> {
    if item.number.is_empty() {
        return Some(format!("{} [U]", S::ClNumberUnknown.get(lang)));
    }
    let s = match item.number_tag {
        Verification::V => return None,
        Verification::D => S::ClNumberDraft,
        _ => S::ClNumberUnverified,
    };
    Some(format!("{} [{}]", s.get(lang), item.number_tag.as_str()))
}

fn wording_tag(item: &FormItem, lang: Lang) -> Option<String> {
    let s = match (item.wording, item.wording_tag) {
        (Wording::Quoted, Verification::V) => return None,
        (Wording::Quoted, Verification::D) => S::ClWordingDraft,
        (Wording::Quoted, _) => S::ClWordingSecondary,
        (Wording::Partial, _) => S::ClWordingPartial,
        (Wording::Described, _) => S::ClWordingDescribed,
        (Wording::Unknown, _) => S::ClWordingUnknown,
    };
    Some(format!("{} [{}]", s.get(lang), item.wording_tag.as_str()))
}

/// The marks of the number column: how the reference knows the number and the wording, in
/// short (the cover explains them), so each section fits its printed page.
fn short_tags(item: &FormItem, lang: Lang) -> String {
    let t = |s: S| s.get(lang);
    let number = if item.number.is_empty() {
        format!("{}[U]", t(S::ClTagNoNumber))
    } else {
        format!("{}[{}]", t(S::ClTagNumber), item.number_tag.as_str())
    };
    let wording = match item.wording {
        Wording::Quoted => t(S::ClTagWording),
        Wording::Partial => t(S::ClTagPartial),
        Wording::Described => t(S::ClTagSummary),
        Wording::Unknown => t(S::ClTagNoWording),
    };
    format!("{number} {wording}[{}]", item.wording_tag.as_str())
}

fn item_text(item: &FormItem, lang: Lang) -> String {
    let mut text = match (&item.text, &item.topic) {
        (Some(t), _) => t.get(lang).to_string(),
        (None, Some(topic)) => format!("{}: {}", S::ClTopic.get(lang), topic.get(lang)),
        (None, None) => String::new(),
    };
    if let Some(target) = &item.target {
        let _ = write!(text, "【{}】", target.get(lang));
    }
    text
}

fn finding_subject(f: &Finding) -> String {
    clinicscan_model::Subject {
        host: f.host,
        port: f.port,
        transport: f.transport,
    }
    .to_string()
}

/// At most [`REMARK_LINES`] lines, then how many more the appendix holds.
fn capped(lines: Vec<String>, lang: Lang) -> Vec<String> {
    if lines.len() <= REMARK_LINES {
        return lines;
    }
    let more = lines.len() - REMARK_LINES;
    let mut out: Vec<String> = lines.into_iter().take(REMARK_LINES).collect();
    out.push(format!("+{more} {}", S::ClMore.get(lang)));
    out
}

fn remarks(item: &FormItem, j: &Judged<'_>, lang: Lang) -> Vec<String> {
    let t = |s: S| s.get(lang);
    match j.answer {
        ChecklistAnswer::Yes => vec![format!("{} → {}", t(S::ClEvidence), t(S::ClAppendix))],
        ChecklistAnswer::No => {
            let findings = j
                .failing
                .iter()
                .map(|f| {
                    format!(
                        "{}: {} ({})",
                        t(S::ClFindings),
                        f.title.get(lang),
                        finding_subject(f)
                    )
                })
                .collect();
            let mut out = capped(findings, lang);
            let mut rules = BTreeSet::new();
            let fixes: Vec<String> = j
                .failing
                .iter()
                .filter(|f| rules.insert(f.rule_id.as_str()))
                .map(|f| format!("{}: {}", t(S::Remediation), f.remediation.get(lang)))
                .collect();
            out.extend(capped(fixes, lang));
            out
        }
        ChecklistAnswer::ToConfirm => capped(
            j.todo
                .iter()
                .map(|x| format!("{}: {x}", t(S::ClTodo)))
                .collect(),
            lang,
        ),
        ChecklistAnswer::Blank => vec![
            item.asks.get(lang).to_string(),
            format!(
                "{}: {}",
                t(S::ClAnsweredBy),
                item.answered_by
                    .iter()
                    .map(|a| a.label().get(lang).to_string())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ],
    }
}

fn appendix(j: &Judged<'_>, lang: Lang) -> Vec<AppendixLine> {
    let t = |s: S| s.get(lang);
    let mut out = Vec::new();
    for id in &j.absent {
        out.push(AppendixLine {
            control: id.to_string(),
            status: String::new(),
            kind: t(S::ClMissing),
            zone: String::new(),
            targets: String::new(),
            observation: String::new(),
            what: t(S::ClNotInAssessment).to_string(),
        });
    }
    for c in &j.results {
        let status = status_label(c.status).get(lang).to_string();
        for f in j.failing.iter().filter(|f| c.findings.contains(&f.key)) {
            out.push(AppendixLine {
                control: c.id.clone(),
                status: status.clone(),
                kind: t(S::ClFindings),
                zone: f.vantage_zone.clone().unwrap_or_default(),
                targets: finding_subject(f),
                observation: f.observation_ids.join(", "),
                what: format!("{} [{}]", f.title.get(lang), f.rule_id),
            });
        }
        for check in &c.checked {
            let zone = match &check.zone_pair {
                Some(p) => format!("{} → {}", p.from, p.to),
                None => check.vantage_zone.clone().unwrap_or_default(),
            };
            let mut what = check.rule_id.clone();
            if !check.facts.is_empty() {
                let _ = write!(what, ": {}", check.facts.join(", "));
            }
            out.push(AppendixLine {
                control: c.id.clone(),
                status: status.clone(),
                kind: t(S::ClChecked),
                zone,
                targets: check
                    .subjects
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                observation: check.observation_id.clone(),
                what,
            });
        }
        if c.status != ControlStatus::Fail {
            for m in &c.missing {
                out.push(AppendixLine {
                    control: c.id.clone(),
                    status: status.clone(),
                    kind: t(S::ClMissing),
                    zone: String::new(),
                    targets: m.subject.clone().unwrap_or_default(),
                    observation: String::new(),
                    what: match &m.rule_id {
                        Some(r) => format!("{} [{r}]", m.text.get(lang)),
                        None => m.text.get(lang).to_string(),
                    },
                });
            }
        }
    }
    out
}

impl<'a> ChecklistView<'a> {
    pub(crate) fn new(input: &ChecklistInput<'a>) -> ChecklistView<'a> {
        let lang = input.lang;
        let a = input.assessment;
        let mut rounds = Vec::new();
        let round_label = |n: u8| {
            if n == 1 {
                S::ClRound1.get(lang).to_string()
            } else {
                S::ClRound2.get(lang).to_string()
            }
        };
        match (input.form.columns.rounds, input.previous) {
            (2, Some(p)) => {
                rounds.push(Round {
                    label: round_label(1),
                    previous: true,
                    date: scan_date(p),
                });
                rounds.push(Round {
                    label: round_label(2),
                    previous: false,
                    date: scan_date(a),
                });
            }
            (2, None) => {
                rounds.push(Round {
                    label: round_label(1),
                    previous: false,
                    date: scan_date(a),
                });
                rounds.push(Round {
                    label: round_label(2),
                    previous: true,
                    date: String::new(),
                });
            }
            _ => rounds.push(Round {
                label: String::new(),
                previous: false,
                date: scan_date(a),
            }),
        }
        let sections = input
            .form
            .sections
            .iter()
            .map(|s| SectionView {
                number: s.number.clone(),
                title: s.title.get(lang).to_string(),
                rows: s
                    .items
                    .iter()
                    .map(|item| {
                        let current = judge(item, a, lang);
                        let previous = input.previous.map(|p| judge(item, p, lang));
                        Row {
                            item,
                            number: if item.number.is_empty() {
                                "—".to_string()
                            } else {
                                item.number.clone()
                            },
                            text: item_text(item, lang),
                            tags: [number_tag(item, lang), wording_tag(item, lang)]
                                .into_iter()
                                .flatten()
                                .collect(),
                            remarks: remarks(item, &current, lang),
                            appendix: appendix(&current, lang),
                            current,
                            previous,
                        }
                    })
                    .collect(),
            })
            .collect();
        let mut zones: Vec<String> = Vec::new();
        for o in &a.observations {
            if let Some(z) = &o.vantage_zone
                && !zones.contains(z)
            {
                zones.push(z.clone());
            }
        }
        ChecklistView {
            lang,
            form: input.form,
            site: a
                .site
                .clone()
                .unwrap_or_else(|| S::NotSet.get(lang).to_string()),
            scan_date: scan_date(a),
            vantages: if zones.is_empty() {
                S::NotSet.get(lang).to_string()
            } else {
                zones.join(", ")
            },
            generated: fmt_time(a.generated),
            rounds,
            sections,
            observations: a
                .observations
                .iter()
                .map(|o| {
                    (
                        o.id.clone(),
                        o.vantage_zone.clone().unwrap_or_default(),
                        fmt_time(o.started),
                    )
                })
                .collect(),
        }
    }

    /// The answer and the date a round shows for a row (blank for a round no scan fills).
    pub(crate) fn round_cells(&self, round: &Round, row: &Row<'_>) -> (String, String) {
        let judged = if round.previous {
            row.previous.as_ref()
        } else {
            Some(&row.current)
        };
        match judged {
            Some(j) if j.answer != ChecklistAnswer::Blank => {
                (j.answer.label(self.lang).to_string(), round.date.clone())
            }
            _ => (String::new(), String::new()),
        }
    }

    /// Whether a round's answer for a row is いいえ (its target date is for the clinic).
    pub(crate) fn round_is_no(round: &Round, row: &Row<'_>) -> bool {
        let judged = if round.previous {
            row.previous.as_ref()
        } else {
            Some(&row.current)
        };
        judged.is_some_and(|j| j.answer == ChecklistAnswer::No)
    }

    /// Lines of the form's header notes: the form's own notes and how to read the tags.
    pub(crate) fn column_notes(&self) -> Vec<String> {
        let lang = self.lang;
        let c = &self.form.columns;
        vec![
            format!(
                "{}: [{}]",
                S::ClColumnRounds.get(lang),
                c.rounds_tag.as_str()
            ),
            format!("{}: [{}]", S::ClColumnDate.get(lang), c.date_tag.as_str()),
            format!(
                "{}: [{}]",
                S::ClColumnTarget.get(lang),
                c.target_date_tag.as_str()
            ),
        ]
    }

    /// "2 / 3 / 1 / 12": how many items each answer got (this scan).
    pub(crate) fn counts(&self) -> String {
        let lang = self.lang;
        let all: Vec<ChecklistAnswer> = self
            .sections
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.current.answer))
            .collect();
        [
            (ChecklistAnswer::Yes, S::ClAnswerYes),
            (ChecklistAnswer::No, S::ClAnswerNo),
            (ChecklistAnswer::ToConfirm, S::ClAnswerConfirm),
            (ChecklistAnswer::Blank, S::ClAnswerBlank),
        ]
        .iter()
        .map(|(a, s)| format!("{} {}", s.get(lang), all.iter().filter(|x| *x == a).count()))
        .collect::<Vec<_>>()
        .join(" / ")
    }
}

// ------------------------------------------------------------------ HTML

const CSS: &str = r#"
@page{size:A4 landscape;margin:8mm 10mm}
*{box-sizing:border-box}
body{margin:0;color:#111;font:9pt/1.45 "Noto Sans CJK JP","Noto Sans JP","Hiragino Kaku Gothic ProN","Yu Gothic",Meiryo,sans-serif;background:#fff}
.sheet{max-width:277mm;margin:0 auto;padding:2mm 0}
.sheet+.sheet{break-before:page;page-break-before:always}
h1{font-size:13pt;margin:0 0 2mm}
h2{font-size:11pt;margin:0 0 2mm;border-bottom:1.5pt solid #13294b;padding-bottom:1mm}
.edition{font-size:9pt;margin:0 0 3mm;color:#333}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.5mm 4mm;margin:0 0 3mm}
dl.meta dt{color:#555}dl.meta dd{margin:0}
table{border-collapse:collapse;width:100%}
table.form{table-layout:fixed}
th,td{border:.6pt solid #777;padding:1mm 1.2mm;vertical-align:top;text-align:left}
th{background:#eef1f6;font-weight:600;font-size:8pt}
table.form td{font-size:7pt;line-height:1.25;padding:.5mm 1mm}
table.form th{font-size:7pt;padding:.5mm 1mm}
table.form td.no{font-weight:600}
table.form td.ans{text-align:center;white-space:nowrap;font-weight:700}
table.form td.date{white-space:nowrap;font-size:7.5pt}
td.a-yes{color:#1f7a3a}td.a-no{color:#c62828}td.a-confirm{color:#a35f00}
.tag{display:block;color:#7a4b00;font-size:6.5pt}
.rm{display:block}
.ex{font-size:7.5pt;color:#333}
ul.notes{margin:0 0 3mm;padding-left:5mm;font-size:8pt}
table.ev td{font-size:7pt;word-break:break-all}
.disclaimer{font-size:7.5pt;color:#444;margin-top:3mm}
"#;

fn answer_class(a: &str, lang: Lang) -> &'static str {
    if a == S::ClAnswerYes.get(lang) {
        "a-yes"
    } else if a == S::ClAnswerNo.get(lang) {
        "a-no"
    } else if a.is_empty() {
        "a-blank"
    } else {
        "a-confirm"
    }
}

/// Fixed column widths, so every section's table lays out alike on its landscape page.
fn colgroup(rounds: usize) -> String {
    let mut c = String::from("<colgroup><col style=\"width:19mm\"><col style=\"width:62mm\">");
    for _ in 0..rounds {
        c.push_str(
            "<col style=\"width:17mm\"><col style=\"width:13mm\"><col style=\"width:15mm\">",
        );
    }
    c.push_str("<col></colgroup>");
    c
}

fn page_head(out: &mut String, lang: Lang, title: &str) {
    let html_lang = match lang {
        Lang::Ja => "ja",
        Lang::En => "en",
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{html_lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<meta name=\"generator\" content=\"clinicscan {}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
}

/// The checklist as one printable HTML file: a cover page (who, when, how to read it), one
/// A4 page (landscape) per section of the form, then the evidence appendix.
pub fn render_checklist(input: &ChecklistInput<'_>) -> String {
    let v = ChecklistView::new(input);
    let lang = v.lang;
    let t = |s: S| s.get(lang);
    let mut out = String::new();
    page_head(&mut out, lang, v.form.title.get(lang));

    // Cover.
    let _ = write!(
        out,
        "<section class=\"sheet cover\" id=\"cover\">\n<h1>{}</h1>\n<p class=\"edition\">{}</p>\n<dl class=\"meta\">\
<dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
<dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd>{}</dd></dl>\n",
        esc(v.form.title.get(lang)),
        esc(v.form.edition_label.get(lang)),
        t(S::ClSite),
        esc(&v.site),
        t(S::ClScanDates),
        esc(&v.scan_date),
        t(S::ClVantages),
        esc(&v.vantages),
        t(S::ClGenerated),
        esc(&v.generated),
        t(S::ClFormData),
        esc(&v.form.edition),
        esc(v.form.updated.as_deref().unwrap_or("")),
        t(S::ClCounts),
        esc(&v.counts()),
    );
    let _ = write!(
        out,
        "<h2>{}</h2>\n<table class=\"legend\"><tbody>",
        t(S::ClHowToRead)
    );
    for (a, l) in [
        (S::ClAnswerYes, S::ClLegendYes),
        (S::ClAnswerNo, S::ClLegendNo),
        (S::ClAnswerConfirm, S::ClLegendConfirm),
        (S::ClAnswerBlank, S::ClLegendBlank),
    ] {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", t(a), t(l));
    }
    let _ = write!(
        out,
        "</tbody></table>\n<h2>{}</h2>\n<ul class=\"notes\">",
        t(S::ClAboutForm)
    );
    for n in &v.form.notes {
        let _ = write!(out, "<li>{}</li>", esc(n.get(lang)));
    }
    for n in v.column_notes() {
        let _ = write!(out, "<li>{}</li>", esc(&n));
    }
    let _ = write!(
        out,
        "<li>{}</li><li>{}</li></ul>\n<p class=\"disclaimer\">{}</p>\n</section>\n",
        t(S::ClTagLegend),
        t(S::ClTagKinds),
        t(S::ClDisclaimer)
    );

    // One sheet per section.
    for (si, s) in v.sections.iter().enumerate() {
        let _ = write!(
            out,
            "<section class=\"sheet form-section\" id=\"section-{si}\" data-section=\"{}\">\n<h2>{} {}</h2>\n\
<table class=\"form\">{}<thead><tr><th rowspan=\"2\">{}</th><th rowspan=\"2\">{}</th>",
            esc(&s.number),
            esc(&s.number),
            esc(&s.title),
            colgroup(v.rounds.len()),
            t(S::ClNumber),
            t(S::ClItem),
        );
        for r in &v.rounds {
            let _ = write!(
                out,
                "<th colspan=\"3\">{}</th>",
                if r.label.is_empty() {
                    t(S::ClCurrent).to_string()
                } else {
                    esc(&r.label)
                }
            );
        }
        let _ = write!(out, "<th rowspan=\"2\">{}</th></tr><tr>", t(S::ClRemarks));
        for _ in &v.rounds {
            let _ = write!(
                out,
                "<th>{}</th><th>{}</th><th>{}</th>",
                t(S::ClDate),
                t(S::ClAnswer),
                t(S::ClTargetDate)
            );
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &s.rows {
            let _ = write!(
                out,
                "<tr data-number=\"{}\" data-answer=\"{}\" data-control=\"{}\"><td class=\"no\">{}<span class=\"tag\">{}</span></td><td>{}",
                esc(&row.item.number),
                row.current.answer.label(Lang::En),
                esc(row.item.control.as_deref().unwrap_or("")),
                esc(&row.number),
                esc(&short_tags(row.item, lang)),
                esc(&row.text)
            );
            out.push_str("</td>");
            for r in &v.rounds {
                let (answer, date) = v.round_cells(r, row);
                let target = if ChecklistView::round_is_no(r, row) {
                    format!("<span class=\"ex\">({})</span>", t(S::ClToFill))
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<td class=\"date\">{}</td><td class=\"ans {}\">{}</td><td class=\"fill\">{target}</td>",
                    esc(&date),
                    answer_class(&answer, lang),
                    esc(&answer),
                );
            }
            out.push_str("<td>");
            for line in &row.remarks {
                let _ = write!(out, "<span class=\"rm\">{}</span>", esc(line));
            }
            out.push_str("</td></tr>\n");
        }
        out.push_str("</tbody></table>\n</section>\n");
    }

    // The evidence appendix.
    let _ = write!(
        out,
        "<section class=\"sheet appendix\" id=\"appendix\">\n<h2>{}</h2>\n<p>{}</p>\n<h3>{}</h3>\n\
<table class=\"ev\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        t(S::ClAppendix),
        t(S::ClAppendixIntro),
        t(S::ClObservations),
        t(S::ClObservation),
        t(S::VantageZone),
        t(S::ScanStarted),
    );
    for (id, zone, started) in &v.observations {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            esc(zone),
            esc(started)
        );
    }
    out.push_str("</tbody></table>\n");
    for s in &v.sections {
        for row in s.rows.iter().filter(|r| !r.appendix.is_empty()) {
            let _ = write!(
                out,
                "<h3 data-number=\"{}\">{} {} — {}</h3>\n<table class=\"ev\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
                esc(&row.item.number),
                esc(&row.number),
                esc(&row.text),
                esc(row.current.answer.label(lang)),
                t(S::ControlId),
                t(S::Status),
                t(S::ClKind),
                t(S::VantageZone),
                t(S::ClTargets),
                t(S::ClObservation),
                t(S::ClWhat),
            );
            for l in &row.appendix {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&l.control),
                    esc(&l.status),
                    esc(l.kind),
                    esc(&l.zone),
                    esc(&l.targets),
                    esc(&l.observation),
                    esc(&l.what)
                );
            }
            out.push_str("</tbody></table>\n");
        }
    }
    out.push_str("</section>\n</body>\n</html>\n");
    out
}

// ------------------------------------------------------------------ the vendor form

fn outcome_label(o: &Outcome, lang: Lang) -> String {
    match o {
        Outcome::Pass => S::PrecheckPass.get(lang).to_string(),
        Outcome::Fail => S::PrecheckFail.get(lang).to_string(),
        Outcome::NotApplicable => S::PrecheckNotApplicable.get(lang).to_string(),
        Outcome::NotVerified(why) => {
            format!("{}: {}", S::PrecheckNotVerified.get(lang), why.get(lang))
        }
        Outcome::Error(m) => format!("{}: {m}", S::PrecheckError.get(lang)),
    }
}

/// The vendor's form (事業者確認用) with the evidence a pre-check gives for each item it can
/// speak to, for the vendor to attach. The reference has no wording for these items, so
/// none is answered: each row shows clinicscan's topic and the pre-check's results.
pub fn render_precheck_checklist(
    form: &ChecklistForm,
    report: &PrecheckReport,
    lang: Lang,
) -> String {
    let t = |s: S| s.get(lang);
    let mut out = String::new();
    page_head(&mut out, lang, form.title.get(lang));
    let _ = write!(
        out,
        "<section class=\"sheet cover\" id=\"cover\">\n<h1>{}</h1>\n<p class=\"edition\">{}</p>\n<dl class=\"meta\">\
<dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>\n<ul class=\"notes\">",
        esc(form.title.get(lang)),
        esc(form.edition_label.get(lang)),
        t(S::ClDevice),
        esc(&report.host.to_string()),
        t(S::ClProfile),
        esc(report.profile_title.get(lang)),
        esc(&report.profile),
        t(S::ClScanDates),
        esc(&report.started.map(jst_date).unwrap_or_default()),
        t(S::ClVantages),
        esc(report.vantage_zone.as_deref().unwrap_or(t(S::NotSet))),
        t(S::ClObservation),
        esc(report.observation_id.as_deref().unwrap_or("")),
    );
    for n in &form.notes {
        let _ = write!(out, "<li>{}</li>", esc(n.get(lang)));
    }
    let _ = write!(
        out,
        "<li>{}</li></ul>\n<p class=\"disclaimer\">{}</p>\n",
        t(S::ClTagLegend),
        t(S::ClDisclaimer)
    );
    if !report.host_found {
        let _ = writeln!(out, "<p>{}</p>", t(S::PrecheckHostMissing));
    } else if !report.host_answered {
        let _ = writeln!(out, "<p>{}</p>", t(S::PrecheckNoAnswer));
    }
    for s in &form.sections {
        let _ = write!(
            out,
            "<h2>{} {}</h2>\n<table class=\"form\"><colgroup><col style=\"width:19mm\"><col style=\"width:55mm\"><col style=\"width:14mm\"><col><col style=\"width:75mm\"></colgroup><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>\n",
            esc(&s.number),
            esc(s.title.get(lang)),
            t(S::ClNumber),
            t(S::ClItem),
            t(S::ClAnswer),
            t(S::ClExpectation),
            t(S::ClRemarks),
        );
        for item in &s.items {
            let results: Vec<_> = report
                .results
                .iter()
                .filter(|r| r.controls.iter().any(|c| item.evidence.contains(c)))
                .collect();
            let number = if item.number.is_empty() {
                "—".to_string()
            } else {
                item.number.clone()
            };
            let _ = write!(
                out,
                "<tr data-number=\"{}\" data-answer=\"\"><td class=\"no\">{}</td><td>{}",
                esc(&item.number),
                esc(&number),
                esc(&item_text(item, lang))
            );
            for tag in [number_tag(item, lang), wording_tag(item, lang)]
                .into_iter()
                .flatten()
            {
                let _ = write!(out, "<span class=\"tag\">{}</span>", esc(&tag));
            }
            out.push_str("</td><td class=\"ans a-blank\"></td><td>");
            if results.is_empty() {
                let _ = write!(out, "<span class=\"rm\">{}</span>", t(S::ClProfileNone));
            }
            for r in &results {
                let ports = port_checks(&r.ports, lang);
                let _ = write!(
                    out,
                    "<span class=\"rm\">[{}] {} — {}{}</span>",
                    esc(&outcome_label(&r.outcome, lang)),
                    esc(&r.id),
                    esc(r.title.get(lang)),
                    if ports.is_empty() {
                        String::new()
                    } else {
                        esc(&format!(" ({}: {ports})", t(S::PrecheckPorts)))
                    }
                );
                if r.outcome == Outcome::Fail {
                    let _ = write!(
                        out,
                        "<span class=\"rm ex\">{}: {}</span>",
                        t(S::Remediation),
                        esc(r.remediation.get(lang))
                    );
                }
            }
            out.push_str("</td><td>");
            if !results.is_empty() && results.iter().all(|r| r.outcome == Outcome::NotApplicable) {
                let _ = write!(
                    out,
                    "<span class=\"rm\">{}</span>",
                    t(S::ClNothingApplicable)
                );
            }
            if item.wording == Wording::Unknown {
                let _ = write!(
                    out,
                    "<span class=\"rm\">{}</span>",
                    t(S::ClWordingUnknownTodo)
                );
            }
            if let Some(org) = &item.organisational {
                let _ = write!(out, "<span class=\"rm\">{}</span>", esc(org.get(lang)));
            }
            let _ = write!(
                out,
                "<span class=\"rm ex\">{}</span>",
                esc(item.asks.get(lang))
            );
            out.push_str("</td></tr>\n");
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n</body>\n</html>\n");
    out
}
