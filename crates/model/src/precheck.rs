//! The result of a vendor pre-check: one host held against a profile of expectations.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::assessment::Text;

/// The outcome of one expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum Outcome {
    /// The host meets it.
    Pass,
    /// The host does not.
    Fail,
    /// The condition could not be evaluated (message).
    Error(String),
}

/// One expectation and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// Expectation id.
    pub id: String,
    /// What is expected.
    pub title: Text,
    /// Outcome.
    pub outcome: Outcome,
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
    /// Whether the Observation holds the host as up. When false, nothing was evaluated.
    pub host_found: bool,
    /// Vantage zone of the Observation.
    pub vantage_zone: Option<String>,
    /// Results, in profile order.
    pub results: Vec<ExpectationResult>,
}

impl PrecheckReport {
    /// Every expectation passed (and the host was found).
    pub fn passed(&self) -> bool {
        self.host_found && self.results.iter().all(|r| r.outcome == Outcome::Pass)
    }
}
