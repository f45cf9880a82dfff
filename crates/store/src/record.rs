//! What both backends derive from a scan before writing it, and decode after reading it:
//! one definition, so SQLite and PostgreSQL store and compare scans the same way.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, ControlStatus, HostState, Observation};

use crate::{HostSeen, ScanId, ScanSummary, StoreError, StoredScan};

/// The rows of one scan, ready to insert.
pub(crate) struct ScanRow {
    /// Idempotency key: the Observations' scan ids, sorted, comma-separated.
    pub key: String,
    pub started: DateTime<Utc>,
    pub scope: String,
    pub site: Option<String>,
    pub site_id: Option<String>,
    pub vantage_zones: String,
    pub tool_version: String,
    pub hosts_up: u32,
    pub findings: u32,
    pub by_severity: [u32; 5],
    pub controls_failed: u32,
    pub assessment_json: String,
    /// (observation id, JSON), in order.
    pub observations: Vec<(String, String)>,
    /// Up hosts with the first MAC any Observation gave.
    pub hosts: BTreeMap<IpAddr, Option<String>>,
}

impl ScanRow {
    pub fn new(
        observations: &[Observation],
        assessment: &Assessment,
    ) -> Result<ScanRow, StoreError> {
        let assessment_json = serde_json::to_string(assessment).map_err(StoreError::Serialise)?;
        let observation_json = observations
            .iter()
            .map(|o| serde_json::to_string(o).map(|j| (column_text(&o.scan.id), j)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::Serialise)?;
        let zones = vantage_zones(observations);
        let mut hosts: BTreeMap<IpAddr, Option<String>> = BTreeMap::new();
        for h in observations.iter().flat_map(|o| o.hosts.iter()) {
            if h.status.state == HostState::Up {
                let slot = hosts.entry(h.address).or_default();
                if slot.is_none() {
                    *slot = h.mac.as_deref().map(column_text);
                }
            }
        }
        let c = &assessment.counts;
        let failed = assessment
            .controls
            .iter()
            .filter(|c| c.status == ControlStatus::Fail)
            .count();
        Ok(ScanRow {
            key: column_text(&scan_key(observations, assessment)),
            started: scan_started(assessment, observations),
            scope: scope_of(assessment, observations),
            site: assessment.site.as_deref().map(column_text),
            site_id: assessment.site_id.as_deref().map(column_text),
            vantage_zones: column_text(&zones.join(",")),
            tool_version: column_text(&assessment.tool_version),
            hosts_up: count(hosts.len()),
            findings: count(assessment.findings.len()),
            by_severity: [c.critical, c.high, c.medium, c.low, c.info],
            controls_failed: count(failed),
            assessment_json,
            observations: observation_json,
            hosts,
        })
    }
}

/// Text for a plain column: PostgreSQL's `text` cannot hold NUL, which an Observation read
/// from a file or a hostile peer may carry. The documents keep the exact text (JSON escapes
/// it); the listing columns show U+FFFD instead, the same in both backends.
fn column_text(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A scan is identified by the ids of the Observations it assessed (UUIDs made by the
/// scanner): the same scan sent twice — a retry after a lost acknowledgement, an outbox
/// replayed — is stored once. An Assessment without Observations falls back to its own
/// time.
pub(crate) fn scan_key(observations: &[Observation], assessment: &Assessment) -> String {
    let mut ids: Vec<&str> = observations.iter().map(|o| o.scan.id.as_str()).collect();
    if ids.is_empty() {
        return format!("assessment:{}", assessment.generated.to_rfc3339());
    }
    ids.sort_unstable();
    ids.dedup();
    ids.join(",")
}

/// The zones the Observations ran from, sorted, once each.
fn vantage_zones(observations: &[Observation]) -> Vec<&str> {
    let mut zones: Vec<&str> = observations
        .iter()
        .filter_map(|o| o.scan.vantage.zone.as_deref())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    zones
}

/// When a scan started: its earliest Observation, else the assessment time. The store's
/// `started` column and the report's diff use this one definition.
pub fn scan_started(assessment: &Assessment, observations: &[Observation]) -> DateTime<Utc> {
    observations
        .iter()
        .map(|o| o.scan.started)
        .chain(assessment.observations.iter().map(|o| o.started))
        .min()
        .unwrap_or(assessment.generated)
}

/// The scope of a scan: scans of the same site, vantage zones and targets are comparable.
/// The site id joins the key only when there is one, so scans recorded before site ids
/// existed keep their scope.
pub(crate) fn scope_of(assessment: &Assessment, observations: &[Observation]) -> String {
    let zones = vantage_zones(observations);
    let mut targets: Vec<&str> = observations
        .iter()
        .flat_map(|o| o.scan.options.targets.iter().map(String::as_str))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let mut scope = serde_json::json!({
        "site": assessment.site,
        "zones": zones,
        "targets": targets,
    });
    if let (Some(id), Some(map)) = (&assessment.site_id, scope.as_object_mut()) {
        map.insert("site_id".into(), serde_json::Value::String(id.clone()));
    }
    scope.to_string()
}

/// Parses a stored scan's documents.
pub(crate) fn decode_scan(
    id: ScanId,
    summary: ScanSummary,
    assessment_json: &str,
    observation_json: &[String],
) -> Result<StoredScan, StoreError> {
    let assessment: Assessment = serde_json::from_str(assessment_json)
        .map_err(|source| StoreError::Corrupt { id, source })?;
    let observations = observation_json
        .iter()
        .map(|j| serde_json::from_str(j))
        .collect::<Result<Vec<Observation>, _>>()
        .map_err(|source| StoreError::Corrupt { id, source })?;
    Ok(StoredScan {
        summary,
        observations,
        assessment,
    })
}

/// Parses one stored Assessment.
pub(crate) fn decode_assessment(id: ScanId, json: &str) -> Result<Assessment, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt { id, source })
}

/// First/last sightings from rows of (address, first, last). Rows this crate did not
/// write (an address that does not parse) are skipped rather than guessed at.
pub(crate) fn decode_seen(
    rows: impl IntoIterator<Item = (String, DateTime<Utc>, DateTime<Utc>)>,
) -> BTreeMap<IpAddr, HostSeen> {
    rows.into_iter()
        .filter_map(|(addr, first, last)| {
            let addr = addr.parse::<IpAddr>().ok()?;
            Some((
                addr,
                HostSeen {
                    first_seen: first,
                    last_seen: last,
                },
            ))
        })
        .collect()
}
