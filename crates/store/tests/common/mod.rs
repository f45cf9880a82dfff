//! Shared by the store's test binaries: fixture scans, a PostgreSQL server, a test PKI.
#![allow(dead_code)] // each test binary uses part of it

pub mod pg;
pub mod pki;

use std::path::PathBuf;

use clinicscan_model::{Assessment, Observation};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/report")
}

fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("fixture");
    serde_json::from_str(&text).expect("fixture parses")
}

/// A recorded fixture scan: "prev", "cur", "hostile" (another site and zone), or "empty".
pub fn scan(which: &str) -> (Vec<Observation>, Assessment) {
    let (o, a) = match which {
        "prev" => ("observation-prev.json", "assessment-prev.json"),
        "cur" => ("observation.json", "assessment.json"),
        "hostile" => ("observation-hostile.json", "assessment-hostile.json"),
        _ => ("observation-empty.json", "assessment-empty.json"),
    };
    (vec![load(o)], load(a))
}

/// The same scan as a new run: a new Observation id (and Assessment reference to it).
pub fn rerun(mut scan: (Vec<Observation>, Assessment), id: &str) -> (Vec<Observation>, Assessment) {
    for o in &mut scan.0 {
        o.scan.id = id.to_string();
    }
    for r in &mut scan.1.observations {
        r.id = id.to_string();
    }
    scan
}

/// A fixture scan as a given site's run: site id and name set, a fresh Observation id,
/// started `minutes` after the fixture's start.
pub fn site_scan(
    which: &str,
    site_id: &str,
    run: &str,
    minutes: i64,
) -> (Vec<Observation>, Assessment) {
    let (mut o, mut a) = rerun(scan(which), &format!("{site_id}/{run}"));
    a.site_id = Some(site_id.to_string());
    a.site = Some(format!("site {site_id}"));
    let shift = chrono::Duration::minutes(minutes);
    for obs in &mut o {
        obs.scan.started += shift;
    }
    for r in &mut a.observations {
        r.started += shift;
    }
    (o, a)
}
