//! The SIEM events (JSON Lines) against the checked-in schema `schemas/event.v1.json`:
//! every event of every fixture assessment, in both languages, validates; one event per
//! finding and per control; ids unique and stable.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clinicscan_model::{Assessment, Lang, Observation};
use clinicscan_report::{ReportInput, events, render_jsonl};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = root().join("../../fixtures/report").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/event.v1.json")).unwrap(),
    )
    .unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

#[test]
fn every_event_validates_against_the_checked_in_schema() {
    let v = validator();
    for (o, a) in [
        ("observation.json", "assessment.json"),
        ("observation-prev.json", "assessment-prev.json"),
        ("observation-hostile.json", "assessment-hostile.json"),
        ("observation-empty.json", "assessment-empty.json"),
    ] {
        let observations: Vec<Observation> = vec![load(o)];
        let mut assessment: Assessment = load(a);
        for site_id in [None, Some("tokyo-sakura.01".to_string())] {
            assessment.site_id = site_id;
            for lang in [Lang::Ja, Lang::En] {
                let input = ReportInput {
                    assessment: &assessment,
                    observations: &observations,
                    diff: None,
                    seen: None,
                    lang,
                };
                let evs = events(&input);
                assert_eq!(
                    evs.len(),
                    assessment.findings.len() + assessment.controls.len()
                );
                for e in &evs {
                    let errors: Vec<String> = v
                        .iter_errors(e)
                        .map(|x| format!("{x} at {}", x.instance_path()))
                        .collect();
                    assert!(errors.is_empty(), "{a} {lang:?}: {errors:?}\n{e:#}");
                }
                let ids: BTreeSet<&str> = evs
                    .iter()
                    .filter_map(|e| e.pointer("/event/id").and_then(Value::as_str))
                    .collect();
                assert_eq!(ids.len(), evs.len(), "{a}: event ids unique");
                // JSON Lines: one object a line, nothing else, the same events.
                let lines = render_jsonl(&input);
                let parsed: Vec<Value> = lines
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(parsed, evs);
                assert!(lines.ends_with('\n'));
            }
        }
    }
}

#[test]
fn finding_events_carry_the_ecs_fields_a_siem_filters_on() {
    let observations: Vec<Observation> = vec![load("observation.json")];
    let mut assessment: Assessment = load("assessment.json");
    assessment.site_id = Some("tokyo-sakura".into());
    let evs = events(&ReportInput {
        assessment: &assessment,
        observations: &observations,
        diff: None,
        seen: None,
        lang: Lang::En,
    });
    let f = &evs[0];
    // Most severe first, then by key.
    let worst = assessment
        .findings
        .iter()
        .min_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.key.cmp(&b.key)))
        .unwrap();
    assert_eq!(f["event"]["dataset"], "clinicscan.finding");
    assert_eq!(f["event"]["kind"], "state");
    assert_eq!(f["event"]["category"][0], "vulnerability");
    assert_eq!(f["vulnerability"]["severity"], "Critical");
    assert_eq!(f["event"]["severity"], 99);
    assert_eq!(f["host"]["ip"][0], worst.host.to_string());
    assert_eq!(f["destination"]["ip"], worst.host.to_string());
    assert_eq!(f["rule"]["id"], worst.rule_id.as_str());
    assert_eq!(f["observer"]["hostname"], "scanner01");
    assert_eq!(f["clinicscan"]["site"]["id"], "tokyo-sakura");
    assert_eq!(
        f["event"]["id"],
        format!("{}/{}", observations[0].scan.id, worst.key)
    );
    let control = evs
        .iter()
        .find(|e| e["clinicscan"]["control"]["status"] == "fail")
        .unwrap();
    assert_eq!(control["event"]["outcome"], "failure");
    assert_eq!(control["event"]["category"][0], "configuration");
}
