//! The inspection checklist filled from a real v2 Assessment (`assessment-verdicts.json`:
//! the lab seen from four zones): an item answered はい lists its evidence, a failed one
//! answers いいえ with its findings and what to do, a not-verified one answers 要確認 with
//! what to do, an organisational one is blank — never はい, whatever its control says. The
//! workbook is read back by openpyxl (Debian's python3-openpyxl) and must hold the same
//! answers.

use std::collections::BTreeMap;
use std::process::Command;

mod common;

use clinicscan_model::{Assessment, Audience, ChecklistForm, ControlStatus, Lang};
use clinicscan_policy::Catalogue;
use clinicscan_report::{
    ChecklistAnswer, ChecklistInput, checklist_answers, render_checklist, render_checklist_xlsx,
};
use common::load;

fn form() -> ChecklistForm {
    Catalogue::shipped()
        .expect("shipped catalogue")
        .form_for(Audience::MedicalInstitution, &["checklist-R7".to_string()])
        .expect("R7 form")
        .clone()
}

fn verdicts() -> Assessment {
    load("assessment-verdicts.json")
}

fn answers(form: &ChecklistForm, a: &Assessment) -> BTreeMap<String, ChecklistAnswer> {
    checklist_answers(&ChecklistInput {
        form,
        assessment: a,
        previous: None,
        lang: Lang::Ja,
    })
    .into_iter()
    .map(|i| (i.control.unwrap_or_default(), i.answer))
    .collect()
}

/// The row of an item in the HTML, by its number.
fn row<'a>(html: &'a str, number: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-number=\"{number}\""))
        .unwrap_or_else(|| panic!("no row {number}"));
    let end = html[start..].find("</tr>").expect("row ends") + start;
    &html[start..end]
}

/// The appendix block of an item.
fn appendix<'a>(html: &'a str, number: &str) -> &'a str {
    let start = html
        .find(&format!("<h3 data-number=\"{number}\""))
        .unwrap_or_else(|| panic!("no appendix for {number}"));
    let end = html[start..].find("</table>").expect("table ends") + start;
    &html[start..end]
}

#[test]
fn each_item_is_answered_from_its_controls_verdicts() {
    let form = form();
    let a = verdicts();
    let got = answers(&form, &a);
    use ChecklistAnswer::*;
    let want = [
        ("CL-R7-1-1", Blank),
        ("CL-R7-1-RULES", Blank),
        ("CL-R7-2-1", No),
        ("CL-R7-2-2", ToConfirm),
        ("CL-R7-2-3", Blank),
        ("CL-R7-2-4", Blank),
        ("CL-R7-2-5", Blank),
        ("CL-R7-2-6", ToConfirm),
        ("CL-R7-2-7", ToConfirm),
        ("CL-R7-2-8", ToConfirm),
        ("CL-R7-2-9", Blank),
        ("CL-R7-2-10", ToConfirm),
        ("CL-R7-2-11", Blank),
        ("CL-R7-2-12", Yes),
        ("CL-R7-2-13", No),
        ("CL-R7-3-1", Blank),
        ("CL-R7-3-2", ToConfirm),
        ("CL-R7-3-3", Blank),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>()
    );
}

