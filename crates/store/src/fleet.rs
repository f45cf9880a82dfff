//! The fleet view: the newest posture of every site of a shared store.
//!
//! A site's posture combines its newest scan from each vantage zone (as a site audit does):
//! findings are counted once per finding key across those scans, a control fails when any
//! of them failed it, and the zones covered are those the scans ran from. Pure: computed
//! from what [`Store::newest_per_site_zone`](crate::Store::newest_per_site_zone) returns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, ControlStatus, Finding, Severity, SeverityCounts, Text};
use serde::Serialize;

use crate::{ScanId, ScanSummary};

/// The schema tag of the fleet JSON.
pub const FLEET_SCHEMA: &str = "clinicscan/fleet/v1";

/// Every site's newest posture, the stale sites and the findings most sites share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetReport {
    /// Always `clinicscan/fleet/v1`.
    pub schema: String,
    /// When the report was made.
    pub generated: DateTime<Utc>,
    /// A site whose newest scan is older than this many days is stale.
    pub stale_after_days: u32,
    /// Every site with a site id, by site id.
    pub sites: Vec<SitePosture>,
    /// Ids of the sites not scanned for `stale_after_days` days.
    pub stale_sites: Vec<String>,
    /// Rules that fired, with the number of sites where they did, most shared first.
    pub common_findings: Vec<CommonFinding>,
}

/// One site's newest posture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SitePosture {
    /// The site id.
    pub site_id: String,
    /// The site name of its newest scan.
    pub site: Option<String>,
    /// When its newest scan started.
    pub last_scan: DateTime<Utc>,
    /// Seconds from `last_scan` to the report.
    pub age_seconds: i64,
    /// Not scanned for `stale_after_days` days.
    pub stale: bool,
    /// Distinct findings (by finding key) over the newest scan of each vantage zone.
    pub findings: u32,
    /// Those findings by severity.
    pub counts: SeverityCounts,
    /// Controls failed by any of those scans.
    pub controls_failing: Vec<String>,
    /// The vantage zones those scans ran from.
    pub vantage_zones: Vec<String>,
    /// The scans combined.
    pub scans: Vec<ScanId>,
}

/// A rule that fired at several sites.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommonFinding {
    /// The rule.
    pub rule_id: String,
    /// The highest severity it had at any site.
    pub severity: Severity,
    /// Its title.
    pub title: Text,
    /// At how many sites it fired.
    pub sites: u32,
    /// Which.
    pub site_ids: Vec<String>,
}

impl FleetReport {
    /// Builds the report from the newest scan of every site and vantage zone.
    pub fn build(
        now: DateTime<Utc>,
        stale_after_days: u32,
        newest: &[(ScanSummary, Assessment)],
    ) -> FleetReport {
        let mut by_site: BTreeMap<&str, Vec<&(ScanSummary, Assessment)>> = BTreeMap::new();
        for entry in newest {
            if let Some(id) = entry.0.site_id.as_deref() {
                by_site.entry(id).or_default().push(entry);
            }
        }
        let stale_after = chrono::Duration::days(i64::from(stale_after_days));
        let mut sites = Vec::new();
        let mut rules: BTreeMap<&str, (Severity, &Text, BTreeSet<&str>)> = BTreeMap::new();
        for (site_id, scans) in &by_site {
            let Some(newest) = scans.iter().max_by_key(|(s, _)| (s.started, s.id)) else {
                continue;
            };
            let mut findings: BTreeMap<&str, &Finding> = BTreeMap::new();
            let mut failing = BTreeSet::new();
            let mut zones = BTreeSet::new();
            for (summary, assessment) in scans {
                for f in &assessment.findings {
                    findings.entry(f.key.as_str()).or_insert(f);
                }
                failing.extend(
                    assessment
                        .controls
                        .iter()
                        .filter(|c| c.status == ControlStatus::Fail)
                        .map(|c| c.id.clone()),
                );
                zones.extend(
                    summary
                        .vantage_zones
                        .split(',')
                        .filter(|z| !z.is_empty())
                        .map(String::from),
                );
            }
            let mut counts = SeverityCounts::default();
            for f in findings.values() {
                counts.add(f.severity);
                let slot = rules.entry(f.rule_id.as_str()).or_insert((
                    f.severity,
                    &f.title,
                    BTreeSet::new(),
                ));
                slot.0 = slot.0.max(f.severity);
                slot.2.insert(site_id);
            }
            let last_scan = newest.0.started;
            let mut scan_ids: Vec<ScanId> = scans.iter().map(|(s, _)| s.id).collect();
            scan_ids.sort_unstable();
            sites.push(SitePosture {
                site_id: site_id.to_string(),
                site: newest.0.site.clone(),
                last_scan,
                age_seconds: (now - last_scan).num_seconds(),
                stale: now - last_scan > stale_after,
                findings: u32::try_from(findings.len()).unwrap_or(u32::MAX),
                counts,
                controls_failing: failing.into_iter().collect(),
                vantage_zones: zones.into_iter().collect(),
                scans: scan_ids,
            });
        }
        let mut common_findings: Vec<CommonFinding> = rules
            .into_iter()
            .map(|(rule_id, (severity, title, at))| CommonFinding {
                rule_id: rule_id.to_string(),
                severity,
                title: title.clone(),
                sites: u32::try_from(at.len()).unwrap_or(u32::MAX),
                site_ids: at.into_iter().map(String::from).collect(),
            })
            .collect();
        common_findings.sort_by(|a, b| {
            b.sites
                .cmp(&a.sites)
                .then(b.severity.cmp(&a.severity))
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        FleetReport {
            schema: FLEET_SCHEMA.to_string(),
            generated: now,
            stale_after_days,
            stale_sites: sites
                .iter()
                .filter(|s| s.stale)
                .map(|s| s.site_id.clone())
                .collect(),
            sites,
            common_findings,
        }
    }
}
