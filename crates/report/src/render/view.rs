//! The one view of a report that every renderer reads: the assessment as rows in display
//! order, grouped, with every label in the reader's language. What comes first, what
//! belongs together and what a label says are decided here, once; a renderer only lays the
//! rows out and escapes their text for its format.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use clinicscan_model::{
    Assessment, CarriedFinding, CellState, Certainty, Check, ControlResult, ControlStatus, Finding,
    HostState, Lang, NotRechecked, Notice, PortState, Service, Severity, VantageState,
};

use super::{HostSeen, ReportInput, sev_label, status_label, transport_str};
use crate::diff::{ScanDiff, ServiceRef};
use crate::strings::S;

/// A report, ready to lay out.
pub(crate) struct View<'a> {
    /// The language of every label.
    pub lang: Lang,
    /// The assessment the rows come from (counts, site, editions, rule errors).
    pub assessment: &'a Assessment,
    /// When the scan started: the earliest Observation, else the assessment time.
    pub started: DateTime<Utc>,
    /// The site's zones the scan ran from, comma-separated.
    pub vantage_zones: Option<String>,
    /// Every finding, most severe first, then by host, port, rule and key.
    pub findings: Vec<FindingRow<'a>>,
    /// Every control, the ones that need action first, then by id with numbers as numbers.
    pub controls: Vec<ControlRow<'a>>,
    /// How many controls have each status: fail, not verified, pass, not assessable.
    pub control_counts: [(ControlStatus, usize); 4],
    /// Every host up in any Observation or named by a finding, by address.
    pub hosts: Vec<HostRow<'a>>,
    /// Every notice of every Observation.
    pub notices: Vec<NoticeRow<'a>>,
    /// What changed since the previous scan, when there was one.
    pub changes: Option<Changes<'a>>,
    /// The zone × zone matrix, when the assessment has one (a site file with zones).
    pub matrix: Option<Matrix<'a>>,
    /// A site audit's vantage zones, each with its status; empty for one scan.
    pub vantages: Vec<VantageLine<'a>>,
    /// The data tables used: "kev 2026-12-06 (rules/data/kev.toml)".
    pub data: Vec<String>,
}

/// The zone × zone matrix: one row per zone scanned from.
pub(crate) struct Matrix<'a> {
    /// Column zones, in the site's order ("internet" last when the site has egress targets).
    pub zones: Vec<&'a str>,
    /// One row per zone, in the same order (without "internet").
    pub rows: Vec<MatrixRow<'a>>,
}

/// One row of the matrix.
pub(crate) struct MatrixRow<'a> {
    /// The zone scanned from.
    pub from: &'a str,
    /// One cell per column; `None` where the matrix has no cell (same zone, or a zone that
    /// is not an オン資 zone towards "internet").
    pub cells: Vec<Option<MatrixCell>>,
}

/// One cell of the matrix.
pub(crate) struct MatrixCell {
    /// What it shows.
    pub state: CellState,
    /// One character: ✓ = ✗ ·
    pub symbol: &'static str,
    /// The state in words.
    pub label: &'static str,
    /// What was reached across, "10.77.30.10:3389/tcp ✗", and from which observations.
    pub detail: String,
}

/// One finding.
pub(crate) struct FindingRow<'a> {
    /// The finding (rule, evidence, controls, zone, key).
    pub finding: &'a Finding,
    /// "10.0.0.1:3389/tcp", or the bare address for a host finding.
    pub target: String,
    /// The severity's label.
    pub severity: &'static str,
    /// Title, description and remediation in the reader's language.
    pub title: &'a str,
    /// What was seen, in words (may be empty).
    pub description: &'a str,
    /// What to do.
    pub remediation: &'a str,
    /// New since the previous scan (never without a diff).
    pub new: bool,
    /// An inference, not a fact the network showed.
    pub guess: bool,
}

