//! The clinic lab walked from every vantage that matters, end to end: one bring-up, scans
//! from the general LAN, guest Wi-Fi, the オン資 segment and the lab internet recorded in one
//! history database, and `clinicscan report --site` held against what the lab is:
//!
//! - before the internet scan the report names the internet zone as never scanned and the
//!   external-connection controls as not verified for want of it;
//! - with the オン資 terminal's egress blocked (`tests/lab/egress block`), ONS-1 passes with
//!   the attempts as its evidence; allowed, the new オン資 scan fails it;
//! - from the internet, the clinic's public address shows the forwarded RDP and SSL-VPN;
//! - scope: a public address the site does not declare (and any public address without a
//!   site) is refused before a packet, and the router's bridge counters (bridge family,
//!   every frame the new vantages put on the wire) see nothing outside the scan's targets,
//!   the egress target and the lab resolver.
//!
//! Needs root and the lab's packages (`scripts/install-deps`); see `clinicscan_testlab` for
//! when it does not run (under CI that is a failure). Every address is inside the lab:
//! 10.77.0.0/16 and the lab internet's documentation ranges, held by namespaces `up` made.

use std::path::Path;
use std::process::{Command, Output};

mod lab_common;
use lab_common::{bin, check, clinic_lab, repo, run};

const SITE: &str = "fixtures/policy/lab-site-vantages.toml";
/// Ports of the inside scans: enough for every violation the lab plants there.
const PORTS: &str = "22,80,443,445,3389,5900,9100";
const PUBLIC: &str = "198.51.100.20";
const EGRESS_TARGET: &str = "203.0.113.80";
const LAB_DNS: &str = "203.0.113.53";

/// One scan from a lab namespace into the history database (and its Assessment to `out`).
fn scan(ns: &str, zone: &str, db: &Path, out: &Path, targets: &[&str]) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, bin()])
        .args(["--lang", "en", "--quiet", "scan", "--site", SITE])
        .args(["--vantage-zone", zone, "--no-dns", "--fail-on", "never"])
        .arg("--db")
        .arg(db)
        .args(["-f", "json", "-o"])
        .arg(out);
    if !targets.is_empty() {
        cmd.args(["-p", PORTS]).args(targets);
    }
    let o = run(cmd.current_dir(repo()));
    check(&format!("clinicscan scan from {ns} (zone {zone})"), &o);
}

/// `clinicscan report --site` on the history database, in a format.
fn report(db: &Path, format: &str) -> Output {
    let o = run(Command::new(bin())
        .args([
            "--lang",
            "en",
            "report",
            "--site",
            SITE,
            "--fail-on",
            "never",
        ])
        .arg("--db")
        .arg(db)
        .args(["-f", format])
        .current_dir(repo()));
    check(&format!("clinicscan report -f {format}"), &o);
    o
}

fn report_json(db: &Path) -> serde_json::Value {
    serde_json::from_slice(&report(db, "json").stdout).expect("assessment JSON")
}

fn egress(mode: &str) {
    let o = run(Command::new(repo().join("tests/lab/egress")).arg(mode));
    check(&format!("tests/lab/egress {mode}"), &o);
}

