//! The asset inventory (台帳) rendered from a real history: every host the store has seen,
//! as it was when last seen, with first/last-seen dates. The store itself (both backends)
//! is tested by `clinicscan-store`'s suite.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use clinicscan_model::{Assessment, Observation};
use clinicscan_report::HostSeen;
use clinicscan_store::{SqliteStore, Store};
use common::Fixture;

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
fn inventory_lists_every_host_the_history_has_seen() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = SqliteStore::open(dir.path().join("history.sqlite")).unwrap();
    let (po, pa) = scan("prev");
    let (co, ca) = scan("cur");
    let (ho, ha) = scan("hostile");
    h.record(&po, &pa).unwrap();
    h.record(&ho, &ha).unwrap();
    h.record(&co, &ca).unwrap();
    // A later scan without the printer keeps the printer's record from the scan that last
    // saw it.
    let (mut ao, mut aa) = scan("prev");
    ao[0].scan.id = "prev-again".into();
    aa.observations[0].id = "prev-again".into();
    let again = h.record(&ao, &aa).unwrap().id;
    let last = h.last_seen_hosts(None).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let seen: BTreeMap<IpAddr, HostSeen> = h
        .host_seen(None)
        .unwrap()
        .into_iter()
        .map(|(a, s)| {
            (
                a,
                HostSeen {
                    first_seen: s.first_seen,
                    last_seen: s.last_seen,
                },
            )
        })
        .collect();
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
}
