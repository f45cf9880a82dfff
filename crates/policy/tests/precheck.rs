//! Vendor pre-check profiles.

mod common;

use clinicscan_model::Lang;
use clinicscan_policy::{Outcome, Profile, precheck};
use common::observation;

fn outcomes(fixture: &str, host: &str, profile: &str) -> Vec<(String, Outcome)> {
    let p = Profile::shipped(profile).expect("loads").expect("exists");
    let r = precheck(&observation(fixture), host.parse().expect("ip"), &p);
    assert!(r.host_found, "{host} in {fixture}");
    r.results.into_iter().map(|x| (x.id, x.outcome)).collect()
}

fn failed(fixture: &str, host: &str, profile: &str) -> Vec<String> {
    outcomes(fixture, host, profile)
        .into_iter()
        .filter(|(_, o)| *o != Outcome::Pass)
        .map(|(id, o)| match o {
            Outcome::Error(m) => format!("{id}: ERROR {m}"),
            _ => id,
        })
        .collect()
}

#[test]
fn shipped_profiles_load() {
    let ids: Vec<String> = Profile::shipped_all()
        .expect("loads")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(
        ids,
        vec![
            "emr-server",
            "medical-device",
            "network-device",
            "oqv-terminal"
        ]
    );
}

#[test]
fn oqv_terminal_reachable_on_rdp_fails_isolated_passes() {
    assert_eq!(
        failed("lab-general.json", "10.77.30.10", "oqv-terminal"),
        vec!["no-rdp"]
    );
    assert!(failed("lab-general-isolated.json", "10.77.30.20", "oqv-terminal").is_empty());
}

#[test]
fn emr_server_profile() {
    assert!(failed("good.json", "10.77.20.24", "emr-server").is_empty());
    assert!(failed("good.json", "10.77.20.26", "emr-server").is_empty());
    assert_eq!(
        failed("bad.json", "10.77.10.24", "emr-server"),
        vec![
            "tls-1.2-or-later",
            "no-weak-cipher-suites",
            "certificate-valid"
        ]
    );
    assert_eq!(
        failed("bad.json", "10.77.10.21", "emr-server"),
        vec!["smb-hardened", "rdp-nla"]
    );
    assert_eq!(
        failed("bad.json", "10.77.20.5", "emr-server"),
        vec!["database-encryption-forced"]
    );
    assert_eq!(
        failed("bad.json", "10.77.10.23", "emr-server"),
        vec!["no-plaintext-login-services"]
    );
}

#[test]
fn medical_device_profile() {
    assert_eq!(
        failed("bad.json", "10.77.40.5", "medical-device"),
        vec!["dicom-rejects-unknown-ae"]
    );
    assert!(failed("good.json", "10.77.20.27", "medical-device").is_empty());
    assert_eq!(
        failed("bad.json", "10.77.10.23", "medical-device"),
        vec![
            "no-unauthenticated-remote-access",
            "snmp-no-default-community"
        ]
    );
    assert_eq!(
        failed("bad.json", "10.77.10.22", "medical-device"),
        vec!["no-telnet", "no-unauthenticated-remote-access"]
    );
}

#[test]
fn network_device_profile() {
    assert_eq!(
        failed("bad.json", "10.77.10.27", "network-device"),
        vec!["admin-over-https-only"]
    );
    assert_eq!(
        failed("bad.json", "10.77.60.7", "network-device"),
        vec!["vpn-modern"]
    );
    assert_eq!(
        failed("bad.json", "10.77.60.8", "network-device"),
        vec!["vpn-modern"]
    );
    assert_eq!(
        failed("bad.json", "10.77.10.28", "network-device"),
        vec!["ssh-modern"]
    );
    assert!(failed("good.json", "10.77.20.25", "network-device").is_empty());
    assert!(failed("good.json", "10.77.20.23", "network-device").is_empty());
}

/// What the report crate renders (its text is checked there and in tests/cli.rs): the
/// profile, the host, the zone and every expectation in profile order; nothing for a host
/// that is not up.
#[test]
fn report_holds_profile_host_and_results_and_handles_a_missing_host() {
    let p = Profile::shipped("oqv-terminal")
        .expect("loads")
        .expect("exists");
    let r = precheck(
        &observation("lab-general.json"),
        "10.77.30.10".parse().expect("ip"),
        &p,
    );
    assert!(!r.passed());
    assert_eq!(r.profile, "oqv-terminal");
    assert_eq!(r.profile_title.get(Lang::Ja), "オンライン資格確認端末");
    assert_eq!(r.vantage_zone.as_deref(), Some("general"));
    assert_eq!(r.results[0].id, "no-rdp");
    assert_eq!(r.results[0].outcome, Outcome::Fail);
    assert_eq!(
        r.results[0].title.get(Lang::Ja),
        "RDP(3389/tcp)に接続できない"
    );
    assert_eq!(r.results[1].id, "no-vnc");
    assert_eq!(r.results[1].outcome, Outcome::Pass);
    assert_eq!(
        r.results[1].title.get(Lang::En),
        "VNC (5900-5903/tcp) is not reachable"
    );

    let missing = precheck(
        &observation("lab-general.json"),
        "10.77.30.99".parse().expect("ip"),
        &p,
    );
    assert!(!missing.host_found && !missing.passed() && missing.results.is_empty());
}

#[test]
fn profile_errors_name_file_and_expectation() {
    let text = "[profile]\nid='x'\ntitle={ja='x',en='x'}\n[[expect]]\nid='e'\ncondition='host.services.exists(s,'\ntitle={ja='x',en='x'}\nremediation={ja='x',en='x'}\n";
    let e = Profile::parse(text, "p.toml")
        .expect_err("bad condition")
        .to_string();
    assert!(
        e.starts_with("p.toml: expectation e: condition does not parse at line 1"),
        "{e}"
    );
    let runtime = "[profile]\nid='x'\ntitle={ja='x',en='x'}\n[[expect]]\nid='e'\ncondition='host.nothing == 1'\ntitle={ja='x',en='x'}\nremediation={ja='x',en='x'}\n";
    let p = Profile::parse(runtime, "p.toml").expect("parses");
    let r = precheck(
        &observation("good.json"),
        "10.77.20.21".parse().expect("ip"),
        &p,
    );
    assert!(
        matches!(&r.results[0].outcome, Outcome::Error(m) if m.contains("nothing")),
        "{:?}",
        r.results
    );
}
