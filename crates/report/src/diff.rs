//! What changed between two scans: findings by finding key, hosts and services.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, Finding, HostState, Observation, PortState, Transport};
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
    /// Findings of the older scan whose key the newer scan no longer has.
    pub resolved_findings: Vec<Finding>,
    /// Findings of the newer scan whose key the older scan had too.
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
        let old_keys: BTreeSet<&str> = older
            .assessment
            .findings
            .iter()
            .map(|f| f.key.as_str())
            .collect();
        let new_keys: BTreeSet<&str> = newer
            .assessment
            .findings
            .iter()
            .map(|f| f.key.as_str())
            .collect();

        let mut new_findings = Vec::new();
        let mut unchanged_findings = Vec::new();
        for f in &newer.assessment.findings {
            if old_keys.contains(f.key.as_str()) {
                unchanged_findings.push(f.clone());
            } else {
                new_findings.push(f.clone());
            }
        }
        let resolved_findings: Vec<Finding> = older
            .assessment
            .findings
            .iter()
            .filter(|f| !new_keys.contains(f.key.as_str()))
            .cloned()
            .collect();

        let old_hosts = up_hosts(older.observations);
        let new_hosts = up_hosts(newer.observations);
        let old_services = open_services(older.observations);
        let new_services = open_services(newer.observations);

        ScanDiff {
            from: point(older),
            to: point(newer),
            new_findings: sorted(new_findings),
            resolved_findings: sorted(resolved_findings),
            unchanged_findings: sorted(unchanged_findings),
            hosts_appeared: new_hosts.difference(&old_hosts).copied().collect(),
            hosts_vanished: old_hosts.difference(&new_hosts).copied().collect(),
            services_appeared: only_in(&new_services, &old_services),
            services_vanished: only_in(&old_services, &new_services),
        }
    }

    /// True when anything changed: a new or resolved finding, a host or a service that
    /// appeared or vanished.
    pub fn has_changes(&self) -> bool {
        !(self.new_findings.is_empty()
            && self.resolved_findings.is_empty()
            && self.hosts_appeared.is_empty()
            && self.hosts_vanished.is_empty()
            && self.services_appeared.is_empty()
            && self.services_vanished.is_empty())
    }
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
