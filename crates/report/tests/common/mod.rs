//! What the report's test binaries share: the fixtures under `fixtures/report/` and the
//! diff between two scans of them.
// Each test binary compiles this module and uses its own part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use clinicscan_model::{Assessment, Observation};
use clinicscan_report::{ScanDiff, ScanSide};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/report")
}

/// A fixture file, parsed; panics naming the file.
pub fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let text =
        std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One scan of the fixtures: its Assessment and the Observation it came from.
pub struct Fixture {
    pub assessment: Assessment,
    pub observations: Vec<Observation>,
}

impl Fixture {
    /// `assessment{suffix}.json` and `observation{suffix}.json`: "" is the clinic now,
    /// "-prev" a week earlier, "-hostile" and "-empty" the others of the README.
    pub fn load(suffix: &str) -> Fixture {
        Fixture {
            assessment: load(&format!("assessment{suffix}.json")),
            observations: vec![load(&format!("observation{suffix}.json"))],
        }
    }

    /// This scan as one side of a diff, with its history id.
    pub fn side(&self, scan_id: Option<i64>) -> ScanSide<'_> {
        side(scan_id, &self.assessment, &self.observations)
    }
}

pub fn side<'a>(
    scan_id: Option<i64>,
    assessment: &'a Assessment,
    observations: &'a [Observation],
) -> ScanSide<'a> {
    ScanSide {
        scan_id,
        assessment,
        observations,
    }
}

/// The clinic a week earlier (history id 1) and now (id 2), and what changed between.
pub fn clinic_week() -> (Fixture, Fixture, ScanDiff) {
    let prev = Fixture::load("-prev");
    let now = Fixture::load("");
    let diff = ScanDiff::between(prev.side(Some(1)), now.side(Some(2)));
    (prev, now, diff)
}
