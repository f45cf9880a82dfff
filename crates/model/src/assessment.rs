//! The Assessment: what the rules and the site file make of one or more Observations.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::observation::Transport;
use crate::recheck::CarriedFinding;

/// The schema tag every Assessment carries.
pub const ASSESSMENT_SCHEMA: &str = "clinicscan/assessment/v2";

/// The tag of Assessments written before control results carried their evidence. They
/// still read: `partial` and `not-observed` become [`ControlStatus::NotVerified`], and the
/// evidence lists are empty.
pub const ASSESSMENT_SCHEMA_V1: &str = "clinicscan/assessment/v1";

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

/// The verdict for one control. Each status is a claim the [`ControlResult`] backs with
/// its evidence: `fail` with the findings, `pass` with what was checked, `not-verified`
/// with what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ControlStatus {
    /// A finding the network showed (a fact, not a guess) evidences a failure.
    Fail,
    /// Every rule that can evidence the control checked what it needs, from the vantage it
    /// needs, and none fired: [`ControlResult::checked`] lists what was checked.
    Pass,
    /// A scan can evidence the control, but this assessment lacks what it needs, or only a
    /// guess speaks against it: [`ControlResult::missing`] says what is missing.
    /// (Assessments of schema v1 called these `partial` and `not-observed`.)
    #[serde(alias = "partial", alias = "not-observed")]
    NotVerified,
    /// Organisational: a network scan cannot assess it (listed, never dropped).
    NotAssessableByScan,
}

impl ControlStatus {
    /// Every status, in the order reports count them.
    pub const ALL: [ControlStatus; 4] = [
        ControlStatus::Fail,
        ControlStatus::NotVerified,
        ControlStatus::Pass,
        ControlStatus::NotAssessableByScan,
    ];

    /// The kebab-case name as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlStatus::Fail => "fail",
            ControlStatus::Pass => "pass",
            ControlStatus::NotVerified => "not-verified",
            ControlStatus::NotAssessableByScan => "not-assessable-by-scan",
        }
    }
}

/// A host, or one port of it, that a rule looked at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// The host.
    pub host: IpAddr,
    /// The port, for a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The transport, for a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
}

impl std::fmt::Display for Subject {
    /// "10.0.0.1:3389/tcp" ("[2001:db8::1]:443/tcp" on IPv6), or the bare address of a host.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.port, self.transport, self.host) {
            (Some(p), Some(t), IpAddr::V6(v6)) => write!(f, "[{v6}]:{p}/{}", t.as_str()),
            (Some(p), Some(t), a) => write!(f, "{a}:{p}/{}", t.as_str()),
            _ => write!(f, "{}", self.host),
        }
    }
}

/// A pair of zones: traffic from the first (where the scan ran) to the second.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ZonePair {
    /// The zone the scan ran from.
    pub from: String,
    /// The zone of the hosts reached.
    pub to: String,
}

/// What one rule checked from one vantage in one Observation: the evidence of a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The rule that checked.
    pub rule_id: String,
    /// The facts that were present and that the rule read (paths such as
    /// `service.facts.rdp.nla_required`); empty when the rule judges the port scan alone.
    #[serde(default)]
    pub facts: Vec<String>,
    /// For segmentation rules: the zone pair the subjects were reached across.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_pair: Option<ZonePair>,
    /// The subjects are egress check targets, tried from the vantage zone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub egress_target: bool,
    /// For egress checks: each attempt and what came of it, as the scan recorded it, e.g.
    /// "tcp 203.0.113.80:443: timeout", "dns egress-check.example.net via 203.0.113.53:
    /// nxdomain".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<String>,
    /// The zone the scan ran from, when known.
    #[serde(default)]
    pub vantage_zone: Option<String>,
    /// The Observation the subjects are in.
    pub observation_id: String,
    /// The hosts and ports checked, in scan order.
    pub subjects: Vec<Subject>,
}