#[test]
fn the_html_backs_each_answer() {
    let form = form();
    let a = verdicts();
    let html = render_checklist(&ChecklistInput {
        form: &form,
        assessment: &a,
        previous: None,
        lang: Lang::Ja,
    });
    // The edition it follows, and that its wording is the draft's.
    assert!(html.contains("令和7年度版 医療機関確認用"));
    assert!(row(&html, "2-⑫").contains("番号[D] 文言[D]"));
    assert!(row(&html, "2-④").contains("番号[U] 要約[U]"));

    // はい: the scan's date, and the evidence in the appendix: what was checked, from
    // which zone, on which hosts and ports.
    let yes = row(&html, "2-⑫");
    assert!(yes.contains("data-answer=\"Yes\""), "{yes}");
    assert!(yes.contains("2026-11-20"), "{yes}");
    let c = a
        .controls
        .iter()
        .find(|c| c.id == "CL-R7-2-12")
        .expect("control");
    let ev = appendix(&html, "2-⑫");
    for check in &c.checked {
        assert!(ev.contains(&check.rule_id), "{ev}");
        assert!(ev.contains(&check.observation_id), "{ev}");
        for s in &check.subjects {
            assert!(ev.contains(&s.to_string()), "{s} not in {ev}");
        }
        if let Some(z) = &check.vantage_zone {
            assert!(ev.contains(z.as_str()), "{ev}");
        }
    }

    // いいえ: the findings, what to do, and a target date left for the clinic.
    let no = row(&html, "2-⑬");
    assert!(no.contains("data-answer=\"No\""), "{no}");
    assert!(no.contains("指摘: "), "{no}");
    assert!(no.contains("対処方法: "), "{no}");
    assert!(no.contains("(記入欄)"), "{no}");
    let failing = a
        .findings
        .iter()
        .find(|f| f.key == "oqv-remote-access-reachable|10.77.30.10|tcp/3389|from:general")
        .expect("finding");
    assert!(no.contains(&failing.title.ja), "{no}");
    assert!(
        appendix(&html, "2-⑬").contains("10.77.30.10:3389/tcp"),
        "the appendix lists the failing host and port"
    );

    // 要確認: what to do (the organisational part to confirm).
    let confirm = row(&html, "2-②");
    assert!(confirm.contains("data-answer=\"To confirm\""), "{confirm}");
    assert!(confirm.contains("確認すること: "), "{confirm}");

    // Blank: what the item asks and who answers it; no answer, no date.
    let blank = row(&html, "1-①");
    assert!(blank.contains("data-answer=\"\""), "{blank}");
    assert!(blank.contains("責任を持つ人"), "{blank}");
    assert!(blank.contains("回答する人: 院長(管理者)"), "{blank}");
    assert!(!blank.contains("2026-11-20"), "{blank}");

    // The item whose number the reference does not know says so.
    assert!(html.contains("番号不明[U] 要約[U]"));
    assert!(html.contains("番号欄の記号"));

    // English for vendors.
    let en = render_checklist(&ChecklistInput {
        form: &form,
        assessment: &a,
        previous: None,
        lang: Lang::En,
    });
    assert!(en.contains("FY2025 (R7) edition"));
    assert!(row(&en, "2-⑫").contains(">Yes<"));
}

/// An organisational item stays blank and an item with an organisational part is never
/// はい, even when every control says pass; a pass with nothing checked (an Assessment of
/// schema v1) is not evidence either.
#[test]
fn nothing_but_evidence_answers_yes() {
    let form = form();
    let mut a = verdicts();
    for c in &mut a.controls {
        if c.id.starts_with("CL-R7-") {
            if c.checked.is_empty() {
                c.checked = a_check();
            }
            c.status = ControlStatus::Pass;
            c.findings.clear();
            c.missing.clear();
        }
    }
    let got = answers(&form, &a);
    for item in form.items() {
        let id = item.control.clone().unwrap_or_default();
        let want = if item.evidence.is_empty() {
            ChecklistAnswer::Blank
        } else if item.organisational.is_some() {
            ChecklistAnswer::ToConfirm
        } else {
            ChecklistAnswer::Yes
        };
        assert_eq!(got[&id], want, "{id}");
    }
    // The v1 pass: no evidence recorded.
    for c in &mut a.controls {
        c.checked.clear();
    }
    assert_eq!(got_of(&form, &a, "CL-R7-2-12"), ChecklistAnswer::ToConfirm);
    let html = render_checklist(&ChecklistInput {
        form: &form,
        assessment: &a,
        previous: None,
        lang: Lang::Ja,
    });
    assert!(row(&html, "2-⑫").contains("適合の根拠が記録されていません"));
}

fn got_of(form: &ChecklistForm, a: &Assessment, id: &str) -> ChecklistAnswer {
    answers(form, a)[id]
}

fn a_check() -> Vec<clinicscan_model::Check> {
    verdicts()
        .controls
        .iter()
        .find(|c| c.id == "CL-R7-2-12")
        .expect("control")
        .checked
        .clone()
}

