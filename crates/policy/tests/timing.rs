//! Timing figures (ignored by default): `cargo test -p clinicscan-policy --test timing -- --ignored --nocapture`.

mod common;

use std::time::Instant;

#[test]
#[ignore]
fn compile_and_evaluate_timing() {
    let t = Instant::now();
    let r = clinicscan_policy::RuleSet::shipped().expect("loads");
    let compile = t.elapsed();
    // 1,000 hosts: the bad fixture's 18 hosts repeated with fresh addresses.
    let base = common::observation("bad.json");
    let mut big = base.clone();
    big.hosts.clear();
    for i in 0..1000u32 {
        let mut h = base.hosts[(i as usize) % base.hosts.len()].clone();
        h.address = std::net::IpAddr::V4(std::net::Ipv4Addr::new(
            10,
            77,
            10 + (i / 250) as u8,
            (i % 250) as u8 + 1,
        ));
        big.hosts.push(h);
    }
    let services: usize = big.hosts.iter().map(|h| h.services.len()).sum();
    let site = common::site("test-site.toml");
    let t = Instant::now();
    let a = clinicscan_policy::assess_with(&[big], Some(&site), &r, &common::opts());
    let eval = t.elapsed();
    let json = serde_json::to_string(&a).expect("serialises").len();
    let controls = serde_json::to_string(&a.controls)
        .expect("serialises")
        .len();
    println!(
        "rules: {} compiled in {:?}; 1000 hosts / {services} services assessed in {:?} -> {} findings, {} rule errors; the Assessment is {} KiB of JSON, its controls with their evidence {} KiB",
        r.rules().len(),
        compile,
        eval,
        a.findings.len(),
        a.rule_errors.len(),
        json / 1024,
        controls / 1024
    );
}