/// Why a control could not be verified: one missing piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MissingKind {
    /// No site file: zones, flows and the asset register are unknown.
    SiteFile,
    /// No scan from a zone of the kind the rule needs.
    Vantage,
    /// A zone pair the rule judges was not probed.
    ZonePair,
    /// The site file names no egress target, or none was tried from the zone that needs it.
    EgressTarget,
    /// A service probe failed on a port the rule judges.
    ProbeFailed,
    /// A probe ran but could not tell a fact the rule needs.
    FactUnknown,
    /// A rule could not be evaluated.
    RuleError,
    /// A finding is an inference (a guess): confirm it.
    Confirm,
    /// Nothing the control's rules look at was seen.
    NothingSeen,
    /// A finding of an earlier scan that evidences the control could not be checked again
    /// this run (see the Assessment's `not_rechecked`).
    NotRechecked,
    /// The rest of the control is organisational: confirm it on site.
    Organisational,
}

/// One thing a not-verified control lacks, in words and as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Missing {
    /// What kind of thing is missing.
    pub kind: MissingKind,
    /// The rule that needs it, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// What it concerns: a zone, a zone pair ("general → oqv"), a host and port, a finding key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What to do or know, e.g. "scan from a zone of kind oqv".
    pub text: Text,
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
    /// Source reference (document, section, page) and its verification tag, e.g. "… [D]".
    pub source: String,
    /// Verdict.
    pub status: ControlStatus,
    /// Rules that evidence this control.
    #[serde(default)]
    pub rule_ids: Vec<String>,
    /// Number of findings that evidence this control.
    pub finding_count: u32,
    /// The keys of the findings that make it fail (facts, not guesses).
    #[serde(default)]
    pub findings: Vec<String>,
    /// What the rules checked: for a pass, the evidence; otherwise what was covered.
    #[serde(default)]
    pub checked: Vec<Check>,
    /// What this assessment lacks to verify the control (never empty when not verified).
    #[serde(default)]
    pub missing: Vec<Missing>,
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

/// What was probed between two zones, combined over the Observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CellState {
    /// Probed, and nothing was reached across (or only what the site allows within a zone).
    ProbedClean,
    /// Probed, and something the site does not allow was reached.
    Violation,
    /// Probed, and everything reached is allowed by the site's flows.
    AllowedBySite,
    /// No scan ran from the first zone towards the second.
    NotProbed,
}

/// One open service reached across a zone pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reached {
    /// The host.
    pub host: IpAddr,
    /// TCP or UDP.
    pub transport: Transport,
    /// The port.
    pub port: u16,
    /// The site allows this flow.
    pub allowed: bool,
}

/// One cell of the zone × zone matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoverageCell {
    /// The zone the scans ran from.
    pub from: String,
    /// The zone probed ("internet" for the site's egress targets).
    pub to: String,
    /// What the cell shows.
    pub state: CellState,
    /// The Observations that probed it.
    #[serde(default)]
    pub observation_ids: Vec<String>,
    /// The port lists those scans used, as they recorded them (e.g. "clinic", "1-1024").
    #[serde(default)]
    pub ports: Vec<String>,
    /// Hosts of the zone seen up from there.
    #[serde(default)]
    pub hosts_up: u32,
    /// Open services reached.
    #[serde(default)]
    pub reached: Vec<Reached>,
}

/// Which zone pairs were probed, from which vantage, on which ports, and what was reached:
/// the zone × zone matrix. Absent without a site file (zones unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// Zone names, in the site file's order, then "internet" when the site has egress targets.
    pub zones: Vec<String>,
    /// One cell per ordered pair of different zones (and each oqv zone → "internet").
    pub cells: Vec<CoverageCell>,
}

impl Coverage {
    /// The cell of a pair.
    pub fn cell(&self, from: &str, to: &str) -> Option<&CoverageCell> {
        self.cells.iter().find(|c| c.from == from && c.to == to)
    }
}

/// A data table the assessment used: its name, where it came from and how current it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// What it is: "kev", "eol", "ports", "controls/checklist-R7", ...
    pub name: String,
    /// The file, as "rules/…" for the copy built into clinicscan, else its path.
    pub file: String,
    /// The date the data was last reviewed, as its file states it (YYYY-MM-DD).
    #[serde(default)]
    pub updated: Option<String>,
}

