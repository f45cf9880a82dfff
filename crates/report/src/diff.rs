//! What changed between two scans: findings by finding key, hosts and services.
//!
//! A finding the newer scan could not check again (its `not_rechecked`, with the reason) is
//! neither resolved nor unchanged: it has a category of its own. Only a finding the newer
//! scan neither reports nor carries is resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use clinicscan_model::{
    Assessment, CarriedFinding, Finding, HostState, Observation, PortState, Transport,
};
use serde::{Deserialize, Serialize};

/// One side of a [`ScanDiff`]: which scan, and when it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPoint {
    /// The history id of the scan, when it came from the history database.
    pub scan_id: Option<i64>,
    /// When the scan started (the earliest Observation), or when it was assessed.
    pub started: DateTime<Utc>,
}

/// One open service, identified by host, port and transport.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServiceRef {
    /// The host.
    pub host: IpAddr,
    /// The port.
    pub port: u16,
    /// TCP or UDP.
    pub transport: Transport,
    /// The protocol a probe identified, else the conventional port name (may be absent).
    pub name: Option<String>,
}

/// What changed from an older scan to a newer one.
///
/// Findings are matched by [`Finding::key`] (rule, address, transport, port); hosts by
/// address (up hosts only); services by host, port and transport (open ports only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanDiff {
    /// The older scan.
    pub from: ScanPoint,
    /// The newer scan.
    pub to: ScanPoint,
    /// Findings of the newer scan whose key the older scan did not have.
    pub new_findings: Vec<Finding>,
    /// Findings of the older scan (reported or carried) that the newer scan checked again
    /// and no longer has.
    pub resolved_findings: Vec<Finding>,
    /// Findings the newer scan could not check again, with the reason: not resolved.
    #[serde(default)]
    pub not_rechecked_findings: Vec<CarriedFinding>,
    /// The keys of `not_rechecked_findings` the older scan could not check either (still
    /// not re-checked: not news).
    #[serde(default)]
    pub not_rechecked_before: Vec<String>,
    /// Findings of the newer scan whose key the older scan had too (reported or carried).
    pub unchanged_findings: Vec<Finding>,
    /// Hosts up in the newer scan only.
    pub hosts_appeared: Vec<IpAddr>,
    /// Hosts up in the older scan only.
    pub hosts_vanished: Vec<IpAddr>,
    /// Open services in the newer scan only.
    pub services_appeared: Vec<ServiceRef>,
    /// Open services in the older scan only.
    pub services_vanished: Vec<ServiceRef>,
}

/// One scan as the diff sees it.
#[derive(Debug, Clone, Copy)]
pub struct ScanSide<'a> {
    /// History id, if any.
    pub scan_id: Option<i64>,
    /// The assessment.
    pub assessment: &'a Assessment,
    /// The observations it came from.
    pub observations: &'a [Observation],
}