/// One control and the findings that evidence it.
pub(crate) struct ControlRow<'a> {
    /// The control (id, source, status, finding count).
    pub control: &'a ControlResult,
    /// The status's label.
    pub status: &'static str,
    /// Title in the reader's language.
    pub title: &'a str,
    /// The findings that fail it (all that name it, for an older Assessment), as indexes
    /// into [`View::findings`], in display order.
    pub findings: Vec<usize>,
    /// What its rules checked, one line each, in the reader's language.
    pub checked: Vec<String>,
    /// What it lacks to be verified, one line each.
    pub missing: Vec<&'a str>,
}

/// One host merged over all Observations.
pub(crate) struct HostRow<'a> {
    /// The address.
    pub address: IpAddr,
    /// MAC address, from the first Observation that has one.
    pub mac: Option<&'a str>,
    /// The MAC's vendor, likewise.
    pub vendor: Option<&'a str>,
    /// Every name, first seen first.
    pub names: Vec<&'a str>,
    /// The zone the first of its findings names.
    pub zone: Option<&'a str>,
    /// Open services, by transport and port.
    pub services: Vec<ServiceRow>,
    /// Its findings, as indexes into [`View::findings`], in display order.
    pub findings: Vec<usize>,
    /// The severity of its worst finding.
    pub worst: Option<Severity>,
    /// When the history first and last saw it, when there is a history.
    pub seen: Option<HostSeen>,
}

/// One open service of a host.
pub(crate) struct ServiceRow {
    /// "443/tcp".
    pub port: String,
    /// The protocol a probe identified, else the port name with a "?" (a guess from the number).
    pub name: String,
    /// "OpenSSH 9.2p1", or the product alone, when the service told it.
    pub product: Option<String>,
}

/// One notice of a scan.
pub(crate) struct NoticeRow<'a> {
    /// The text of a known kind in the reader's language, else the scanner's own (English)
    /// message.
    pub text: &'a str,
    /// The scanner's message beside a translation (it names the error or the target).
    pub detail: Option<&'a str>,
    /// The target, host or setting it concerns.
    pub subject: Option<&'a str>,
}

/// What changed since the previous scan.
pub(crate) struct Changes<'a> {
    /// The diff (its two scans).
    pub diff: &'a ScanDiff,
    /// How many findings are new, resolved, not re-checked (only when there are any) and
    /// unchanged, each with its label.
    pub counts: Vec<(&'static str, usize)>,
    /// New, resolved, not re-checked and unchanged findings, then hosts that appeared and
    /// went, then services that appeared and went: always these eight, in this order.
    pub sections: Vec<ChangeSection<'a>>,
}

/// One kind of change and everything that changed that way.
pub(crate) struct ChangeSection<'a> {
    /// Which way it changed.
    pub kind: Change,
    /// The section's heading, e.g. "New host".
    pub label: &'static str,
    /// What changed.
    pub items: ChangeItems<'a>,
}

/// Which way something changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// A finding the previous scan did not have.
    New,
    /// A finding of the previous scan that is gone.
    Resolved,
    /// A finding of the previous scan that this scan could not check again.
    NotRechecked,
    /// A finding both scans have.
    Unchanged,
    /// A host or service the previous scan did not see.
    Appeared,
    /// A host or service the previous scan saw and this one does not.
    Gone,
}

