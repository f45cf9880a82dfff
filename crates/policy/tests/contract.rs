//! Fixture Observations and produced Assessments all validate against the checked-in JSON
//! Schemas of the model (the public contract); imported nmap runs are checked in
//! crates/import.

mod common;

use serde_json::Value;

fn validator(name: &str) -> jsonschema::Validator {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/model/schemas")
        .join(name);
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(p).expect("schema")).expect("json");
    jsonschema::validator_for(&schema).expect("valid schema")
}

fn assert_valid(v: &jsonschema::Validator, what: &str, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:?}");
}

const FIXTURES: [&str; 16] = [
    "clean-general.json",
    "clean-clinical.json",
    "clean-guest.json",
    "clean-oqv.json",
    "unverified.json",
    "lab-terminal-general.json",
    "precheck-terminal.json",
    "bad.json",
    "good.json",
    "empty.json",
    "lab-general.json",
    "lab-general-isolated.json",
    "lab-guest.json",
    "lab-guest-isolated.json",
    "lab-oqv.json",
    "lab-oqv-closed.json",
];

#[test]
fn fixture_observations_follow_the_observation_schema() {
    let v = validator("observation.v1.json");
    for f in FIXTURES {
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(common::fixture_path(f)).expect("fixture"),
        )
        .expect("json");
        assert_valid(&v, f, &doc);
    }
}

#[test]
fn assessments_follow_the_assessment_schema_and_round_trip() {
    let v = validator("assessment.v2.json");
    for f in FIXTURES {
        let a = common::assessed(f);
        let doc = serde_json::to_value(&a).expect("json");
        assert_valid(&v, f, &doc);
        let back: clinicscan_model::Assessment = serde_json::from_value(doc).expect("round trip");
        assert_eq!(back, a);
    }
}
