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

/// The clinic's week with findings that could not be checked again: the previous scan
/// already could not check the EMR's SSH algorithms (its probe failed); this week the
/// reception PC's SMB server refused the scanner (in words that try to inject markup and a
/// terminal escape) and the SSH probe failed again. Returns the previous scan (id 1), this
/// one (id 2) and the diff.
pub fn clinic_not_rechecked() -> (Fixture, Fixture, ScanDiff) {
    use clinicscan_model::{CarriedFinding, NotRechecked, ProbeErrorKind};

    const SMB1: &str = "smb.smb1-enabled|10.77.10.21|tcp|445";
    const SSH: &str = "ssh.weak-algorithms|10.77.20.5|tcp|22";
    let take = |a: &mut Assessment, key: &str| {
        let i = a
            .findings
            .iter()
            .position(|f| f.key == key)
            .unwrap_or_else(|| panic!("{key} in the fixture"));
        a.findings.remove(i)
    };
    let mut prev = Fixture::load("-prev");
    let ssh = take(&mut prev.assessment, SSH);
    let confirmed_ssh = "2026-11-06T01:00:00Z".parse().expect("time");
    prev.assessment.not_rechecked = vec![CarriedFinding {
        finding: ssh.clone(),
        reason: NotRechecked::ProbeFailed {
            probe: "ssh".into(),
            error: ProbeErrorKind::Timeout,
            detail: "no key exchange within 5 s".into(),
        },
        last_confirmed: confirmed_ssh,
    }];
    let mut now = Fixture::load("");
    let smb1 = take(&mut now.assessment, SMB1);
    take(&mut now.assessment, SSH);
    now.assessment.not_rechecked = vec![
        CarriedFinding {
            finding: smb1,
            reason: NotRechecked::RefusedScanner {
                probe: "smb".into(),
                detail: "Too many security failures <b>bold</b>\u{1b}[2J=cmd".into(),
            },
            last_confirmed: prev.observations[0].scan.started,
        },
        CarriedFinding {
            finding: ssh,
            reason: NotRechecked::ProbeFailed {
                probe: "ssh".into(),
                error: ProbeErrorKind::Timeout,
                detail: "no key exchange within 5 s".into(),
            },
            last_confirmed: confirmed_ssh,
        },
    ];
    let diff = ScanDiff::between(prev.side(Some(1)), now.side(Some(2)));
    (prev, now, diff)
}
