//! Many writers at once: 200 simulated site runs finish at the same moment and write to
//! one PostgreSQL store in parallel, each with its own outbox (as each site's machine has).
//! Every scan is recorded exactly once and the fleet view counts 200 sites. Then the same
//! again with the server stopped and started in the middle: the runs that could not reach
//! it keep their scan, the next run sends it, and still nothing is lost or stored twice.
//!
//! The server allows 100 connections, so 200 simultaneous sites also meet "too many
//! clients" and must retry.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clinicscan_store::{Delivery, FleetReport, Location, Retry, ScanOutbox, record_or_keep};
use common::pg::server_or_skip;
use common::site_scan;

const SITES: usize = 200;

fn site(i: usize) -> String {
    format!("site-{i:03}")
}

/// One round: every site records one new scan, all at once. Returns (recorded, kept).
fn round(
    location: &Location,
    outboxes: &[ScanOutbox],
    run: &str,
    minutes: i64,
    retry: Retry,
    during: impl FnOnce(&AtomicUsize),
) -> (usize, usize) {
    let done = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(std::sync::Barrier::new(SITES));
    let (recorded, kept) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..SITES)
            .map(|i| {
                let (done, start, retry) = (done.clone(), start.clone(), retry);
                let outbox = &outboxes[i];
                s.spawn(move || {
                    let (o, a) = site_scan("cur", &site(i), run, minutes);
                    start.wait();
                    let d = record_or_keep(location, outbox, &retry, &o, &a)
                        .unwrap_or_else(|e| panic!("{}: the outbox failed: {e}", site(i)));
                    done.fetch_add(1, Ordering::SeqCst);
                    matches!(d, Delivery::Recorded { .. })
                })
            })
            .collect();
        during(&done);
        let results: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let recorded = results.iter().filter(|r| **r).count();
        (recorded, SITES - recorded)
    });
    (recorded, kept)
}

#[test]
fn two_hundred_sites_write_at_once_even_across_a_server_restart() {
    let Some(server) = server_or_skip("fleet_concurrency") else {
        return;
    };
    let db = server.fresh_db();
    let location = Location::parse(&server.url(&db)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let outboxes: Vec<ScanOutbox> = (0..SITES)
        .map(|i| ScanOutbox::new(scratch.path().join(site(i))))
        .collect();

    // Patient enough for 200 sites against 100 connections.
    let patient = Retry {
        attempts: 6,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(800),
    };
    // Gives up within about a quarter of a second: an outage longer than that leaves
    // scans in the outboxes.
    let hasty = Retry {
        attempts: 3,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(100),
    };

    // Round 1: a fresh database, 200 sites at once (they also race to migrate it).
    let t = Instant::now();
    let (recorded, kept) = round(&location, &outboxes, "1", 0, patient, |_| {});
    let first = t.elapsed();
    eprintln!(
        "round 1: {recorded} recorded, {kept} kept, {:.2} s",
        first.as_secs_f64()
    );
    assert_eq!(
        recorded, SITES,
        "a reachable server takes every site's scan"
    );

    // Round 2: the server stops while the sites are writing, and comes back a moment later.
    let t = Instant::now();
    let (recorded, kept) = round(&location, &outboxes, "2", 60, hasty, |done| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while done.load(Ordering::SeqCst) < SITES / 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        server.stop();
        std::thread::sleep(Duration::from_millis(1500));
        server.restart();
    });
    eprintln!(
        "round 2 (restart in the middle): {recorded} recorded, {kept} kept for the next run, {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let pending: usize = outboxes.iter().map(|o| o.len().unwrap()).sum();
    assert_eq!(
        pending, kept,
        "every scan not recorded is in its site's outbox"
    );

    // The next run of each site sends what it kept, then its own new scan.
    let (recorded, kept) = round(&location, &outboxes, "3", 120, patient, |_| {});
    assert_eq!((recorded, kept), (SITES, 0));
    for o in &outboxes {
        assert!(
            o.is_empty().unwrap(),
            "{} still holds scans",
            o.dir().display()
        );
    }

    // Exactly three scans per site, each once; the fleet sees 200 sites, all current.
    let mut store = clinicscan_store::open(&location).unwrap();
    let all = store.list(None).unwrap();
    assert_eq!(all.len(), 3 * SITES, "none lost, none duplicated");
    let mut per_site: BTreeMap<String, usize> = BTreeMap::new();
    for s in &all {
        *per_site.entry(s.site_id.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(per_site.len(), SITES);
    assert!(per_site.values().all(|&n| n == 3), "{per_site:?}");
    let newest = store.newest_per_site_zone().unwrap();
    let latest_start = newest.iter().map(|(s, _)| s.started).max().unwrap();
    let fleet = FleetReport::build(latest_start, 7, &newest);
    assert_eq!(fleet.sites.len(), SITES);
    assert!(fleet.stale_sites.is_empty());
    assert!(fleet.sites.iter().all(|s| s.scans.len() == 1));
    let top = &fleet.common_findings[0];
    assert_eq!(
        top.sites as usize, SITES,
        "every site shares the fixture's findings"
    );
    // Each site's newest scan is its third run, compared with its second.
    let site_7 = store.list(Some("site-007")).unwrap();
    assert_eq!(
        store.latest_before(site_7[2].id).unwrap(),
        Some(site_7[1].id)
    );
    eprintln!("200-writer test: first round {:.2} s", first.as_secs_f64());
}
