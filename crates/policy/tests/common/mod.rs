//! Shared helpers: fixture loading and cached assessments.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use clinicscan_model::{Assessment, ControlResult, ControlStatus, MissingKind, Observation};
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
    if fixture.starts_with("lab-terminal") {
        site("lab-site-terminal.toml")
    } else if fixture.starts_with("lab-") || fixture.starts_with("clean-") {
        site("lab-site.toml")
    } else {
        site("test-site.toml")
    }
}

/// The scenarios verdicts are judged on: Observations (from one or several vantages) and
/// the site file, assessed with every edition of the catalogue.
fn scenario_parts(name: &str) -> (Vec<&'static str>, Option<&'static str>) {
    match name {
        "bad" => (vec!["bad.json"], Some("test-site.toml")),
        "good" => (vec!["good.json"], Some("test-site.toml")),
        "empty" => (vec!["empty.json"], Some("test-site.toml")),
        "unverified" => (vec!["unverified.json"], Some("test-site.toml")),
        // The isolated clinic from the general LAN, the clinical LAN, guest Wi-Fi and the
        // オン資 zone.
        "clean" => (
            vec![
                "clean-general.json",
                "clean-clinical.json",
                "clean-guest.json",
                "clean-oqv.json",
            ],
            Some("lab-site.toml"),
        ),
        "lab-general" => (vec!["lab-general.json"], Some("lab-site.toml")),
        "lab-general-isolated" => (vec!["lab-general-isolated.json"], Some("lab-site.toml")),
        "lab-guest" => (vec!["lab-guest.json"], Some("lab-site.toml")),
        "lab-oqv" => (vec!["lab-oqv.json"], Some("lab-site.toml")),
        "terminal" => (
            vec!["lab-terminal-general.json"],
            Some("lab-site-terminal.toml"),
        ),
        // The first thing a new user runs: no site file.
        "nosite" => (vec!["lab-general.json"], None),
        other => panic!("no scenario {other}"),
    }
}

/// A scenario's assessment, every edition included (cached).
pub fn scenario(name: &str) -> Assessment {
    static CACHE: OnceLock<Mutex<HashMap<String, Assessment>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(a) = cache.lock().expect("lock").get(name) {
        return a.clone();
    }
    let (fixtures, site_file) = scenario_parts(name);
    let obs: Vec<Observation> = fixtures.iter().map(|f| observation(f)).collect();
    let site = site_file.map(site);
    let mut o = opts();
    o.editions = Some(
        rules()
            .catalogue()
            .editions()
            .iter()
            .map(|e| e.key.clone())
            .collect(),
    );
    let a = assess_with(&obs, site.as_ref(), rules(), &o);
    assert!(
        a.rule_errors.is_empty(),
        "{name}: rule errors {:?}",
        a.rule_errors
    );
    cache
        .lock()
        .expect("lock")
        .insert(name.to_string(), a.clone());
    a
}

/// A control's result in an assessment.
pub fn control<'a>(a: &'a Assessment, id: &str) -> &'a ControlResult {
    a.controls
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("{id} is not listed"))
}

/// What a case expects of a control.
#[derive(Debug, Clone, Copy)]
pub enum Verdict {
    /// Fails, listing the findings that fail it.
    Fail,
    /// Passes, listing what was checked and missing nothing.
    Pass,
    /// Not verified, with a missing piece of this kind whose English text or subject
    /// contains this (an empty string: any of the kind).
    NotVerified(MissingKind, &'static str),
}

impl Verdict {
    /// The status it expects.
    pub fn status(&self) -> ControlStatus {
        match self {
            Verdict::Fail => ControlStatus::Fail,
            Verdict::Pass => ControlStatus::Pass,
            Verdict::NotVerified(..) => ControlStatus::NotVerified,
        }
    }
}

/// Asserts a control's verdict on a scenario, and the evidence the verdict must carry.
pub fn verdict(id: &str, expected: &Verdict, scenario_name: &str) {
    let a = scenario(scenario_name);
    let c = control(&a, id);
    let at = format!("{id} on {scenario_name}");
    assert_eq!(
        c.status,
        expected.status(),
        "{at}: findings {:?}, missing {:#?}",
        c.findings,
        c.missing
    );
    let obs_ids: Vec<&str> = a.observations.iter().map(|o| o.id.as_str()).collect();
    match expected {
        Verdict::Fail => {
            assert!(!c.findings.is_empty(), "{at}: a fail without findings");
            for k in &c.findings {
                let f = a
                    .findings
                    .iter()
                    .find(|f| &f.key == k)
                    .unwrap_or_else(|| panic!("{at}: {k} is no finding"));
                assert_eq!(f.certainty, clinicscan_model::Certainty::Fact, "{at}: {k}");
            }
        }
        Verdict::Pass => {
            assert!(c.missing.is_empty(), "{at}: a pass missing {:?}", c.missing);
            assert!(!c.checked.is_empty(), "{at}: a pass without evidence");
            for ch in &c.checked {
                assert!(
                    obs_ids.contains(&ch.observation_id.as_str()),
                    "{at}: {ch:?} names no observation of the assessment"
                );
                assert!(
                    !ch.subjects.is_empty() || ch.zone_pair.is_some(),
                    "{at}: {ch:?} checked nothing"
                );
            }
        }
        Verdict::NotVerified(kind, text) => {
            assert!(!c.missing.is_empty(), "{at}: not verified without a reason");
            assert!(
                c.missing.iter().any(|m| m.kind == *kind
                    && (m.text.en.contains(text)
                        || m.subject.as_deref().is_some_and(|s| s.contains(text)))),
                "{at}: no {kind:?} with {text:?} in {:#?}",
                c.missing
            );
            for m in &c.missing {
                assert!(
                    !m.text.ja.is_empty() && !m.text.en.is_empty(),
                    "{at}: {m:?}"
                );
            }
        }
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
