//! A site audit from several vantages: of the Observations a history holds, the newest
//! from each vantage zone of the site, and for each zone whether it is there, too old, or
//! was never scanned. The CLI reads the candidates from the history; the choice is here,
//! pure, so it is the same whichever store they came from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use clinicscan_model::{Observation, VantageState, VantageStatus};

use crate::site::Site;

/// What a site audit assesses: the chosen Observations and every vantage zone's status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditSelection {
    /// The newest Observation from each vantage zone that is recent enough, in the site's
    /// zone order.
    pub observations: Vec<Observation>,
    /// Every zone of the site a scan can run from (all but the clinic's public addresses),
    /// in the site's zone order, with its status.
    pub vantages: Vec<VantageStatus>,
}

/// Chooses, of `candidates` (any order, any age, duplicates allowed), the newest
/// Observation from each zone of the site (its vantage zone as [`Site::vantage_zone_of`]
/// resolves it), leaving out any older than `max_age_days` at `now`. Observations from no
/// zone of the site are ignored.
pub fn audit_selection(
    site: &Site,
    candidates: Vec<Observation>,
    now: DateTime<Utc>,
    max_age_days: Option<u32>,
) -> AuditSelection {
    let mut newest: BTreeMap<String, Observation> = BTreeMap::new();
    for obs in candidates {
        let Some(zone) = site.vantage_zone_of(&obs.scan.vantage) else {
            continue;
        };
        if site.zone(&zone).is_none_or(|z| z.public) {
            continue;
        }
        let newer = newest
            .get(&zone)
            .is_none_or(|cur| (obs.scan.started, &obs.scan.id) > (cur.scan.started, &cur.scan.id));
        if newer {
            newest.insert(zone, obs);
        }
    }
    let mut out = AuditSelection::default();
    for zone in site.zones.iter().filter(|z| !z.public) {
        let mut status = VantageStatus {
            zone: zone.name.clone(),
            kind: zone.kind.as_str().to_string(),
            state: VantageState::NeverScanned,
            expected: zone.vantage,
            observation_id: None,
            started: None,
            age_days: None,
            max_age_days,
        };
        if let Some(obs) = newest.remove(&zone.name) {
            let age = now
                .signed_duration_since(obs.scan.started)
                .num_days()
                .max(0);
            let age = u32::try_from(age).unwrap_or(u32::MAX);
            status.observation_id = Some(obs.scan.id.clone());
            status.started = Some(obs.scan.started);
            status.age_days = Some(age);
            if max_age_days.is_some_and(|max| age > max) {
                status.state = VantageState::Stale;
            } else {
                status.state = VantageState::Current;
                out.observations.push(obs);
            }
        }
        out.vantages.push(status);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        let text = r#"
[site]
name = "audit"
vantage_zone = "general"

[zones.general]
cidrs = ["10.77.10.0/24"]
[zones.clinical]
cidrs = ["10.77.20.0/24"]
[zones.oqv]
cidrs = ["10.77.30.0/24"]
[zones.guest]
cidrs = ["10.77.50.0/24"]
[zones.edge]
cidrs = ["10.77.60.0/24"]
[zones.internet]
kind = "internet"
cidrs = ["203.0.113.0/24"]
[zones.wan]
kind = "edge"
public = true
cidrs = ["198.51.100.20"]
"#;
        Site::parse(text, "audit-site.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn obs(id: &str, zone: Option<&str>, address: &str, started: &str) -> Observation {
        let mut o: Observation =
            serde_json::from_str(include_str!("../../../fixtures/policy/empty.json"))
                .expect("fixture");
        o.scan.id = id.to_string();
        o.scan.vantage.zone = zone.map(str::to_string);
        o.scan.vantage.addresses = vec![address.parse().expect("ip")];
        o.scan.started = started.parse().expect("time");
        o
    }

    #[test]
    fn the_newest_per_zone_within_the_age_and_every_zone_named() {
        let now: DateTime<Utc> = "2026-12-31T00:00:00Z".parse().expect("time");
        let picked = audit_selection(
            &site(),
            vec![
                obs(
                    "g-old",
                    Some("general"),
                    "10.77.10.10",
                    "2026-12-01T00:00:00Z",
                ),
                obs("g-new", None, "10.77.10.10", "2026-12-30T00:00:00Z"),
                obs("q", Some("oqv"), "10.77.30.50", "2026-12-29T00:00:00Z"),
                // Older than 30 days: stale, left out.
                obs(
                    "guest",
                    Some("guest"),
                    "10.77.50.10",
                    "2026-11-01T00:00:00Z",
                ),
                // A zone this site does not have, from an address in no zone: the site's
                // default vantage zone (general), but older than g-new.
                obs("x", Some("lobby"), "192.0.2.7", "2026-12-15T00:00:00Z"),
            ],
            now,
            Some(30),
        );
        let ids: Vec<&str> = picked
            .observations
            .iter()
            .map(|o| o.scan.id.as_str())
            .collect();
        assert_eq!(ids, ["g-new", "q"]);
        let state = |z: &str| {
            picked
                .vantages
                .iter()
                .find(|v| v.zone == z)
                .map(|v| (v.state, v.expected, v.age_days))
                .expect("zone listed")
        };
        assert_eq!(state("general"), (VantageState::Current, true, Some(1)));
        assert_eq!(state("oqv"), (VantageState::Current, true, Some(2)));
        assert_eq!(state("guest"), (VantageState::Stale, true, Some(60)));
        assert_eq!(state("clinical"), (VantageState::NeverScanned, true, None));
        assert_eq!(state("internet"), (VantageState::NeverScanned, true, None));
        // Zones a clinic does not audit from by default are listed, not expected.
        assert_eq!(state("edge"), (VantageState::NeverScanned, false, None));
        // The clinic's public address is no vantage.
        assert!(picked.vantages.iter().all(|v| v.zone != "wan"));
        // Without a maximum age nothing is stale.
        let all = audit_selection(
            &site(),
            vec![obs(
                "guest",
                Some("guest"),
                "10.77.50.10",
                "2020-01-01T00:00:00Z",
            )],
            now,
            None,
        );
        assert_eq!(all.observations.len(), 1);
    }
}