/// The things of one [`ChangeSection`].
pub(crate) enum ChangeItems<'a> {
    /// Findings, most severe first.
    Findings(Vec<FindingRow<'a>>),
    /// Findings this scan could not check again, most severe first, with the reason.
    NotRechecked(Vec<CarriedRow<'a>>),
    /// Host addresses.
    Hosts(&'a [IpAddr]),
    /// Services.
    Services(Vec<ServiceChange<'a>>),
}

/// A finding this scan could not check again.
pub(crate) struct CarriedRow<'a> {
    /// The finding as last confirmed.
    pub row: FindingRow<'a>,
    /// Why it could not be checked, in the reader's language (may quote the peer: escape it).
    pub reason: String,
    /// When the last scan that confirmed it started.
    pub last_confirmed: DateTime<Utc>,
    /// The previous scan could not check it either.
    pub still: bool,
}

impl<'a> CarriedRow<'a> {
    /// "last confirmed 2026-11-20 10:00 JST".
    /// "since an earlier scan, last confirmed …" when the previous scan could not check it
    /// either.
    pub(crate) fn confirmed(&self, lang: Lang) -> String {
        let when = format!(
            "{} {}",
            S::LastConfirmed.get(lang),
            super::fmt_time(self.last_confirmed)
        );
        if self.still {
            format!("{}, {when}", S::NotRecheckedStill.get(lang))
        } else {
            when
        }
    }

    fn of(c: &'a CarriedFinding, lang: Lang, still: bool) -> CarriedRow<'a> {
        CarriedRow {
            row: FindingRow::of(&c.finding, lang, false),
            reason: reason_text(&c.reason, lang),
            last_confirmed: c.last_confirmed,
            still,
        }
    }
}

/// Why a finding could not be checked again, in words.
pub(crate) fn reason_text(reason: &NotRechecked, lang: Lang) -> String {
    let t = |s: S| s.get(lang);
    match reason {
        NotRechecked::HostNotSeen => t(S::ReasonHostNotSeen).to_string(),
        NotRechecked::VantageNotScanned { zone } => {
            t(S::ReasonVantageNotScanned).replace("{zone}", zone)
        }
        NotRechecked::PortNotOpen { state: None } => t(S::ReasonPortNotReported).to_string(),
        NotRechecked::PortNotOpen { state: Some(state) } => {
            let state = match state {
                PortState::Open => "open",
                PortState::Closed => t(S::PortStateClosed),
                PortState::Filtered => t(S::PortStateFiltered),
                PortState::OpenFiltered => t(S::PortStateOpenFiltered),
            };
            t(S::ReasonPortNotOpen).replace("{state}", state)
        }
        NotRechecked::RefusedScanner { probe, detail } => t(S::ReasonRefusedScanner)
            .replace("{probe}", probe)
            .replace("{detail}", detail),
        NotRechecked::ProbeFailed { probe, detail, .. } => t(S::ReasonProbeFailed)
            .replace("{probe}", probe)
            .replace("{detail}", detail),
        NotRechecked::FactsMissing { paths } => {
            t(S::ReasonFactsMissing).replace("{paths}", &paths.join(", "))
        }
        NotRechecked::RuleNotRun { rule_id } => t(S::ReasonRuleNotRun).replace("{rule}", rule_id),
        NotRechecked::RuleFailed { detail } => t(S::ReasonRuleFailed).replace("{detail}", detail),
        // A reason from a newer clinicscan: its kind is all this version can say.
        other => other.kind().to_string(),
    }
}

/// A service that appeared or went.
pub(crate) struct ServiceChange<'a> {
    /// "10.0.0.1:80/tcp".
    pub at: String,
    /// The protocol or port name, when known.
    pub name: Option<&'a str>,
}

impl<'a> View<'a> {
    pub(crate) fn of(input: &ReportInput<'a>) -> View<'a> {
        let a = input.assessment;
        let lang = input.lang;
        let new: HashSet<&str> = input
            .diff
            .map(|d| d.new_findings.iter().map(|f| f.key.as_str()).collect())
            .unwrap_or_default();
        let findings: Vec<FindingRow<'a>> = ordered_findings(a)
            .into_iter()
            .map(|f| FindingRow::of(f, lang, new.contains(f.key.as_str())))
            .collect();
        View {
            lang,
            assessment: a,
            started: crate::diff::scan_started(a, input.observations),
            vantage_zones: vantage_zones(a),
            controls: control_rows(a, &findings, lang),
            control_counts: control_counts(a),
            hosts: host_rows(input, &findings),
            notices: input
                .observations
                .iter()
                .flat_map(|o| o.scan.notices.iter())
                .map(|n| NoticeRow::of(n, lang))
                .collect(),
            changes: input.diff.map(|d| Changes::of(d, lang)),
            matrix: matrix(a, lang),
            vantages: vantage_lines(a, lang),
            data: a
                .data
                .iter()
                .map(|d| {
                    format!(
                        "{} {} ({})",
                        d.name,
                        d.updated.as_deref().unwrap_or("-"),
                        d.file
                    )
                })
                .collect(),
            findings,
        }
    }

    /// The findings of one severity after another, most severe first; a severity without
    /// findings is left out.
    pub(crate) fn by_severity(&self) -> impl Iterator<Item = (Severity, &[FindingRow<'a>])> {
        self.findings
            .chunk_by(|x, y| x.finding.severity == y.finding.severity)
            .map(|group| (group[0].finding.severity, group))
    }
}

impl<'a> FindingRow<'a> {
    fn of(f: &'a Finding, lang: Lang, new: bool) -> FindingRow<'a> {
        FindingRow {
            finding: f,
            target: target(f),
            severity: sev_label(f.severity).get(lang),
            title: f.title.get(lang),
            description: f.description.get(lang),
            remediation: f.remediation.get(lang),
            new,
            guess: f.certainty == Certainty::Guess,
        }
    }
}

impl<'a> NoticeRow<'a> {
    fn of(n: &'a Notice, lang: Lang) -> NoticeRow<'a> {
        let subject = n.subject.as_deref();
        match (crate::strings::notice_text(&n.kind), lang) {
            (Some(text), Lang::Ja) => NoticeRow {
                text: text.get(lang),
                detail: Some(&n.message),
                subject,
            },
            _ => NoticeRow {
                text: &n.message,
                detail: None,
                subject,
            },
        }
    }
}

impl<'a> Changes<'a> {
    /// The counts as "label N", joined by `separator`.
    pub(crate) fn counts_joined(&self, separator: &str) -> String {
        self.counts
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect::<Vec<_>>()
            .join(separator)
    }

    pub(crate) fn of(diff: &'a ScanDiff, lang: Lang) -> Changes<'a> {
        let findings = |kind: Change, label: S, list: &'a [Finding]| ChangeSection {
            kind,
            label: label.get(lang),
            items: ChangeItems::Findings(
                list.iter()
                    .map(|f| FindingRow::of(f, lang, kind == Change::New))
                    .collect(),
            ),
        };
        let hosts = |kind: Change, label: S, list: &'a [IpAddr]| ChangeSection {
            kind,
            label: label.get(lang),
            items: ChangeItems::Hosts(list),
        };
        let services = |kind: Change, label: S, list: &'a [ServiceRef]| ChangeSection {
            kind,
            label: label.get(lang),
            items: ChangeItems::Services(
                list.iter()
                    .map(|s| ServiceChange {
                        at: format!("{}:{}/{}", s.host, s.port, transport_str(s.transport)),
                        name: s.name.as_deref(),
                    })
                    .collect(),
            ),
        };
        let mut counts = vec![
            (S::NewFindings.get(lang), diff.new_findings.len()),
            (S::ResolvedFindings.get(lang), diff.resolved_findings.len()),
        ];
        if !diff.not_rechecked_findings.is_empty() {
            counts.push((S::NotRechecked.get(lang), diff.not_rechecked_findings.len()));
        }
        counts.push((
            S::UnchangedFindings.get(lang),
            diff.unchanged_findings.len(),
        ));
        Changes {
            diff,
            counts,
            sections: vec![
                findings(Change::New, S::NewFindings, &diff.new_findings),
                findings(
                    Change::Resolved,
                    S::ResolvedFindings,
                    &diff.resolved_findings,
                ),
                ChangeSection {
                    kind: Change::NotRechecked,
                    label: S::NotRechecked.get(lang),
                    items: ChangeItems::NotRechecked(
                        diff.not_rechecked_findings
                            .iter()
                            .map(|c| {
                                let still = diff.not_rechecked_before.contains(&c.finding.key);
                                CarriedRow::of(c, lang, still)
                            })
                            .collect(),
                    ),
                },
                findings(
                    Change::Unchanged,
                    S::UnchangedFindings,
                    &diff.unchanged_findings,
                ),
                hosts(Change::Appeared, S::HostAppeared, &diff.hosts_appeared),
                hosts(Change::Gone, S::HostVanished, &diff.hosts_vanished),
                services(
                    Change::Appeared,
                    S::ServiceAppeared,
                    &diff.services_appeared,
                ),
                services(Change::Gone, S::ServiceVanished, &diff.services_vanished),
            ],
        }
    }
}

/// Findings in display order: most severe first, then by host, port and rule.
fn ordered_findings(a: &Assessment) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = a.findings.iter().collect();
    v.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then_with(|| x.host.cmp(&y.host))
            .then_with(|| x.port.cmp(&y.port))
            .then_with(|| x.rule_id.cmp(&y.rule_id))
            .then_with(|| x.key.cmp(&y.key))
    });
    v
}

/// "10.0.0.1:3389/tcp", or the bare address for a host finding.
pub(crate) fn target(f: &Finding) -> String {
    let addr = match f.host {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    match (f.port, f.transport) {
        (Some(p), Some(t)) => format!("{addr}:{p}/{}", transport_str(t)),
        (Some(p), None) => format!("{addr}:{p}"),
        _ => f.host.to_string(),
    }
}

/// The site's zones the scan ran from, comma-separated.
fn vantage_zones(a: &Assessment) -> Option<String> {
    let mut zones: Vec<&str> = a
        .observations
        .iter()
        .filter_map(|o| o.vantage_zone.as_deref())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    (!zones.is_empty()).then(|| zones.join(", "))
}

/// Number of controls with each status.
fn control_counts(a: &Assessment) -> [(ControlStatus, usize); 4] {
    ControlStatus::ALL.map(|st| (st, a.controls.iter().filter(|c| c.status == st).count()))
}

/// Display order of control statuses: the ones that need action first.
fn status_rank(status: ControlStatus) -> u8 {
    match status {
        ControlStatus::Fail => 0,
        ControlStatus::NotVerified => 1,
        ControlStatus::Pass => 2,
        ControlStatus::NotAssessableByScan => 3,
    }
}

fn control_rows<'a>(
    a: &'a Assessment,
    findings: &[FindingRow<'a>],
    lang: Lang,
) -> Vec<ControlRow<'a>> {
    // One pass over the findings, not one per control: a large site has thousands.
    let mut by_control: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in findings.iter().enumerate() {
        for id in &row.finding.controls {
            let list = by_control.entry(id.as_str()).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    let mut controls: Vec<&ControlResult> = a.controls.iter().collect();
    controls.sort_by(|x, y| {
        status_rank(x.status)
            .cmp(&status_rank(y.status))
            .then_with(|| natural_cmp(&x.id, &y.id))
    });
    controls
        .into_iter()
        .map(|c| ControlRow {
            control: c,
            status: status_label(c.status).get(lang),
            title: c.title.get(lang),
            findings: control_findings(c, &by_control, findings),
            checked: c.checked.iter().map(|ch| check_line(ch, lang)).collect(),
            missing: c.missing.iter().map(|m| m.text.get(lang)).collect(),
        })
        .collect()
}

/// The findings a control lists: the ones that fail it (an Assessment of schema v2 names
/// them), else, for an older Assessment without that list, every finding naming it.
fn control_findings(
    c: &ControlResult,
    by_control: &HashMap<&str, Vec<usize>>,
    findings: &[FindingRow<'_>],
) -> Vec<usize> {
    let naming = by_control.get(c.id.as_str()).cloned().unwrap_or_default();
    let v1 = c.findings.is_empty() && c.checked.is_empty() && c.missing.is_empty();
    if v1 {
        return naming;
    }
    naming
        .into_iter()
        .filter(|&i| c.findings.contains(&findings[i].finding.key))
        .collect()
}

/// One check in words: the rule, what it looked at, from where, in which observation.
pub(crate) fn check_line(ch: &Check, lang: Lang) -> String {
    const SHOWN: usize = 3;
    let subjects: Vec<String> = ch
        .subjects
        .iter()
        .take(SHOWN)
        .map(|s| s.to_string())
        .collect();
    let more = ch.subjects.len().saturating_sub(SHOWN);
    let list = match (subjects.is_empty(), more, lang) {
        (true, _, _) => String::new(),
        (false, 0, _) => subjects.join(", "),
        (false, n, Lang::Ja) => format!("{} ほか{n}件", subjects.join(", ")),
        (false, n, Lang::En) => format!("{} and {n} more", subjects.join(", ")),
    };
    let vz = ch.vantage_zone.as_deref().unwrap_or("?");
    let obs = &ch.observation_id;
    let facts = if ch.facts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", ch.facts.join(", "))
    };
    let n = ch.subjects.len();
    match (&ch.zone_pair, ch.egress_target, lang) {
        (Some(p), _, Lang::Ja) => format!(
            "{}: {} → {} を走査(稼働ホスト {n}{}{list})観測 {obs}",
            ch.rule_id,
            p.from,
            p.to,
            if list.is_empty() { "" } else { ": " }
        ),
        (Some(p), _, Lang::En) => format!(
            "{}: {} → {} probed ({n} hosts up{}{list}); observation {obs}",
            ch.rule_id,
            p.from,
            p.to,
            if list.is_empty() { "" } else { ": " }
        ),
        (None, true, Lang::Ja) => format!(
            "{}: 確認先 {list} への接続をゾーン {vz} から試行、観測 {obs}",
            ch.rule_id
        ),
        (None, true, Lang::En) => format!(
            "{}: egress target {list} tried from zone {vz}; observation {obs}",
            ch.rule_id
        ),
        (None, false, Lang::Ja) => format!(
            "{}: {n}件を確認{facts}({list})ゾーン {vz} から、観測 {obs}",
            ch.rule_id
        ),
        (None, false, Lang::En) => format!(
            "{}: checked {n}{facts} ({list}) from zone {vz}; observation {obs}",
            ch.rule_id
        ),
    }
}

/// One vantage zone of a site audit, with its status in words.
pub(crate) struct VantageLine<'a> {
    /// The zone.
    pub zone: &'a str,
    /// Its kind.
    pub kind: &'a str,
    /// Its state.
    pub state: VantageState,
    /// Whether the site expects a scan from it.
    pub expected: bool,
    /// The state in words.
    pub label: &'static str,
    /// The scan used (or left out): "scan-id, 2026-12-01 (3 days ago)"; empty when none.
    pub scan: String,
}

fn vantage_lines(a: &Assessment, lang: Lang) -> Vec<VantageLine<'_>> {
    a.vantages
        .iter()
        .map(|v| {
            let label = match (v.state, v.expected) {
                (VantageState::Current, _) => S::VantageCurrent,
                (VantageState::Stale, _) => S::VantageStale,
                (VantageState::NeverScanned, true) => S::VantageNeverExpected,
                (VantageState::NeverScanned, false) => S::VantageNever,
            };
            let scan = match (&v.observation_id, v.started) {
                (Some(id), Some(at)) => format!(
                    "{id}, {}{}",
                    at.format("%Y-%m-%d %H:%M UTC"),
                    v.age_days
                        .map(|d| format!(" ({d} {})", S::VantageDays.get(lang)))
                        .unwrap_or_default()
                ),
                (Some(id), None) => id.clone(),
                _ => String::new(),
            };
            VantageLine {
                zone: &v.zone,
                kind: &v.kind,
                state: v.state,
                expected: v.expected,
                label: label.get(lang),
                scan,
            }
        })
        .collect()
}

/// The matrix of the assessment's coverage, with a symbol and a label per cell.
fn matrix(a: &Assessment, lang: Lang) -> Option<Matrix<'_>> {
    let cov = a.coverage.as_ref()?;
    let zones: Vec<&str> = cov.zones.iter().map(String::as_str).collect();
    let rows = zones
        .iter()
        .filter(|z| cov.cells.iter().any(|c| c.from == **z))
        .map(|from| MatrixRow {
            from,
            cells: zones
                .iter()
                .map(|to| {
                    let c = cov.cell(from, to)?;
                    let (symbol, label) = match c.state {
                        CellState::ProbedClean => ("✓", S::CellClean),
                        CellState::AllowedBySite => ("=", S::CellAllowed),
                        CellState::Violation => ("✗", S::CellViolation),
                        CellState::NotProbed => ("·", S::CellNotProbed),
                    };
                    let reached: Vec<String> = c
                        .reached
                        .iter()
                        .map(|r| {
                            format!(
                                "{}:{}/{}{}",
                                r.host,
                                r.port,
                                transport_str(r.transport),
                                if r.allowed { "" } else { " ✗" }
                            )
                        })
                        .collect();
                    Some(MatrixCell {
                        state: c.state,
                        symbol,
                        label: label.get(lang),
                        detail: reached.join(", "),
                    })
                })
                .collect(),
        })
        .collect();
    Some(Matrix { zones, rows })
}

