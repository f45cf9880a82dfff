//! The result of a vendor pre-check: one host held against a profile of expectations.
//!
//! An expectation is met only on evidence: its ports were probed and answered as expected
//! (closed, or filtered while the host answered elsewhere), and its facts were read. A host
//! that never answered (an empty address, a terminal switched off) verifies nothing.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};

use crate::assessment::Text;
use crate::observation::{PortState, Transport};

/// The outcome of one expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum Outcome {
    /// The host meets it, on the evidence listed with the result.
    Pass,
    /// The host does not.
    Fail,
    /// Nothing the expectation is about was found (e.g. no TLS service): nothing to meet.
    NotApplicable,
    /// The evidence it needs is missing: why, in both languages.
    NotVerified(Text),
    /// The condition could not be evaluated (message).
    Error(String),
}

/// One port an expectation looked at, and what the scan saw there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCheck {
    /// The port.
    pub port: u16,
    /// TCP or UDP.
    pub transport: Transport,
    /// Its state, or `None` when the scan did not probe it (or did not record it).
    pub state: Option<PortState>,
}

/// One expectation and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// Expectation id.
    pub id: String,
    /// What is expected.
    pub title: Text,
    /// The controls it evidences (catalogue ids).
    #[serde(default)]
    pub controls: Vec<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// The ports it looked at, with what the scan saw.
    #[serde(default)]
    pub ports: Vec<PortCheck>,
    /// What to do when it fails.
    pub remediation: Text,
}

/// A pre-check of one host against one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrecheckReport {
    /// Profile id.
    pub profile: String,
    /// Profile title.
    pub profile_title: Text,
    /// The host checked.
    pub host: IpAddr,
    /// Whether the Observation holds the host as up (or treated as up without discovery).
    pub host_found: bool,
    /// Whether the host itself answered: a discovery reply, or a port open or closed. When
    /// false, no expectation is verified.
    #[serde(default)]
    pub host_answered: bool,
    /// What showed the host is there, e.g. "443/tcp open", "arp-response".
    #[serde(default)]
    pub answered_by: Option<String>,
    /// The port list the scan used, as it recorded it.
    #[serde(default)]
    pub ports_spec: String,
    /// Vantage zone of the Observation.
    pub vantage_zone: Option<String>,
    /// When the scan started (absent in reports written before it was recorded).
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    /// The Observation's scan id.
    #[serde(default)]
    pub observation_id: Option<String>,
    /// Results, in profile order.
    pub results: Vec<ExpectationResult>,
}

impl PrecheckReport {
    /// Every expectation met (or not applicable), on a host that answered.
    pub fn passed(&self) -> bool {
        self.host_answered
            && self
                .results
                .iter()
                .all(|r| matches!(r.outcome, Outcome::Pass | Outcome::NotApplicable))
    }

    /// Some expectation is not met.
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.outcome == Outcome::Fail)
    }
}
