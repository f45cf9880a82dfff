//! The Assessment: what the rules and the site file make of one or more Observations.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::observation::Transport;
use crate::recheck::CarriedFinding;

/// The schema tag every Assessment carries.
pub const ASSESSMENT_SCHEMA: &str = "clinicscan/assessment/v1";

/// A text every user-facing string has in both languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Japanese.
    pub ja: String,
    /// English.
    pub en: String,
}

impl Text {
    /// A text from its two languages.
    pub fn new(ja: impl Into<String>, en: impl Into<String>) -> Self {
        Text {
            ja: ja.into(),
            en: en.into(),
        }
    }

    /// The text in the given language.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

/// A user-facing language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Lang {
    /// 日本語 (the default: most users read Japanese first).
    #[default]
    Ja,
    /// English.
    En,
}

/// How serious a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// For the record (inventory, context).
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical: the kind of exposure ransomware entered through.
    Critical,
}

impl Severity {
    /// All severities, most serious first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Lower-case name as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
    }
}

/// Whether a finding states a fact the network showed or an inference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Certainty {
    /// The network showed it (a handshake, a reply).
    #[default]
    Fact,
    /// An inference (e.g. from a port number or a version string); labelled as a guess.
    Guess,
}

/// One piece of evidence: a named value the Observation holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Path of the fact, e.g. "facts.rdp.nla_required".
    pub key: String,
    /// Its value as text.
    pub value: String,
}

/// One rule that fired on one host (and port).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable identity across scans: rule id, address, transport and port.
    pub key: String,
    /// The rule that fired.
    pub rule_id: String,
    /// Severity.
    pub severity: Severity,
    /// Fact or guess.
    #[serde(default)]
    pub certainty: Certainty,
    /// The host.
    pub host: IpAddr,
    /// The port, for service findings.
    #[serde(default)]
    pub port: Option<u16>,
    /// The transport, for service findings.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// The zone of the host, when a site file names it.
    #[serde(default)]
    pub zone: Option<String>,
    /// The zone the scan ran from, when known.
    #[serde(default)]
    pub vantage_zone: Option<String>,
    /// Title.
    pub title: Text,
    /// What was seen, in words.
    #[serde(default)]
    pub description: Text,
    /// What to do.
    pub remediation: Text,
    /// The facts that made the rule fire.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Controls this finding evidences (ids from the catalogue).
    #[serde(default)]
    pub controls: Vec<String>,
    /// The Observation(s) the finding came from.
    #[serde(default)]
    pub observation_ids: Vec<String>,
}

/// The verdict for one control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ControlStatus {
    /// At least one finding of medium severity or above evidences a failure.
    Fail,
    /// Only partial evidence: low/info findings, or the scan shows part of the picture.
    Partial,
    /// The rules for this control ran and none fired.
    Pass,
    /// A scan can give evidence, but this scan did not reach what it would need.
    NotObserved,
    /// Organisational: a network scan cannot assess it (listed, never dropped).
    NotAssessableByScan,
}

/// One control of the catalogue and the verdict for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlResult {
    /// Catalogue id, e.g. "GL6-SO-8.1", "CL-R7-2-13".
    pub id: String,
    /// The document edition the id belongs to, e.g. "guideline-6.0", "checklist-R7".
    pub edition: String,
    /// Title.
    pub title: Text,
    /// Source reference (document, section, page) and its verification status.
    pub source: String,
    /// Verdict.
    pub status: ControlStatus,
    /// Rules that evidence this control.
    #[serde(default)]
    pub rule_ids: Vec<String>,
    /// Number of findings that evidence this control.
    pub finding_count: u32,
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityCounts {
    /// Critical.
    pub critical: u32,
    /// High.
    pub high: u32,
    /// Medium.
    pub medium: u32,
    /// Low.
    pub low: u32,
    /// Info.
    pub info: u32,
}

impl SeverityCounts {
    /// Adds one finding of the given severity.
    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Info => self.info += 1,
        }
    }

    /// The count for one severity.
    pub fn get(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}

/// A reference to an Observation the Assessment evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationRef {
    /// The Observation's scan id.
    pub id: String,
    /// Its vantage zone, if any.
    #[serde(default)]
    pub vantage_zone: Option<String>,
    /// When it started.
    pub started: DateTime<Utc>,
}

/// What the rules and the site file make of one or more Observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// Always [`ASSESSMENT_SCHEMA`].
    pub schema: String,
    /// When the assessment was made.
    pub generated: DateTime<Utc>,
    /// The tool version that made it.
    pub tool_version: String,
    /// The catalogue editions used, e.g. ["guideline-6.0", "checklist-R7"].
    pub editions: Vec<String>,
    /// The site name from the site file, if any.
    #[serde(default)]
    pub site: Option<String>,
    /// The site's stable id from the site file (`[site] id`), if any: what a shared
    /// history store and the fleet view key a site by. Older Assessments have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// The Observations evaluated.
    pub observations: Vec<ObservationRef>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Findings of the previous scan of the same scope that this run could not check again,
    /// each with the reason (set by a scheduled run with a history; empty otherwise). They
    /// are not resolved: only a probe that ran and showed the problem gone resolves one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_rechecked: Vec<CarriedFinding>,
    /// Every control of the catalogue with its verdict.
    pub controls: Vec<ControlResult>,
    /// Counts by severity.
    pub counts: SeverityCounts,
    /// Rules that could not be evaluated on some input, with the reason (never silent).
    #[serde(default)]
    pub rule_errors: Vec<String>,
}
