//! A large site (2,000 hosts, 10,000 findings): every renderer, the diff and the history
//! handle it, and the outputs have the expected size. Timings are printed (run with
//! `--nocapture`), not asserted: this is a sanity check against quadratic blow-ups.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use clinicscan_model::{Assessment, Finding, Lang, Observation, Severity, SeverityCounts};
use clinicscan_report::{Format, ReportInput, ScanDiff, ScanSide, render};
use clinicscan_store::{SqliteStore, Store};
use common::{load, side};

/// The clinic fixture blown up to `hosts` hosts, each a copy of the PC with five findings.
fn big(hosts: u32, offset: u32) -> (Assessment, Vec<Observation>) {
    let mut a: Assessment = load("assessment.json");
    let mut o: Observation = load("observation.json");
    let template_host = o.hosts[1].clone();
    let template: Vec<Finding> = a.findings.iter().take(5).cloned().collect();
    o.hosts.clear();
    a.findings.clear();
    let mut counts = SeverityCounts::default();
    for i in 0..hosts {
        let n = i + offset;
        let addr = IpAddr::V4(Ipv4Addr::new(10, 100, (n / 250) as u8, (n % 250 + 1) as u8));
        let mut h = template_host.clone();
        h.address = addr;
        o.hosts.push(h);
        for (k, t) in template.iter().enumerate() {
            let mut f = t.clone();
            f.host = addr;
            f.port = Some(1000 + k as u16);
            f.key = format!("{}|{}|tcp|{}", f.rule_id, addr, 1000 + k);
            counts.add(f.severity);
            a.findings.push(f);
        }
    }
    a.findings
        .sort_by(|x, y| y.severity.cmp(&x.severity).then_with(|| x.key.cmp(&y.key)));
    a.counts = counts;
    (a, vec![o])
}

#[test]
fn ten_thousand_findings() {
    let (old_a, old_o) = big(2000, 0);
    let (a, o) = big(2000, 100); // 100 hosts vanished, 100 appeared
    let t = Instant::now();
    let diff = ScanDiff::between(side(None, &old_a, &old_o), side(None, &a, &o));
    eprintln!("diff: {:?}", t.elapsed());
    assert_eq!(diff.hosts_appeared.len(), 100);
    assert_eq!(diff.hosts_vanished.len(), 100);
    assert_eq!(diff.new_findings.len(), 500);
    assert_eq!(diff.resolved_findings.len(), 500);
    assert_eq!(diff.unchanged_findings.len(), 9500);

    let input = ReportInput {
        assessment: &a,
        observations: &o,
        diff: Some(&diff),
        seen: None,
        lang: Lang::Ja,
    };
    for format in [
        Format::Terminal { color: true },
        Format::Json,
        Format::Html,
        Format::Csv,
        Format::Markdown,
        Format::Inventory,
    ] {
        let t = Instant::now();
        let out = render(format, &input).unwrap();
        eprintln!("{format:?}: {:?}, {} KiB", t.elapsed(), out.len() / 1024);
        match format {
            Format::Html => {
                assert_eq!(out.matches("class=\"finding ").count(), 10_000);
                assert!(out.contains("id=\"f-10000\""));
            }
            Format::Csv => assert_eq!(out.matches("\r\n").count(), 10_001),
            Format::Inventory => assert_eq!(out.matches("\r\n").count(), 2_001),
            _ => {}
        }
    }
    assert_eq!(a.counts.get(Severity::Critical), 4000);

    let dir = tempfile::tempdir().unwrap();
    let mut h = SqliteStore::open(dir.path().join("h.sqlite")).unwrap();
    // Two runs have two Observation ids (the store records a scan once per id).
    let mut old_o = old_o;
    for obs in &mut old_o {
        obs.scan.id.push_str("-earlier");
    }
    let t = Instant::now();
    let first = h.record(&old_o, &old_a).unwrap();
    let second = h.record(&o, &a).unwrap();
    assert!(first.new && second.new, "two runs, two scans");
    eprintln!("history: 2 records: {:?}", t.elapsed());
    let t = Instant::now();
    let (older, newer) = (h.show(first.id).unwrap(), h.show(second.id).unwrap());
    let d = ScanDiff::between(
        ScanSide {
            scan_id: Some(first.id),
            assessment: &older.assessment,
            observations: &older.observations,
        },
        ScanSide {
            scan_id: Some(second.id),
            assessment: &newer.assessment,
            observations: &newer.observations,
        },
    );
    eprintln!("history: diff: {:?}", t.elapsed());
    assert_eq!(d.new_findings.len(), 500);
    assert_eq!(h.host_seen(None).unwrap().len(), 2100);
}