impl ScanDiff {
    /// Compares an older scan with a newer one. Pure: no I/O.
    pub fn between(older: ScanSide<'_>, newer: ScanSide<'_>) -> ScanDiff {
        let old_keys = keys(older.assessment);
        let new_keys = keys(newer.assessment);

        let mut new_findings = Vec::new();
        let mut unchanged_findings = Vec::new();
        for f in &newer.assessment.findings {
            if old_keys.contains(f.key.as_str()) {
                unchanged_findings.push(f.clone());
            } else {
                new_findings.push(f.clone());
            }
        }
        // An older finding is resolved when the newer scan neither reports nor carries it;
        // one the older scan itself carried is listed as it was last confirmed.
        let mut resolved: BTreeMap<&str, &Finding> = BTreeMap::new();
        for c in &older.assessment.not_rechecked {
            resolved.insert(&c.finding.key, &c.finding);
        }
        for f in &older.assessment.findings {
            resolved.insert(&f.key, f);
        }
        let resolved_findings: Vec<Finding> = resolved
            .into_iter()
            .filter(|(key, _)| !new_keys.contains(key))
            .map(|(_, f)| f.clone())
            .collect();
        let mut not_rechecked_findings = newer.assessment.not_rechecked.clone();
        not_rechecked_findings.sort_by(|a, b| {
            b.finding
                .severity
                .cmp(&a.finding.severity)
                .then_with(|| a.finding.key.cmp(&b.finding.key))
        });

        let old_hosts = up_hosts(older.observations);
        let new_hosts = up_hosts(newer.observations);
        let old_services = open_services(older.observations);
        let new_services = open_services(newer.observations);

        ScanDiff {
            from: point(older),
            to: point(newer),
            new_findings: sorted(new_findings),
            resolved_findings: sorted(resolved_findings),
            not_rechecked_before: not_rechecked_findings
                .iter()
                .filter(|c| {
                    older
                        .assessment
                        .not_rechecked
                        .iter()
                        .any(|o| o.finding.key == c.finding.key)
                })
                .map(|c| c.finding.key.clone())
                .collect(),
            not_rechecked_findings,
            unchanged_findings: sorted(unchanged_findings),
            hosts_appeared: new_hosts.difference(&old_hosts).copied().collect(),
            hosts_vanished: old_hosts.difference(&new_hosts).copied().collect(),
            services_appeared: only_in(&new_services, &old_services),
            services_vanished: only_in(&old_services, &new_services),
        }
    }

    /// True when anything changed: a new or resolved finding, a finding that could not be
    /// checked again when the older scan still had it confirmed (the reader must hear that
    /// it was not checked), a host or a service that appeared or vanished.
    pub fn has_changes(&self) -> bool {
        !(self.new_findings.is_empty()
            && self.resolved_findings.is_empty()
            && self.newly_not_rechecked().next().is_none()
            && self.hosts_appeared.is_empty()
            && self.hosts_vanished.is_empty()
            && self.services_appeared.is_empty()
            && self.services_vanished.is_empty())
    }

    /// The findings the newer scan could not check again that the older one did not carry
    /// already (still not re-checked is not news; newly not re-checked is).
    pub fn newly_not_rechecked(&self) -> impl Iterator<Item = &CarriedFinding> {
        self.not_rechecked_findings
            .iter()
            .filter(|c| !self.not_rechecked_before.contains(&c.finding.key))
    }
}

/// Every finding key of an assessment, reported or carried.
fn keys(a: &Assessment) -> BTreeSet<&str> {
    a.findings
        .iter()
        .map(|f| f.key.as_str())
        .chain(a.not_rechecked.iter().map(|c| c.finding.key.as_str()))
        .collect()
}

/// When a scan started: the store's definition, so a diff and the history agree.
pub(crate) use clinicscan_store::scan_started;

fn point(side: ScanSide<'_>) -> ScanPoint {
    ScanPoint {
        scan_id: side.scan_id,
        started: scan_started(side.assessment, side.observations),
    }
}

/// Most severe first, then by key: a stable order for every renderer.
fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.key.cmp(&b.key)));
    findings
}

fn up_hosts(observations: &[Observation]) -> BTreeSet<IpAddr> {
    observations
        .iter()
        .flat_map(|o| o.hosts.iter())
        .filter(|h| h.status.state == HostState::Up)
        .map(|h| h.address)
        .collect()
}

type ServiceMap = BTreeMap<(IpAddr, u16, Transport), Option<String>>;

fn open_services(observations: &[Observation]) -> ServiceMap {
    let mut map = ServiceMap::new();
    for host in observations.iter().flat_map(|o| o.hosts.iter()) {
        for s in host.services.iter().filter(|s| s.state == PortState::Open) {
            let name = s.protocol.clone().or_else(|| s.port_name.clone());
            let slot = map.entry((host.address, s.port, s.transport)).or_default();
            if slot.is_none() {
                *slot = name;
            }
        }
    }
    map
}

fn only_in(a: &ServiceMap, b: &ServiceMap) -> Vec<ServiceRef> {
    a.iter()
        .filter(|(k, _)| !b.contains_key(k))
        .map(|(&(host, port, transport), name)| ServiceRef {
            host,
            port,
            transport,
            name: name.clone(),
        })
        .collect()
}
