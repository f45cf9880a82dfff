//! Vendor pre-check: hold one host against a profile of expectations, on evidence.
//!
//! Profiles are data (`rules/profiles/*.toml`). An expectation names the controls it
//! evidences and what shows it:
//!
//! - `ports`: ports that must not be reachable. Each must have been probed and answered
//!   closed, or filtered while the host answered elsewhere; open fails it, a port the scan
//!   did not probe leaves it not verified.
//! - `applies` (CEL, optional): whether the host has what the expectation is about (a TLS
//!   service, an SMB server); when false the expectation is not applicable.
//! - `condition` (CEL, optional): true when the host meets it, over `host` and `ctx`.
//! - `probes`: probes whose failure on an open port leaves the expectation not verified.
//!
//! A host that never answered (no discovery reply, no port open or closed) verifies
//! nothing: every expectation is not verified.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use cel::{Program, Value};
use clinicscan_model::{
    Host, HostReason, HostState, Observation, PortCheck, PortState, Text, Transport,
};
// The result is plain data in the model, so that the report renders it without this crate.
pub use clinicscan_model::{ExpectationResult, Outcome, PrecheckReport};
use serde::Deserialize;
use serde_json::json;

use crate::data::DataTree;
use crate::error::{LoadError, toml_message};
use crate::eval::to_cel;
use crate::rules::{Scope, cel_env, compile};
use crate::site::{PortRange, parse_port_range};

/// One expectation of a profile.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Id, unique in the profile.
    pub id: String,
    /// The controls it evidences (catalogue ids).
    pub controls: Vec<String>,
    /// Ports that must not be reachable.
    pub ports: Vec<PortRange>,
    /// The CEL condition as written: true when the host meets the expectation.
    pub condition: Option<String>,
    /// The CEL test of whether the expectation concerns the host at all.
    pub applies: Option<String>,
    /// Probes whose failure on an open port leaves the expectation not verified.
    pub probes: Vec<String>,
    /// What is expected.
    pub title: Text,
    /// What to do when it fails.
    pub remediation: Text,
    program: Option<Arc<Program>>,
    applies_program: Option<Arc<Program>>,
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
    controls: Vec<String>,
    #[serde(default)]
    ports: Vec<String>,
    condition: Option<String>,
    applies: Option<String>,
    #[serde(default)]
    probes: Vec<String>,
    title: Text,
    remediation: Text,
}

