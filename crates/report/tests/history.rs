//! The history database: record, list, show, previous scan of the same scope, diff,
//! first/last seen, and crash safety (a child process killed at random points while it
//! writes).

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clinicscan_model::{Assessment, Observation};
use clinicscan_report::{History, ScanDiff, StoredScan};
use common::{Fixture, side};

fn scan(which: &str) -> (Vec<Observation>, Assessment) {
    let f = Fixture::load(match which {
        "prev" => "-prev",
        "cur" => "",
        "hostile" => "-hostile",
        _ => "-empty",
    });
    (f.observations, f.assessment)
}

#[test]
fn record_list_show_previous_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep").join("history.sqlite");
    let mut h = History::open(&path).unwrap();
    assert_eq!(h.latest().unwrap(), None);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "database readable by others");
        assert_eq!(
            mode(path.parent().unwrap()),
            0o700,
            "directory open to others"
        );
    }
    assert!(h.list().unwrap().is_empty());

    let (po, pa) = scan("prev");
    let (co, ca) = scan("cur");
    let (ho, ha) = scan("hostile");
    let prev = h.record(&po, &pa).unwrap();
    let other = h.record(&ho, &ha).unwrap(); // another scope (guest zone, other site)
    let cur = h.record(&co, &ca).unwrap();
    assert!(prev < other && other < cur);
    assert_eq!(h.latest().unwrap(), Some(cur));

    // The previous scan of the same scope skips the guest-zone scan in between.
    assert_eq!(h.latest_before(cur).unwrap(), Some(prev));
    assert_eq!(h.latest_before(prev).unwrap(), None);
    assert_eq!(h.latest_before(other).unwrap(), None);
    assert!(h.latest_before(999).is_err());

    let list = h.list().unwrap();
    assert_eq!(
        list.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![prev, other, cur]
    );
    let s = &list[2];
    assert_eq!(s.site.as_deref(), Some("さくら内科クリニック"));
    assert_eq!(s.vantage_zones, "general");
    assert_eq!(s.hosts_up, 7);
    assert_eq!(s.findings, 9);
    assert_eq!(s.by_severity, [2, 2, 3, 1, 1]);
    assert_eq!(s.controls_failed, 6);
    assert_eq!(s.started.to_rfc3339(), "2026-11-20T01:00:00+00:00");

    let shown: StoredScan = h.show(cur).unwrap();
    assert_eq!(shown.assessment, ca);
    assert_eq!(shown.observations, co);
    assert!(h.show(999).is_err());

    let d = h.diff(prev, cur).unwrap();
    let expected = ScanDiff::between(side(Some(prev), &pa, &po), side(Some(cur), &ca, &co));
    assert_eq!(d, expected);
    assert_eq!(d.new_findings.len(), 2);
    assert_eq!(d.resolved_findings.len(), 1);

    let seen = h.host_seen().unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let printer = seen[&ip("10.77.10.50")];
    assert_eq!(printer.first_seen.to_rfc3339(), "2026-11-20T01:00:00+00:00");
    let router = seen[&ip("10.77.10.1")];
    assert_eq!(router.first_seen.to_rfc3339(), "2026-11-13T01:00:00+00:00");
    assert_eq!(router.last_seen.to_rfc3339(), "2026-11-20T01:00:00+00:00");
    assert_eq!(seen.len(), 8, "7 clinic hosts and the hostile one");

    // The inventory of every host ever seen: a later scan without the printer keeps the
    // printer's record from the scan that last saw it.
    let again = h.record(&po, &pa).unwrap();
    let last = h.last_seen_hosts().unwrap();
    let hosts: Vec<(String, String)> = last
        .iter()
        .flat_map(|o| {
            o.hosts
                .iter()
                .map(move |h| (o.scan.id.clone(), h.address.to_string()))
        })
        .collect();
    assert_eq!(hosts.len(), 8);
    assert!(hosts.contains(&(ho[0].scan.id.clone(), "10.77.50.66".into())));
    assert!(hosts.contains(&(co[0].scan.id.clone(), "10.77.10.50".into())));
    assert!(hosts.contains(&(po[0].scan.id.clone(), "10.77.20.5".into())));
    let seen = h.host_seen().unwrap();
    let latest = h.show(again).unwrap();
    let mut zones = std::collections::BTreeMap::new();
    zones.insert(ip("10.77.10.50"), "general-printers".to_string());
    let inv = clinicscan_report::render_inventory(
        &clinicscan_report::ReportInput {
            assessment: &latest.assessment,
            observations: &last,
            diff: None,
            seen: Some(&seen),
            lang: clinicscan_model::Lang::En,
        },
        &zones,
    )
    .unwrap();
    let mut r = csv::Reader::from_reader(inv.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 8);
    let printer = rows.iter().find(|r| &r[0] == "10.77.10.50").unwrap();
    assert_eq!(&printer[4], "general-printers");
    assert_eq!(&printer[7], "2026-11-20 10:00 JST");
    assert_eq!(&printer[8], "2026-11-20 10:00 JST");
    let emr = rows.iter().find(|r| &r[0] == "10.77.20.5").unwrap();
    assert_eq!(
        &emr[4], "clinical",
        "zone from the findings when the map has none"
    );
    assert_eq!(
        &emr[5],
        "22/tcp ssh; 23/tcp telnet; 443/tcp tls; 5432/tcp postgres"
    );

    // Reopening keeps everything and does not migrate twice.
    drop(h);
    let h = History::open(&path).unwrap();
    assert_eq!(h.list().unwrap().len(), 4);
    assert_eq!(h.integrity_check().unwrap(), Ok(()));
}

