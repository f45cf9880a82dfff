//! Vendor pre-check: hold one host against a profile of expectations.
//!
//! Profiles are data (`rules/profiles/*.toml`): each expectation is a CEL condition over
//! `host` (the host's JSON) and `ctx` (`vantage_zone`), true when the host meets it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use cel::{Program, Value};
use clinicscan_model::{HostState, Observation, Text};
// The result is plain data in the model, so that the report renders it without this crate.
pub use clinicscan_model::{ExpectationResult, Outcome, PrecheckReport};
use serde::Deserialize;
use serde_json::json;

use crate::error::{LoadError, toml_message};
use crate::eval::to_cel;
use crate::rules::{cel_env, compile};

/// One expectation of a profile.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Id, unique in the profile.
    pub id: String,
    /// The CEL condition as written: true when the host meets the expectation.
    pub condition: String,
    /// What is expected.
    pub title: Text,
    /// What to do when it fails.
    pub remediation: Text,
    program: Arc<Program>,
}

/// A vendor pre-check profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Id, e.g. "oqv-terminal".
    pub id: String,
    /// Title.
    pub title: Text,
    /// Expectations, in file order.
    pub expectations: Vec<Expectation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    profile: RawMeta,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    id: String,
    title: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    id: String,
    condition: String,
    title: Text,
    remediation: Text,
}

impl Profile {
    /// Parses a profile; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Profile, LoadError> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            message: toml_message(&e, text),
        })?;
        let env = cel_env();
        let mut expectations: Vec<Expectation> = Vec::new();
        for e in raw.expect {
            if expectations.iter().any(|x| x.id == e.id) {
                return Err(LoadError::Item {
                    file: file.into(),
                    kind: "expectation",
                    id: e.id,
                    problem: "id defined twice".into(),
                });
            }
            for t in [&e.title, &e.remediation] {
                if t.ja.trim().is_empty() || t.en.trim().is_empty() {
                    return Err(LoadError::Item {
                        file: file.into(),
                        kind: "expectation",
                        id: e.id,
                        problem: "title and remediation need both ja and en".into(),
                    });
                }
            }
            let program = compile(&env, &e.condition, file, "expectation", &e.id)?;
            expectations.push(Expectation {
                id: e.id,
                condition: e.condition,
                title: e.title,
                remediation: e.remediation,
                program: Arc::new(program),
            });
        }
        Ok(Profile {
            id: raw.profile.id,
            title: raw.profile.title,
            expectations,
        })
    }

    /// Reads a profile file.
    pub fn from_file(path: &Path) -> Result<Profile, LoadError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Profile::parse(&text, &file)
    }

    /// Every shipped profile (`rules/profiles/*.toml`).
    pub fn shipped_all() -> Result<Vec<Profile>, LoadError> {
        crate::shipped::files_under("profiles/")
            .into_iter()
            .map(|(p, t)| Profile::parse(t, &format!("rules/{p}")))
            .collect()
    }

    /// A shipped profile by id; `Ok(None)` when there is none.
    pub fn shipped(id: &str) -> Result<Option<Profile>, LoadError> {
        Ok(Profile::shipped_all()?.into_iter().find(|p| p.id == id))
    }
}

/// Holds one host of an Observation against a profile.
pub fn precheck(observation: &Observation, host: IpAddr, profile: &Profile) -> PrecheckReport {
    let found = observation
        .hosts
        .iter()
        .find(|h| h.address == host && h.status.state == HostState::Up);
    let mut report = PrecheckReport {
        profile: profile.id.clone(),
        profile_title: profile.title.clone(),
        host,
        host_found: found.is_some(),
        vantage_zone: observation.scan.vantage.zone.clone(),
        results: Vec::new(),
    };
    let Some(h) = found else {
        return report;
    };
    let env = cel_env();
    let mut root = cel::Context::with_env(env);
    let _ = root.add_function("version_cmp", |a: Arc<String>, b: Arc<String>| -> i64 {
        crate::version::compare_versions(&a, &b) as i64
    });
    let host_val = to_cel(&serde_json::to_value(h).unwrap_or_default());
    let ctx_val = to_cel(&json!({ "vantage_zone": observation.scan.vantage.zone }));
    for e in &profile.expectations {
        let mut c = root.new_inner_scope();
        c.add_variable_from_value("host", host_val.clone());
        c.add_variable_from_value("ctx", ctx_val.clone());
        let outcome = match e.program.execute(&c) {
            Ok(Value::Bool(true)) => Outcome::Pass,
            Ok(Value::Bool(false)) => Outcome::Fail,
            Ok(v) => Outcome::Error(format!(
                "condition returned {} instead of a bool",
                v.type_of()
            )),
            Err(err) => Outcome::Error(err.to_string()),
        };
        report.results.push(ExpectationResult {
            id: e.id.clone(),
            title: e.title.clone(),
            outcome,
            remediation: e.remediation.clone(),
        });
    }
    report
}