/// Compares ids with their numbers as numbers: "GL6-SO-8-3" < "GL6-SO-13-11".
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x, y) {
            ((true, nx), (true, ny)) => {
                let (tx, ty) = (nx.trim_start_matches('0'), ny.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            ((_, sx), (_, sy)) => sx.cmp(sy),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// A host while the Observations are merged.
#[derive(Default)]
struct HostDraft<'a> {
    mac: Option<&'a str>,
    vendor: Option<&'a str>,
    names: Vec<&'a str>,
    services: Vec<&'a Service>,
    zone: Option<&'a str>,
    findings: Vec<usize>,
}

fn host_rows<'a>(input: &ReportInput<'a>, findings: &[FindingRow<'a>]) -> Vec<HostRow<'a>> {
    let mut map: BTreeMap<IpAddr, HostDraft<'a>> = BTreeMap::new();
    for host in input.observations.iter().flat_map(|o| o.hosts.iter()) {
        if host.status.state != HostState::Up {
            continue;
        }
        let v = map.entry(host.address).or_default();
        v.mac = v.mac.or(host.mac.as_deref());
        v.vendor = v.vendor.or(host.vendor.as_deref());
        for n in &host.names {
            if !v.names.contains(&n.name.as_str()) {
                v.names.push(&n.name);
            }
        }
        for s in host.services.iter().filter(|s| s.state == PortState::Open) {
            if !v
                .services
                .iter()
                .any(|o| o.port == s.port && o.transport == s.transport)
            {
                v.services.push(s);
            }
        }
    }
    for (i, row) in findings.iter().enumerate() {
        let v = map.entry(row.finding.host).or_default();
        if v.zone.is_none() {
            v.zone = row.finding.zone.as_deref();
        }
        v.findings.push(i);
    }
    map.into_iter()
        .map(|(address, mut v)| {
            v.services.sort_by_key(|s| (s.transport, s.port));
            HostRow {
                address,
                mac: v.mac,
                vendor: v.vendor,
                names: v.names,
                zone: v.zone,
                services: v.services.into_iter().map(ServiceRow::of).collect(),
                worst: v
                    .findings
                    .iter()
                    .map(|&i| findings[i].finding.severity)
                    .max(),
                findings: v.findings,
                seen: input.seen.and_then(|m| m.get(&address)).copied(),
            }
        })
        .collect()
}

impl ServiceRow {
    fn of(s: &Service) -> ServiceRow {
        ServiceRow {
            port: format!("{}/{}", s.port, transport_str(s.transport)),
            name: match (&s.protocol, &s.port_name) {
                (Some(p), _) => p.clone(),
                (None, Some(n)) => format!("{n}?"),
                (None, None) => "?".to_string(),
            },
            product: s.software.as_ref().map(|sw| match &sw.version {
                Some(v) => format!("{} {}", sw.product, v),
                None => sw.product.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_ids_sort_naturally() {
        let mut ids = vec![
            "GL6-SO-13-11",
            "GL6-SO-8.1",
            "CL-R7-2-13",
            "GL6-SO-8-3",
            "CL-R7-2-1",
            "GL6-SO-13-2",
            "GL6-SO-8-10",
            "",
            "GL6",
        ];
        ids.sort_by(|a, b| super::natural_cmp(a, b));
        assert_eq!(
            ids,
            [
                "",
                "CL-R7-2-1",
                "CL-R7-2-13",
                "GL6",
                "GL6-SO-8-3",
                "GL6-SO-8-10",
                "GL6-SO-8.1",
                "GL6-SO-13-2",
                "GL6-SO-13-11"
            ]
        );
    }
}
