//! Findings of an earlier scan that this run could not check again ("not re-checked").
//!
//! A finding disappears from a new scan for two very different reasons: the problem is gone
//! (a probe ran and showed it gone), or the scanner could not look (the host was not seen,
//! the port did not answer, the probe failed, the server refused the scanner). Only the first
//! resolves it. The second keeps the finding, as it was last seen, with the reason it could
//! not be checked: an unknown fact never resolves an earlier finding.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::assessment::Finding;
use crate::observation::{PortState, ProbeErrorKind};

/// An earlier finding this run could not check again, kept with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CarriedFinding {
    /// The finding as the last scan that confirmed it showed it (key, rule, evidence...).
    pub finding: Finding,
    /// Why this run could not check it again.
    pub reason: NotRechecked,
    /// When the last scan that confirmed it started.
    pub last_confirmed: DateTime<Utc>,
}

/// Why a finding could not be checked again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum NotRechecked {
    /// The host did not answer this run (switched off, isolated, or filtered from this
    /// vantage: a scan cannot tell these apart).
    HostNotSeen,
    /// The finding is about what one vantage zone reaches, and this run did not scan from
    /// that zone.
    VantageNotScanned {
        /// The zone the finding was seen from.
        zone: String,
    },
    /// The host answered but the finding's port was not open this run.
    PortNotOpen {
        /// The port's state when the scan reported it; `null` when the port was not among
        /// the reported ones (closed, or not in this run's port list).
        #[serde(default)]
        state: Option<PortState>,
    },
    /// The server refused this scanner itself (a blacklist after failed logins, a tarpit):
    /// it may mean someone else is failing logins.
    RefusedScanner {
        /// The probe it refused, e.g. "vnc".
        probe: String,
        /// The server's own words, e.g. "Too many security failures".
        detail: String,
    },
    /// The probe that establishes the rule's facts failed this run.
    ProbeFailed {
        /// The probe, e.g. "tls".
        probe: String,
        /// What the probe saw the peer do.
        error: ProbeErrorKind,
        /// Detail of the error.
        detail: String,
    },
    /// The service answered but the facts the rule needs were not established (no probe
    /// error was recorded either).
    FactsMissing {
        /// The rule's fact paths that were absent or null, e.g. "service.facts.vnc.no_auth".
        paths: Vec<String>,
    },
    /// The rule that made the finding did not run this time (disabled by the site file or
    /// no longer in the rule set).
    RuleNotRun {
        /// The rule id.
        rule_id: String,
    },
    /// The rule failed to evaluate this run.
    RuleFailed {
        /// The rule's error, as in the Assessment's `rule_errors`.
        detail: String,
    },
}

impl NotRechecked {
    /// The reason's kind as in the JSON, e.g. "host-not-seen".
    pub fn kind(&self) -> &'static str {
        match self {
            NotRechecked::HostNotSeen => "host-not-seen",
            NotRechecked::VantageNotScanned { .. } => "vantage-not-scanned",
            NotRechecked::PortNotOpen { .. } => "port-not-open",
            NotRechecked::RefusedScanner { .. } => "refused-scanner",
            NotRechecked::ProbeFailed { .. } => "probe-failed",
            NotRechecked::FactsMissing { .. } => "facts-missing",
            NotRechecked::RuleNotRun { .. } => "rule-not-run",
            NotRechecked::RuleFailed { .. } => "rule-failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_tagged_by_their_kind() {
        let reasons = [
            NotRechecked::HostNotSeen,
            NotRechecked::VantageNotScanned {
                zone: "guest".into(),
            },
            NotRechecked::PortNotOpen {
                state: Some(PortState::Filtered),
            },
            NotRechecked::RefusedScanner {
                probe: "vnc".into(),
                detail: "Too many security failures".into(),
            },
            NotRechecked::ProbeFailed {
                probe: "tls".into(),
                error: ProbeErrorKind::Timeout,
                detail: "no ServerHello".into(),
            },
            NotRechecked::FactsMissing {
                paths: vec!["service.facts.vnc.no_auth".into()],
            },
            NotRechecked::RuleNotRun {
                rule_id: "vnc-no-auth".into(),
            },
            NotRechecked::RuleFailed {
                detail: "no such key".into(),
            },
        ];
        for r in reasons {
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["kind"], r.kind(), "{json}");
            let back: NotRechecked = serde_json::from_value(json).unwrap();
            assert_eq!(back, r);
        }
    }
}