/// What the rules and the site file make of one or more Observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// Always [`ASSESSMENT_SCHEMA`]. An Assessment of schema v1 reads as v2 (its statuses
    /// mapped, its evidence empty), so this names what the value holds once read.
    #[serde(deserialize_with = "read_schema_tag")]
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
    /// Which zone pairs were probed and what was reached (absent without a site file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// The data tables used (catalogue, known-exploited versions, end-of-life dates), each
    /// with its date.
    #[serde(default)]
    pub data: Vec<DataSource>,
    /// A site audit (`clinicscan report`): each vantage zone of the site, with the
    /// Observation used from it, or why there is none (never scanned, too old). Empty for
    /// the assessment of one scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<VantageStatus>,
}

/// Whether a site audit has a usable scan from one vantage zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VantageState {
    /// Scanned from there, recently enough: its newest Observation is in the assessment.
    Current,
    /// The newest scan from there is older than the audit's maximum age: it is left out.
    Stale,
    /// Never scanned from there (in the history the audit read).
    NeverScanned,
}

impl VantageState {
    /// The kebab-case name as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VantageState::Current => "current",
            VantageState::Stale => "stale",
            VantageState::NeverScanned => "never-scanned",
        }
    }
}

/// One vantage zone of a site audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VantageStatus {
    /// The zone, as the site file names it.
    pub zone: String,
    /// Its kind: general, clinical, oqv, medical-devices, guest, edge, internet, custom.
    pub kind: String,
    /// Whether the audit has a usable scan from there.
    pub state: VantageState,
    /// Whether the site expects scans from this zone (the zone kinds a clinic audits
    /// from, or the zone's `vantage` key).
    pub expected: bool,
    /// The newest Observation from there (also when it is stale).
    #[serde(default)]
    pub observation_id: Option<String>,
    /// When that Observation's scan started.
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    /// Its age in whole days when the audit was made.
    #[serde(default)]
    pub age_days: Option<u32>,
    /// The audit's maximum age in days, beyond which a scan is stale.
    #[serde(default)]
    pub max_age_days: Option<u32>,
}

/// Reads the schema tag, upgrading v1 to v2: everything v1 holds reads into v2 types.
fn read_schema_tag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let tag = String::deserialize(d)?;
    Ok(if tag == ASSESSMENT_SCHEMA_V1 {
        ASSESSMENT_SCHEMA.to_string()
    } else {
        tag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The history database holds Assessments of schema v1: they keep reading, their
    /// `partial` and `not-observed` controls as not verified, with empty evidence.
    #[test]
    fn a_v1_assessment_reads_with_its_old_statuses_mapped() {
        let control = |status: &str| {
            format!(
                r#"{{"id":"C-{status}","edition":"e","title":{{"ja":"j","en":"e"}},"source":"s [D]","status":"{status}","rule_ids":[],"finding_count":0}}"#
            )
        };
        let json = format!(
            r#"{{"schema":"{ASSESSMENT_SCHEMA_V1}","generated":"2026-11-20T02:00:00Z","tool_version":"0.1.0","editions":["e"],"site":null,"observations":[],"findings":[],"controls":[{},{},{},{},{}],"counts":{{"critical":0,"high":0,"medium":0,"low":0,"info":0}},"rule_errors":[]}}"#,
            control("fail"),
            control("partial"),
            control("pass"),
            control("not-observed"),
            control("not-assessable-by-scan"),
        );
        let a: Assessment = serde_json::from_str(&json).expect("a v1 assessment reads");
        let statuses: Vec<ControlStatus> = a.controls.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                ControlStatus::Fail,
                ControlStatus::NotVerified,
                ControlStatus::Pass,
                ControlStatus::NotVerified,
                ControlStatus::NotAssessableByScan,
            ]
        );
        assert!(
            a.controls
                .iter()
                .all(|c| c.checked.is_empty() && c.missing.is_empty())
        );
        assert_eq!(a.coverage, None);
        assert_eq!(a.schema, ASSESSMENT_SCHEMA);
        // Written again, it is a v2 control list: the old names are gone.
        let back = serde_json::to_string(&a).expect("serialises");
        assert!(
            !back.contains("\"status\":\"partial\"")
                && !back.contains("\"status\":\"not-observed\"")
        );
        assert!(back.contains("\"not-verified\""));
    }
}