impl Profile {
    /// Parses a profile; `file` names it in errors. Control ids are not checked here (see
    /// [`Profile::check_controls`]).
    pub fn parse(text: &str, file: &str) -> Result<Profile, LoadError> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            message: toml_message(&e, text),
        })?;
        let env = cel_env();
        let mut expectations: Vec<Expectation> = Vec::new();
        for e in raw.expect {
            let bad = |problem: String| LoadError::Item {
                file: file.into(),
                kind: "expectation",
                id: e.id.clone(),
                problem,
            };
            if expectations.iter().any(|x| x.id == e.id) {
                return Err(bad("id defined twice".into()));
            }
            for t in [&e.title, &e.remediation] {
                if t.ja.trim().is_empty() || t.en.trim().is_empty() {
                    return Err(bad("title and remediation need both ja and en".into()));
                }
            }
            if e.controls.is_empty() {
                return Err(bad(
                    "an expectation must cite the controls it evidences".into()
                ));
            }
            if e.ports.is_empty() && e.condition.is_none() {
                return Err(bad(
                    "an expectation needs `ports`, a `condition`, or both".into()
                ));
            }
            let mut ports = Vec::new();
            for p in &e.ports {
                ports.push(parse_port_range(p).map_err(|m| bad(format!("ports: {m}")))?);
            }
            let mut programs = [&e.condition, &e.applies].map(|_| None);
            for (slot, src) in programs.iter_mut().zip([&e.condition, &e.applies]) {
                if let Some(c) = src {
                    let p = compile(&env, c, file, "expectation", &e.id)?;
                    crate::paths::check_condition(p.expression(), Scope::Host).map_err(&bad)?;
                    *slot = Some(Arc::new(p));
                }
            }
            let [program, applies_program] = programs;
            expectations.push(Expectation {
                id: e.id,
                controls: e.controls,
                ports,
                condition: e.condition,
                applies: e.applies,
                probes: e.probes,
                title: e.title,
                remediation: e.remediation,
                program,
                applies_program,
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

    /// Every profile of a data tree (`profiles/*.toml`).
    pub fn all_in(tree: &DataTree) -> Result<Vec<Profile>, LoadError> {
        tree.under("profiles/")
            .into_iter()
            .map(|f| Profile::parse(&f.text, &f.name))
            .collect()
    }

    /// Every shipped profile (`rules/profiles/*.toml`).
    pub fn shipped_all() -> Result<Vec<Profile>, LoadError> {
        Profile::all_in(&DataTree::shipped())
    }

    /// A shipped profile by id; `Ok(None)` when there is none.
    pub fn shipped(id: &str) -> Result<Option<Profile>, LoadError> {
        Ok(Profile::shipped_all()?.into_iter().find(|p| p.id == id))
    }

    /// Every control an expectation cites must be in the catalogue.
    pub fn check_controls(&self, catalogue: &crate::Catalogue) -> Result<(), LoadError> {
        for e in &self.expectations {
            if let Some(c) = e.controls.iter().find(|c| catalogue.get(c).is_none()) {
                return Err(LoadError::Item {
                    file: format!("profile {}", self.id),
                    kind: "expectation",
                    id: e.id.clone(),
                    problem: format!("unknown control {c:?}"),
                });
            }
        }
        Ok(())
    }

    /// Every port an expectation needs probed, each once, TCP first.
    pub fn ports(&self) -> Vec<(Transport, u16)> {
        let mut out: Vec<(Transport, u16)> = self
            .expectations
            .iter()
            .flat_map(|e| e.ports.iter())
            .flat_map(|r| (r.first..=r.last).map(move |p| (r.transport, p)))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// What shows the host itself answered, if anything did.
fn answered_by(h: &Host) -> Option<String> {
    let answered =
        |s: &&clinicscan_model::Service| matches!(s.state, PortState::Open | PortState::Closed);
    if let Some(s) = h.services.iter().find(answered) {
        let state = match s.state {
            PortState::Open => "open",
            _ => "closed",
        };
        return Some(format!("{}/{} {state}", s.port, s.transport.as_str()));
    }
    match h.status.reason {
        HostReason::ArpResponse => Some("arp-response".into()),
        HostReason::NdResponse => Some("nd-response".into()),
        HostReason::EchoReply => Some("echo-reply".into()),
        HostReason::TcpSynAck => Some("tcp-syn-ack".into()),
        HostReason::TcpRst => Some("tcp-rst".into()),
        HostReason::Localhost => Some("localhost".into()),
        _ => None,
    }
}

fn not_verified(ja: impl Into<String>, en: impl Into<String>) -> Outcome {
    Outcome::NotVerified(Text::new(ja, en))
}

/// Holds one host of an Observation against a profile.
pub fn precheck(observation: &Observation, host: IpAddr, profile: &Profile) -> PrecheckReport {
    let found = observation
        .hosts
        .iter()
        .find(|h| h.address == host && h.status.state == HostState::Up);
    let answered = found.and_then(answered_by);
    let mut report = PrecheckReport {
        profile: profile.id.clone(),
        profile_title: profile.title.clone(),
        host,
        host_found: found.is_some(),
        host_answered: answered.is_some(),
        answered_by: answered,
        ports_spec: observation.scan.options.ports.clone(),
        vantage_zone: observation.scan.vantage.zone.clone(),
        started: Some(observation.scan.started),
        observation_id: Some(observation.scan.id.clone()),
        results: Vec::new(),
    };
    let root = crate::eval::plain_root_context();
    let (host_val, ctx_val) = match found {
        Some(h) => (
            Some(to_cel(&serde_json::to_value(h).unwrap_or_default())),
            to_cel(&json!({ "vantage_zone": observation.scan.vantage.zone })),
        ),
        None => (None, Value::Null),
    };
    for e in &profile.expectations {
        let ports: Vec<PortCheck> = e
            .ports
            .iter()
            .flat_map(|r| (r.first..=r.last).map(move |p| (r.transport, p)))
            .map(|(transport, port)| PortCheck {
                port,
                transport,
                state: found.and_then(|h| {
                    h.services
                        .iter()
                        .find(|s| s.port == port && s.transport == transport)
                        .map(|s| s.state)
                }),
            })
            .collect();
        let outcome = match (found, &host_val) {
            (Some(h), Some(hv)) if report.host_answered => {
                let run = |p: &Program| {
                    let mut c = root.new_inner_scope();
                    c.add_variable_from_value("host", hv.clone());
                    c.add_variable_from_value("ctx", ctx_val.clone());
                    match p.execute(&c) {
                        Ok(Value::Bool(b)) => Ok(b),
                        Ok(v) => Err(format!(
                            "condition returned {} instead of a bool",
                            v.type_of()
                        )),
                        Err(err) => Err(err.to_string()),
                    }
                };
                judge(e, h, &ports, run)
            }
            _ => not_verified(
                format!(
                    "{host} から応答がありません(電源が切れている、アドレスの誤り、またはすべてを遮断)。何も確認できていません。"
                ),
                format!(
                    "no answer from {host} (switched off, a wrong address, or it drops everything): nothing was verified"
                ),
            ),
        };
        report.results.push(ExpectationResult {
            id: e.id.clone(),
            title: e.title.clone(),
            controls: e.controls.clone(),
            outcome,
            ports,
            remediation: e.remediation.clone(),
        });
    }
    report
}

/// One expectation on a host that answered.
fn judge(
    e: &Expectation,
    h: &Host,
    ports: &[PortCheck],
    run: impl Fn(&Program) -> Result<bool, String>,
) -> Outcome {
    if let Some(p) = &e.applies_program {
        match run(p) {
            Ok(false) => return Outcome::NotApplicable,
            Ok(true) => {}
            Err(m) => return Outcome::Error(m),
        }
    }
    if ports.iter().any(|p| p.state == Some(PortState::Open)) {
        return Outcome::Fail;
    }
    if let Some(p) = &e.program {
        match run(p) {
            Ok(false) => return Outcome::Fail,
            Ok(true) => {}
            Err(m) => return Outcome::Error(m),
        }
    }
    let unprobed: Vec<String> = ports
        .iter()
        .filter(|p| p.state.is_none())
        .map(|p| format!("{}/{}", p.port, p.transport.as_str()))
        .collect();
    if !unprobed.is_empty() {
        let list = unprobed.join(", ");
        return not_verified(
            format!("{list} は走査されていない(または結果が記録されていない)ため確認できません"),
            format!("{list} not probed (or not recorded): cannot tell whether it is reachable"),
        );
    }
    let failed: Vec<String> = h
        .services
        .iter()
        .filter(|s| s.state == PortState::Open && s.protocol.is_none())
        .flat_map(|s| {
            s.probe_errors
                .iter()
                .filter(|pe| e.probes.contains(&pe.probe))
                .map(move |pe| format!("{} on {}/{}", pe.probe, s.port, s.transport.as_str()))
        })
        .collect();
    if !failed.is_empty() {
        let list = failed.join(", ");
        return not_verified(
            format!("プローブが失敗しました: {list}"),
            format!("a probe failed: {list}"),
        );
    }
    Outcome::Pass
}