/// `nft ARGS...` in the lab router's namespace; its output.
fn router_nft(args: &[&str]) -> String {
    let o = run(Command::new("ip")
        .args(["netns", "exec", "cs-router", "nft"])
        .args(args));
    check(&format!("nft {args:?}"), &o);
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The packet count after the word "packets" in nft output.
fn packets(text: &str) -> Option<u64> {
    let mut w = text.split_whitespace().skip_while(|x| *x != "packets");
    w.nth(1)?.parse().ok()
}

/// What the router's bridge saw from a vantage's port since the last flush: destination
/// address and packets (`nft list set bridge cs_count NAME_sent`).
fn sent(vantage: &str) -> Vec<(String, u64)> {
    let text = router_nft(&[
        "list",
        "set",
        "bridge",
        "cs_count",
        &format!("{vantage}_sent"),
    ]);
    let Some(start) = text.find("elements = {") else {
        return Vec::new();
    };
    let body = &text[start + "elements = {".len()..];
    let body = &body[..body.find('}').unwrap_or(body.len())];
    body.split(',')
        .filter_map(|e| Some((e.split_whitespace().next()?.to_string(), packets(e)?)))
        .collect()
}

/// IPv6 frames from a vantage (the lab has IPv6 off: must stay 0).
fn sent_v6(vantage: &str) -> u64 {
    let text = router_nft(&[
        "list",
        "counter",
        "bridge",
        "cs_count",
        &format!("{vantage}_v6"),
    ]);
    packets(&text).unwrap_or(u64::MAX)
}

fn flush_counts() {
    for set in ["oqvscan_sent", "outside_sent"] {
        router_nft(&["flush", "set", "bridge", "cs_count", set]);
    }
}

/// The peers the lab internet's egress target recorded, one per connection.
fn egress_connections() -> Vec<String> {
    std::fs::read_to_string("/run/clinicscan-lab/hosts/internet/egress/connections.log")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The findings above info, as "rule|host|port", sorted.
fn findings(a: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = a["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            format!(
                "{}|{}|{}",
                f["rule_id"].as_str().unwrap_or_default(),
                f["host"].as_str().unwrap_or_default(),
                f["port"]
                    .as_u64()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v
}

fn control<'a>(a: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    a["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed"))
}

fn status<'a>(a: &'a serde_json::Value, id: &str) -> &'a str {
    control(a, id)["status"].as_str().unwrap_or_default()
}

