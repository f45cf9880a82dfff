//! Shared helpers: fixture loading and cached assessments.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use clinicscan_model::{Assessment, Observation};
use clinicscan_policy::{AssessOptions, RuleSet, Site, assess_with};

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/policy")
        .join(name)
}

pub fn observation(name: &str) -> Observation {
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture readable");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn rules() -> &'static RuleSet {
    static R: OnceLock<RuleSet> = OnceLock::new();
    R.get_or_init(|| RuleSet::shipped().unwrap_or_else(|e| panic!("{e}")))
}

pub fn site(name: &str) -> Site {
    Site::from_file(&fixture_path(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// The site a fixture is assessed with.
pub fn site_for(fixture: &str) -> Site {
    if fixture.starts_with("lab-") {
        site("lab-site.toml")
    } else {
        site("test-site.toml")
    }
}

pub fn opts() -> AssessOptions {
    AssessOptions {
        editions: None,
        tool_version: "test".into(),
        now: "2026-11-20T02:00:00Z".parse().expect("time"),
    }
}

/// The assessment of one fixture with its site (cached).
pub fn assessed(fixture: &str) -> Assessment {
    static CACHE: OnceLock<Mutex<HashMap<String, Assessment>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(a) = cache.lock().expect("lock").get(fixture) {
        return a.clone();
    }
    let a = assess_with(
        &[observation(fixture)],
        Some(&site_for(fixture)),
        rules(),
        &opts(),
    );
    assert!(
        a.rule_errors.is_empty(),
        "{fixture}: rule errors {:?}",
        a.rule_errors
    );
    cache
        .lock()
        .expect("lock")
        .insert(fixture.to_string(), a.clone());
    a
}

/// Asserts the rule fires on the fixture with exactly this finding key, and stays quiet
/// (no finding at all) on the quiet fixture.
pub fn fires_and_quiet(rule: &str, fire_fixture: &str, key: &str, quiet_fixture: &str) {
    let a = assessed(fire_fixture);
    let keys: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .map(|f| f.key.as_str())
        .collect();
    assert!(
        keys.contains(&key),
        "{rule} should fire on {fire_fixture} with key {key}; it fired with {keys:?}"
    );
    let q = assessed(quiet_fixture);
    let quiet: Vec<&str> = q
        .findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .map(|f| f.key.as_str())
        .collect();
    assert!(
        quiet.is_empty(),
        "{rule} should stay quiet on {quiet_fixture}; fired {quiet:?}"
    );
}
