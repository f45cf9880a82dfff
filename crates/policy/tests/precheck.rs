//! Vendor pre-check profiles.

mod common;

use clinicscan_model::{Lang, PortState};
use clinicscan_policy::{Outcome, Profile, precheck};
use common::observation;

fn outcomes(fixture: &str, host: &str, profile: &str) -> Vec<(String, Outcome)> {
    let p = Profile::shipped(profile).expect("loads").expect("exists");
    let r = precheck(&observation(fixture), host.parse().expect("ip"), &p);
    assert!(r.host_found, "{host} in {fixture}");
    r.results.into_iter().map(|x| (x.id, x.outcome)).collect()
}

/// The expectations not met (evaluation errors show with their message).
fn failed(fixture: &str, host: &str, profile: &str) -> Vec<String> {
    outcomes(fixture, host, profile)
        .into_iter()
        .filter(|(_, o)| matches!(o, Outcome::Fail | Outcome::Error(_)))
        .map(|(id, o)| match o {
            Outcome::Error(m) => format!("{id}: ERROR {m}"),
            _ => id,
        })
        .collect()
}

/// The expectations neither met nor failed: not verified.
fn unverified(fixture: &str, host: &str, profile: &str) -> Vec<String> {
    outcomes(fixture, host, profile)
        .into_iter()
        .filter(|(_, o)| matches!(o, Outcome::NotVerified(_)))
        .map(|(id, _)| id)
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

/// The terminal's ports, every answer recorded: RDP open fails, the rest closed or
/// filtered (the terminal answered elsewhere) pass, each with the ports it looked at.
#[test]
fn oqv_terminal_on_evidence() {
    let p = Profile::shipped("oqv-terminal")
        .expect("loads")
        .expect("exists");
    let obs = observation("precheck-terminal.json");
    let r = precheck(&obs, "10.77.30.10".parse().expect("ip"), &p);
    assert!(r.host_answered, "RDP answered");
    assert_eq!(r.answered_by.as_deref(), Some("3389/tcp open"));
    assert_eq!(
        r.ports_spec,
        "T:22,23,139,445,3389,5900,5901,5902,5903,5938,5985,5986,6568,7070"
    );
    let got: Vec<(&str, &Outcome)> = r
        .results
        .iter()
        .map(|x| (x.id.as_str(), &x.outcome))
        .collect();
    assert_eq!(
        got,
        vec![
            ("no-rdp", &Outcome::Fail),
            ("no-vnc", &Outcome::Pass),
            ("no-smb", &Outcome::Pass),
            ("no-shell", &Outcome::Pass),
            ("no-remote-support-tool", &Outcome::Pass),
        ]
    );
    let rdp = &r.results[0];
    assert_eq!(rdp.controls, vec!["ONS-2", "CL-R7-2-13", "GL6-SO-10.1"]);
    assert_eq!(rdp.ports.len(), 1);
    assert_eq!(rdp.ports[0].state, Some(PortState::Open));
    let smb = &r.results[2];
    assert_eq!(
        smb.ports
            .iter()
            .map(|p| (p.port, p.state))
            .collect::<Vec<_>>(),
        vec![
            (139, Some(PortState::Filtered)),
            (445, Some(PortState::Filtered))
        ]
    );
    assert!(r.failed() && !r.passed());

    // The hardened terminal: everything closed, every expectation met.
    let ok = precheck(&obs, "10.77.30.20".parse().expect("ip"), &p);
    assert!(ok.passed(), "{:#?}", ok.results);
    assert!(
        ok.results
            .iter()
            .all(|x| x.ports.iter().all(|p| p.state == Some(PortState::Closed)))
    );
}

/// An address where nothing answers (switched off, mistyped): taken as up without
/// discovery, every port filtered. Nothing is verified, so nothing passes.
#[test]
fn a_host_that_never_answered_verifies_nothing() {
    let p = Profile::shipped("oqv-terminal")
        .expect("loads")
        .expect("exists");
    let r = precheck(
        &observation("precheck-terminal.json"),
        "10.77.30.99".parse().expect("ip"),
        &p,
    );
    assert!(r.host_found && !r.host_answered && r.answered_by.is_none());
    assert!(!r.passed() && !r.failed());
    for x in &r.results {
        match &x.outcome {
            Outcome::NotVerified(why) => {
                assert!(
                    why.en.starts_with("no answer from 10.77.30.99"),
                    "{}",
                    why.en
                );
                assert!(
                    why.ja.starts_with("10.77.30.99 から応答がありません"),
                    "{}",
                    why.ja
                );
            }
            other => panic!("{}: {other:?}", x.id),
        }
    }
    // Not in the Observation at all: the same.
    let r = precheck(
        &observation("precheck-terminal.json"),
        "10.77.30.98".parse().expect("ip"),
        &p,
    );
    assert!(!r.host_found && !r.passed());
    assert_eq!(r.results.len(), 5);
    assert!(
        r.results
            .iter()
            .all(|x| matches!(x.outcome, Outcome::NotVerified(_)))
    );
}

/// A scan that did not record closed ports cannot show them closed: not verified.
#[test]
fn ports_the_scan_did_not_record_are_not_verified() {
    assert!(failed("precheck-terminal.json", "10.77.30.30", "oqv-terminal").is_empty());
    assert_eq!(
        unverified("precheck-terminal.json", "10.77.30.30", "oqv-terminal"),
        vec![
            "no-rdp",
            "no-vnc",
            "no-smb",
            "no-shell",
            "no-remote-support-tool"
        ]
    );
    // RDP open fails whatever else was recorded.
    assert_eq!(
        failed("lab-general.json", "10.77.30.10", "oqv-terminal"),
        vec!["no-rdp"]
    );
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
/// profile, the host, the zone and every expectation in profile order, each citing its
/// controls.
#[test]
fn report_holds_profile_host_and_results() {
    let p = Profile::shipped("oqv-terminal")
        .expect("loads")
        .expect("exists");
    let r = precheck(
        &observation("precheck-terminal.json"),
        "10.77.30.10".parse().expect("ip"),
        &p,
    );
    assert!(!r.passed());
    assert_eq!(r.profile, "oqv-terminal");
    assert_eq!(r.profile_title.get(Lang::Ja), "オンライン資格確認端末");
    assert_eq!(r.vantage_zone.as_deref(), Some("general"));
    assert_eq!(r.results[0].id, "no-rdp");
    assert_eq!(
        r.results[0].title.get(Lang::Ja),
        "RDP(3389/tcp)に接続できない"
    );
    assert_eq!(r.results[1].id, "no-vnc");
    assert_eq!(
        r.results[1].title.get(Lang::En),
        "VNC (5900-5903/tcp) is not reachable"
    );
    // Every shipped expectation cites controls of the catalogue.
    for prof in Profile::shipped_all().expect("loads") {
        prof.check_controls(common::rules().catalogue())
            .unwrap_or_else(|e| panic!("{e}"));
        for e in &prof.expectations {
            assert!(!e.controls.is_empty(), "{}/{}", prof.id, e.id);
        }
    }
}

#[test]
fn profile_errors_name_file_and_expectation() {
    let text = "[profile]\nid='x'\ntitle={ja='x',en='x'}\n[[expect]]\nid='e'\ncontrols=['ONS-2']\ncondition='host.services.exists(s,'\ntitle={ja='x',en='x'}\nremediation={ja='x',en='x'}\n";
    let e = Profile::parse(text, "p.toml")
        .expect_err("bad condition")
        .to_string();
    assert!(
        e.starts_with("p.toml: expectation e: condition does not parse at line 1"),
        "{e}"
    );
    let typo = text.replace("host.services.exists(s,", "host.nothing == 1");
    let e = Profile::parse(&typo, "p.toml")
        .expect_err("a typo")
        .to_string();
    assert!(
        e.starts_with("p.toml: expectation e: condition: host.nothing"),
        "{e}"
    );
    let no_controls = text.replace("controls=['ONS-2']\n", "");
    assert!(Profile::parse(&no_controls, "p.toml").is_err());
    let runtime = "[profile]\nid='x'\ntitle={ja='x',en='x'}\n[[expect]]\nid='e'\ncontrols=['ONS-2']\ncondition=\"host.vendor.startsWith('x')\"\ntitle={ja='x',en='x'}\nremediation={ja='x',en='x'}\n";
    let p = Profile::parse(runtime, "p.toml").expect("parses");
    let r = precheck(
        &observation("good.json"),
        "10.77.20.21".parse().expect("ip"),
        &p,
    );
    assert!(
        matches!(&r.results[0].outcome, Outcome::Error(_)),
        "{:?}",
        r.results
    );
}