fn missing(a: &serde_json::Value, id: &str) -> Vec<String> {
    control(a, id)["missing"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["text"]["en"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn vantage_state<'a>(a: &'a serde_json::Value, zone: &str) -> &'a str {
    a["vantages"]
        .as_array()
        .expect("vantages")
        .iter()
        .find(|v| v["zone"] == zone)
        .and_then(|v| v["state"].as_str())
        .unwrap_or_else(|| panic!("no vantage entry for {zone}"))
}

/// The lab's findings (above info) with the オン資 egress blocked, from the four vantages:
/// general → 10.77.30.0/24, guest → 10.77.10.0/24, オン資 → 10.77.30.0/24 (+ egress), the
/// internet → the public address. Each follows from tests/lab/ground-truth.toml: the
/// terminal's RDP from the staff LAN (default variant), the printer's raw port from guest
/// Wi-Fi (not in the register), both terminals' xrdp as the オン資 scanner sees them on its
/// own segment, and the public address forwarding 3389 to the doctor's PC (FreeRDP shadow:
/// NLA, its TLS as the inside truth) and 443 to the SSL-VPN imitation (self-signed, no
/// HSTS, no version, a password form; it asks for a client certificate, so no
/// no-client-cert finding).
const EXPECTED_BLOCKED: &[&str] = &[
    "cert-self-signed|198.51.100.20|443",
    "eol-windows|198.51.100.20|3389",
    "guest-reaches-internal|10.77.10.40|9100",
    "http-hsts-missing|198.51.100.20|443",
    "internet-remote-access-exposed|198.51.100.20|3389",
    "internet-ssl-vpn-password-login|198.51.100.20|443",
    "internet-vpn-exposed|198.51.100.20|443",
    "oqv-remote-access-reachable|10.77.30.10|3389",
    "printer-raw-port-open-guess|10.77.10.40|9100",
    "rdp-nla-not-required|10.77.30.10|3389",
    "rdp-nla-not-required|10.77.30.20|3389",
    "rdp-standard-security|10.77.30.10|3389",
    "rdp-standard-security|10.77.30.20|3389",
    "ssl-vpn-version-unknown|198.51.100.20|443",
    "tls-cbc-sha1|10.77.30.10|3389",
    "tls-cbc-sha1|10.77.30.20|3389",
    "tls-cbc-sha1|198.51.100.20|3389",
    "tls-no-forward-secrecy|10.77.30.10|3389",
    "tls-no-forward-secrecy|10.77.30.20|3389",
    "tls-no-forward-secrecy|198.51.100.20|3389",
    "unknown-device|10.77.10.40|",
];

/// With egress allowed, the new オン資 scan adds the two attempts that got out.
const EXPECTED_ALLOWED_EXTRA: &[&str] = &[
    "oqv-internet-egress|203.0.113.53|53",
    "oqv-internet-egress|203.0.113.80|443",
];

/// Controls on the external connection points, failed by the internet scan's exposure.
const EXTERNAL_CONTROLS: &[&str] = &[
    "GL6-SO-10.1",
    "GL6-SO-13-11",
    "CL-R7-2-2",
    "CL-R7-2-13",
    "MHLW-20221110-1",
    "MHLW-20221110-2",
];

fn in_oqv_scope(addr: &str) -> bool {
    addr.starts_with("10.77.30.") || addr == EGRESS_TARGET || addr == LAB_DNS
}

#[test]
fn a_site_audit_from_every_vantage() {
    let Some(lab) = clinic_lab() else {
        return;
    };
    egress("block");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("history.db");
    let out = |name: &str| dir.path().join(format!("{name}.json"));

    // 1. The staff LAN, guest Wi-Fi and the オン資 segment (egress blocked).
    scan(
        "cs-scanner",
        "general",
        &db,
        &out("general"),
        &["10.77.30.0/24"],
    );
    scan("cs-guest", "guest", &db, &out("guest"), &["10.77.10.0/24"]);
    flush_counts();
    let before = egress_connections().len();
    scan("cs-oqvscan", "oqv", &db, &out("oqv"), &["10.77.30.0/24"]);
    let oqv_sent = sent("oqvscan");
    assert_eq!(
        egress_connections().len(),
        before,
        "the egress target was reached while blocked"
    );

    // The internet was never scanned: the report says so, and the controls it evidences
    // are not verified for want of it.
    let a = report_json(&db);
    assert_eq!(vantage_state(&a, "internet"), "never-scanned");
    for zone in ["general", "guest", "oqv"] {
        assert_eq!(vantage_state(&a, zone), "current", "{zone}");
    }
    assert_eq!(status(&a, "GL6-SO-7.2"), "not-verified");
    assert!(
        missing(&a, "MHLW-20221110-1")
            .iter()
            .any(|m| m.starts_with("scan from zone internet")),
        "{:?}",
        missing(&a, "MHLW-20221110-1")
    );
    let md = String::from_utf8_lossy(&report(&db, "markdown").stdout).to_string();
    assert!(
        md.contains("| internet | internet | never scanned"),
        "the markdown report does not name the missing internet vantage:\n{md}"
    );

    // 2. The clinic from the internet: the site's public address by default.
    flush_counts();
    scan("cs-outside", "internet", &db, &out("internet"), &[]);
    let outside_sent = sent("outside");

    let a = report_json(&db);
    for zone in ["general", "guest", "oqv", "internet"] {
        assert_eq!(vantage_state(&a, zone), "current", "{zone}");
    }
    assert_eq!(findings(&a), EXPECTED_BLOCKED);
    assert!(a["rule_errors"].as_array().is_none_or(|e| e.is_empty()));
    // ONS-1 passes, and its evidence is the attempts the オン資 scan made.
    assert_eq!(status(&a, "ONS-1"), "pass", "{:?}", missing(&a, "ONS-1"));
    let checked = control(&a, "ONS-1")["checked"].to_string();
    for want in [
        &format!("{EGRESS_TARGET}:443"),
        "egress-check.example.test",
        "192.168.220.1:443",
    ] {
        assert!(
            checked.contains(want),
            "ONS-1's evidence lacks {want}: {checked}"
        );
    }
    for id in EXTERNAL_CONTROLS {
        assert_eq!(status(&a, id), "fail", "{id}");
    }
    let ext = control(&a, "GL6-SO-10.1")["findings"].to_string();
    assert!(
        ext.contains("internet-remote-access-exposed|198.51.100.20|tcp/3389|from:internet"),
        "{ext}"
    );

    // 3. Egress allowed: a new オン資 scan replaces the older one in the report.
    egress("allow");
    let before = egress_connections().len();
    flush_counts();
    scan(
        "cs-oqvscan",
        "oqv",
        &db,
        &out("oqv-allowed"),
        &["10.77.30.0/24"],
    );
    let oqv_allowed_sent = sent("oqvscan");
    egress("block");
    assert_eq!(
        egress_connections()[before..],
        [PUBLIC.to_string()],
        "the egress target must record one connection, from the clinic's public address"
    );
    let a = report_json(&db);
    let mut want: Vec<String> = EXPECTED_BLOCKED
        .iter()
        .chain(EXPECTED_ALLOWED_EXTRA)
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(findings(&a), want);
    assert_eq!(status(&a, "ONS-1"), "fail");
    let ons1 = control(&a, "ONS-1")["findings"].to_string();
    assert!(
        ons1.contains("oqv-internet-egress|203.0.113.80|tcp/443|from:oqv"),
        "{ons1}"
    );

    // 4. Scope. What the new vantages put on the wire stayed inside their targets, the
    // egress target and the resolver the terminal uses.
    for (what, seen) in [("blocked", &oqv_sent), ("allowed", &oqv_allowed_sent)] {
        let outside: Vec<_> = seen.iter().filter(|(a, _)| !in_oqv_scope(a)).collect();
        assert!(
            outside.is_empty(),
            "オン資 scan ({what}): packets outside its targets: {outside:?}"
        );
        let to = |addr: &str| seen.iter().find(|(a, _)| a == addr).map_or(0, |e| e.1);
        assert!(to(EGRESS_TARGET) > 0, "egress target never tried: {seen:?}");
        assert!(to(LAB_DNS) > 0, "public name never resolved: {seen:?}");
        assert!(
            to("10.77.30.10") > 0,
            "the terminal was not scanned: {seen:?}"
        );
    }
    let outside: Vec<_> = outside_sent.iter().filter(|(a, _)| a != PUBLIC).collect();
    assert!(
        outside.is_empty(),
        "internet scan: packets outside the public address: {outside:?}"
    );
    assert!(
        outside_sent.iter().any(|(a, n)| a == PUBLIC && *n > 0),
        "{outside_sent:?}"
    );
    assert_eq!((sent_v6("oqvscan"), sent_v6("outside")), (0, 0));
    let total = |seen: &[(String, u64)]| seen.iter().map(|e| e.1).sum::<u64>();
    eprintln!(
        "scope: オン資 vantage {} packets to {:?} (blocked), {} (allowed); internet vantage \
         {} packets to {PUBLIC}; 0 elsewhere",
        total(&oqv_sent),
        oqv_sent,
        total(&oqv_allowed_sent),
        total(&outside_sent)
    );

    // A public address the site does not declare, and any public address without a site:
    // refused before a packet.
    flush_counts();
    for args in [
        vec![
            "--site",
            SITE,
            "--vantage-zone",
            "internet",
            "198.51.100.21",
        ],
        vec![PUBLIC],
    ] {
        let o = run(Command::new("ip")
            .args(["netns", "exec", "cs-outside", bin()])
            .args(["--lang", "en", "scan", "--no-history", "--no-dns"])
            .args(&args)
            .current_dir(repo()));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--allow-public"), "{args:?}: {err}");
    }
    assert_eq!(sent("outside"), Vec::new(), "a refused scan sent packets");

    drop(lab);
}