/// The previous scan fills the first round, with its own date; this scan the second.
#[test]
fn the_previous_scan_fills_the_first_round() {
    let form = form();
    let a = verdicts();
    let mut prev = verdicts();
    prev.observations.iter_mut().for_each(|o| {
        o.started -= chrono::Duration::days(7);
    });
    for c in &mut prev.controls {
        if c.id == "CL-R7-2-12" {
            c.status = ControlStatus::Fail;
        }
    }
    let items = checklist_answers(&ChecklistInput {
        form: &form,
        assessment: &a,
        previous: Some(&prev),
        lang: Lang::Ja,
    });
    let twelve = items.iter().find(|i| i.number == "2-⑫").expect("item 2-⑫");
    assert_eq!(
        (twelve.previous, twelve.answer),
        (Some(ChecklistAnswer::No), ChecklistAnswer::Yes)
    );
    let html = render_checklist(&ChecklistInput {
        form: &form,
        assessment: &a,
        previous: Some(&prev),
        lang: Lang::Ja,
    });
    let r = row(&html, "2-⑫");
    let first = r.find("2026-11-13").expect("the previous scan's date");
    let second = r.find("2026-11-20").expect("this scan's date");
    assert!(first < second, "{r}");
    assert!(r.find("いいえ").expect("previous answer") < r.find("はい").expect("answer"));
}

/// The workbook, read back by openpyxl: the form's sheet holds every item's answer and
/// date in its round, the evidence sheet the hosts and ports the passes rest on.
#[test]
fn the_workbook_reads_back_in_openpyxl() {
    // Debian's python, which python3-openpyxl installs into (another python3 on the PATH
    // may lack it).
    let python = "/usr/bin/python3";
    let form = form();
    let a = verdicts();
    let input = ChecklistInput {
        form: &form,
        assessment: &a,
        previous: None,
        lang: Lang::Ja,
    };
    let bytes = render_checklist_xlsx(&input).expect("workbook");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.xlsx");
    std::fs::write(&path, &bytes).unwrap();
    const SCRIPT: &str = r#"
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {}
for ws in wb.worksheets:
    out[ws.title] = [["" if c is None else str(c) for c in row] for row in ws.iter_rows(values_only=True)]
print(json.dumps(out, ensure_ascii=False))
"#;
    let o = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&path)
        .output()
        .expect("/usr/bin/python3: run scripts/install-deps");
    assert!(
        o.status.success(),
        "openpyxl (python3-openpyxl, scripts/install-deps): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sheets: BTreeMap<String, Vec<Vec<String>>> =
        serde_json::from_slice(&o.stdout).expect("JSON");
    let names: Vec<&String> = sheets.keys().collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let rows = &sheets["チェック項目"];
    assert_eq!(rows[0][0], form.title.ja);
    // The heading: number, item, then per round date / answer / target date, then remarks.
    let heading = rows
        .iter()
        .position(|r| r[0] == "番号")
        .expect("heading row");
    assert_eq!(rows[heading][2], "1回目");
    assert_eq!(
        rows[heading + 1][2..5],
        ["確認日", "はい・いいえ", "目標日"]
    );
    let by_number: BTreeMap<&str, &Vec<String>> = rows
        .iter()
        .skip(heading + 2)
        .filter(|r| !r[0].is_empty() && r.len() > 8)
        .map(|r| (r[0].as_str(), r))
        .collect();
    for item in checklist_answers(&input) {
        let number = if item.number.is_empty() {
            "—"
        } else {
            item.number.as_str()
        };
        let r = by_number
            .get(number)
            .unwrap_or_else(|| panic!("no row {number}"));
        assert_eq!(r[3], item.answer.label(Lang::Ja), "{number}");
        let date = if item.answer == ChecklistAnswer::Blank {
            ""
        } else {
            "2026-11-20"
        };
        assert_eq!(r[2], date, "{number}");
        // The target date stays the clinic's to write; the second round is blank.
        assert_eq!(r[4..8], ["", "", "", ""], "{number}");
    }
    assert!(by_number["2-⑬"][8].contains("指摘: "));
    assert!(by_number["1-①"][8].contains("回答する人"));

    let ev = &sheets["証跡"];
    let c = a
        .controls
        .iter()
        .find(|c| c.id == "CL-R7-2-12")
        .expect("control");
    for check in &c.checked {
        let subjects = check
            .subjects
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        assert!(
            ev.iter().any(|r| r[0] == "2-⑫"
                && r[1] == "CL-R7-2-12"
                && r[5] == subjects
                && r[6] == check.observation_id),
            "no evidence row for {} in the workbook",
            check.rule_id
        );
    }
}