// ------------------------------------------------------------------ crash safety

const CHILD_ENV: &str = "CSM_HISTORY_KILL_CHILD_DB";

/// The child side of the kill test: records scans until it is killed. Does nothing in a
/// normal test run (the variable is unset).
#[test]
fn kill_child_writer() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut h = History::open(Path::new(&db)).unwrap();
    let (o, a) = scan("cur");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        h.record(&o, &a).unwrap();
    }
}

/// A small deterministic generator for the kill delays (seeded from the clock, printed so
/// a failure can be replayed with CSM_KILL_SEED).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_kill_at_any_moment_leaves_the_database_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite");
    {
        let mut h = History::open(&db).unwrap();
        for which in ["prev", "hostile", "empty"] {
            let (o, a) = scan(which);
            h.record(&o, &a).unwrap();
        }
    }
    let mut seed: u64 = std::env::var("CSM_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("kill test seed: CSM_KILL_SEED={seed}");

    let mut known: BTreeMap<i64, StoredScan> = BTreeMap::new();
    {
        let h = History::open(&db).unwrap();
        for s in h.list().unwrap() {
            known.insert(s.id, h.show(s.id).unwrap());
        }
    }
    assert_eq!(known.len(), 3);

    let exe = std::env::current_exe().unwrap();

    // Kills while a fresh database is being created and migrated: the next open must find
    // either no schema or the whole schema, never half of it.
    for round in 0..4 {
        let fresh = dir.path().join(format!("fresh-{round}.sqlite"));
        let mut child = Command::new(&exe)
            .args(["--exact", "kill_child_writer", "--test-threads=1"])
            .env(CHILD_ENV, &fresh)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(next(&mut seed) % 40));
        child.kill().unwrap();
        child.wait().unwrap();
        let h = History::open(&fresh).unwrap();
        assert_eq!(h.integrity_check().unwrap(), Ok(()), "fresh round {round}");
        for s in h.list().unwrap() {
            assert_eq!(h.show(s.id).unwrap().observations.len(), 1);
        }
    }

    let rounds = 12;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill_child_writer", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if round == rounds - 1 {
            // However slow the machine, the last round kills mid-stream: it waits until
            // the child has committed a scan, then kills it a moment later.
            let deadline = Instant::now() + Duration::from_secs(30);
            let before = known.len();
            loop {
                let n = History::open(&db).unwrap().list().unwrap().len();
                if n > before || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(next(&mut seed) % 20));
        } else {
            let delay = 30 + next(&mut seed) % 400;
            std::thread::sleep(Duration::from_millis(delay));
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback, no flush
        child.wait().unwrap();

        let h = History::open(&db).unwrap();
        assert_eq!(
            h.integrity_check().unwrap(),
            Ok(()),
            "round {round}: integrity_check failed"
        );
        let list = h.list().unwrap();
        for (id, before) in &known {
            let now = h
                .show(*id)
                .unwrap_or_else(|e| panic!("round {round}: scan {id} lost: {e}"));
            assert_eq!(&now, before, "round {round}: scan {id} changed");
        }
        // Every scan the child managed to commit is whole.
        for s in &list {
            if let std::collections::btree_map::Entry::Vacant(slot) = known.entry(s.id) {
                let whole = h.show(s.id).unwrap();
                assert_eq!(
                    whole.observations.len(),
                    1,
                    "round {round}: scan {} partial",
                    s.id
                );
                assert_eq!(
                    whole.summary.findings as usize,
                    whole.assessment.findings.len()
                );
                slot.insert(whole);
            }
        }
    }
    let written_by_children = known.len() - 3;
    eprintln!("children committed {written_by_children} scans over {rounds} kills");
    assert!(
        written_by_children > 0,
        "the children never committed a scan: the test did not exercise writes"
    );
}
