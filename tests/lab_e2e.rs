//! The clinic lab, end to end: bring the lab up (network namespaces, real daemons), prove
//! its ground truth with real clients, run clinicscan from the scanner namespaces, compare
//! the Observations with the ground truth, check the assessment's segmentation verdicts in
//! both lab variants, and take the lab down.
//!
//! Needs root (namespaces) and the lab's Debian packages (`scripts/install-deps`). Without
//! root it is skipped with a message, except under CI (`CI` set), where that is a failure.
//! Traffic stays inside namespaces the lab script creates; nothing leaves the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_clinicscan")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn check(what: &str, out: &Output) {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Takes the lab down when the test ends, also on a panic.
struct Lab;

impl Lab {
    fn up(args: &[&str]) -> Lab {
        let out = run(Command::new(repo().join("tests/lab/up")).args(args));
        let lab = Lab;
        check("tests/lab/up", &out);
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = run(&mut Command::new(repo().join("tests/lab/down")));
        if !out.status.success() {
            eprintln!(
                "tests/lab/down failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Runs clinicscan inside a lab namespace; returns its exit code and stdout.
fn clinicscan_in(ns: &str, args: &[&str]) -> Output {
    run(Command::new("ip")
        .args(["netns", "exec", ns, bin()])
        .args(args)
        .current_dir(repo()))
}

const LAB_SITE: &str = "fixtures/policy/lab-site.toml";
const LAB_ZONES: &[&str] = &[
    "10.77.10.0/24",
    "10.77.20.0/24",
    "10.77.30.0/24",
    "10.77.40.0/24",
    "10.77.50.0/24",
    "10.77.60.0/24",
];

fn scan_from(ns: &str, out: &Path, targets: &[&str]) {
    let out_s = out.to_str().expect("utf-8 temp path");
    let mut args = vec![
        "--lang",
        "en",
        "scan",
        "--site",
        LAB_SITE,
        "--no-history",
        "--fail-on",
        "never",
        "-f",
        "observation",
        "-o",
        out_s,
    ];
    args.extend_from_slice(targets);
    let o = clinicscan_in(ns, &args);
    check(&format!("clinicscan scan from {ns}"), &o);
}

fn compare(obs: &Path, vantage: &str) {
    let o = run(Command::new("python3")
        .arg(repo().join("tests/lab/compare.py"))
        .arg(obs)
        .args(["--vantage", vantage]));
    print!("{}", String::from_utf8_lossy(&o.stdout));
    check(&format!("compare.py --vantage {vantage}"), &o);
}

fn assess(obs: &[&Path]) -> serde_json::Value {
    let mut cmd = Command::new(bin());
    cmd.args([
        "--lang",
        "en",
        "assess",
        "--site",
        LAB_SITE,
        "-f",
        "json",
        "--fail-on",
        "never",
    ])
    .args(obs)
    .current_dir(repo());
    let o = run(&mut cmd);
    check("clinicscan assess", &o);
    serde_json::from_slice(&o.stdout).expect("assessment JSON")
}

/// Findings of an assessment as (rule id, host, port).
fn findings(a: &serde_json::Value) -> Vec<(String, String, Option<u64>)> {
    a["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                f["host"].as_str().unwrap_or_default().to_string(),
                f["port"].as_u64(),
            )
        })
        .collect()
}

fn has_finding_on(a: &serde_json::Value, host: &str, port: u64, rule: &str) -> bool {
    findings(a)
        .iter()
        .any(|(r, h, p)| h == host && *p == Some(port) && r == rule)
}

#[test]
fn clinic_lab_end_to_end() {
    if !is_root() {
        if std::env::var_os("CI").is_some() {
            panic!("the clinic lab test needs root under CI");
        }
        eprintln!("skipping the clinic lab test: it needs root (network namespaces)");
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let lab = Lab::up(&[]);

    // 1. The ground truth is true: real clients (openssl, smbclient, snmpget, echoscu...).
    let o = run(Command::new(repo().join("tests/lab/verify")).arg("-q"));
    check("tests/lab/verify", &o);

    // 2. clinicscan from the general LAN and from guest Wi-Fi agrees with the ground truth.
    let general = tmp.path().join("general.json");
    scan_from("cs-scanner", &general, LAB_ZONES);
    compare(&general, "general");
    let guest = tmp.path().join("guest.json");
    scan_from("cs-guest", &guest, LAB_ZONES);
    compare(&guest, "guest");

    // 3. The assessment names the オン資 violation: the terminal's RDP reachable from the
    //    general LAN; the isolated terminal has no such finding.
    let a = assess(&[&general, &guest]);
    assert!(
        has_finding_on(&a, "10.77.30.10", 3389, "oqv-remote-access-reachable"),
        "no segmentation finding for the オン資 terminal's RDP: {:#?}",
        findings(&a)
    );
    assert!(
        !findings(&a).iter().any(|(_, h, _)| h == "10.77.30.20"),
        "the isolated オン資 terminal has findings: {:#?}",
        findings(&a)
    );
    // Guest Wi-Fi reaching the printer's raw port is a violation too.
    assert!(
        has_finding_on(&a, "10.77.10.40", 9100, "guest-reaches-internal"),
        "no finding for guest → printer 9100: {:#?}",
        findings(&a)
    );

    // 4. The fixed clinic: the same scan of the オン資 segment finds nothing to report.
    let o = run(Command::new(repo().join("tests/lab/up")).args(["--variant", "isolated"]));
    check("tests/lab/up --variant isolated", &o);
    let isolated = tmp.path().join("isolated.json");
    scan_from("cs-scanner", &isolated, &["10.77.30.0/24"]);
    let a = assess(&[&isolated]);
    assert!(
        !findings(&a)
            .iter()
            .any(|(_, h, p)| h.starts_with("10.77.30.") && p.is_some()),
        "the isolated variant still shows reachable オン資 services: {:#?}",
        findings(&a)
    );

    // 5. Nothing was ever sent to the raw printer port.
    let received = Path::new("/run/clinicscan-lab/hosts/printer/printer/received.bin");
    let bytes = std::fs::read(received)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", received.display()));
    assert!(
        bytes.is_empty(),
        "clinicscan sent {} bytes to a raw printer port",
        bytes.len()
    );
    drop(lab);
}
