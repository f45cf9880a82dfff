//! "Not re-checked" is not "resolved": a finding of the previous scan that this run could not
//! check again is carried with the reason; only a run that had the rule's input and saw the
//! problem gone resolves it. On the fixture pair under fixtures/recheck/ (the lab's
//! reception PC answering, then TigerVNC refusing the scanner) and on variants of it.

mod common;

use clinicscan_model::{
    Assessment, CarriedFinding, ControlStatus, HostState, MissingKind, NotRechecked, Observation,
    PortState, ProbeError, ProbeErrorKind,
};
use clinicscan_policy::{Site, apply_not_rechecked, assess_with, carry_forward};
use common::{observation, opts, rules, site};

const VNC: &str = "vnc-no-auth|10.77.10.20|tcp/5900";
const SMB_SIGNING: &str = "smb-signing-not-required|10.77.10.20|tcp/445";

fn recheck_fixture(name: &str) -> Observation {
    let path = common::fixture_path("../recheck").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn lab_site() -> Site {
    site("lab-site.toml")
}

fn assess(obs: &Observation, site: &Site) -> Assessment {
    let a = assess_with(std::slice::from_ref(obs), Some(site), rules(), &opts());
    assert!(a.rule_errors.is_empty(), "{:?}", a.rule_errors);
    a
}

/// Assesses `current` after `previous` as a scheduled run does: carried findings and their
/// effect on the controls applied.
fn next_run(previous: &Assessment, current: &Observation, site: &Site) -> Assessment {
    let mut a = assess(current, site);
    let carried = carry_forward(
        previous,
        &a,
        std::slice::from_ref(current),
        Some(site),
        rules(),
    );
    apply_not_rechecked(&mut a, carried, rules());
    a
}

fn carried<'a>(a: &'a Assessment, key: &str) -> Option<&'a CarriedFinding> {
    a.not_rechecked.iter().find(|c| c.finding.key == key)
}

fn reason(a: &Assessment, key: &str) -> NotRechecked {
    carried(a, key)
        .unwrap_or_else(|| {
            panic!(
                "{key} is not carried: {:?}",
                a.not_rechecked
                    .iter()
                    .map(|c| (&c.finding.key, &c.reason))
                    .collect::<Vec<_>>()
            )
        })
        .reason
        .clone()
}

fn has_finding(a: &Assessment, key: &str) -> bool {
    a.findings.iter().any(|f| f.key == key)
}

/// The first run: VNC without authentication and SMB signing not required, both reported.
fn first_run() -> Assessment {
    let a = assess(&recheck_fixture("vnc-answers.json"), &lab_site());
    assert!(has_finding(&a, VNC), "{:#?}", a.findings);
    assert!(has_finding(&a, SMB_SIGNING), "{:#?}", a.findings);
    a
}

/// The second run with one change made to its host.
fn vnc_service(o: &mut Observation) -> &mut clinicscan_model::Service {
    o.hosts[0]
        .services
        .iter_mut()
        .find(|s| s.port == 5900)
        .expect("5900")
}

fn refused_with(change: impl FnOnce(&mut Observation)) -> Observation {
    let mut o = recheck_fixture("vnc-refuses.json");
    change(&mut o);
    o
}

#[test]
fn a_server_that_refuses_the_scanner_leaves_its_finding_not_rechecked() {
    let site = lab_site();
    let first = first_run();
    let second = next_run(&first, &recheck_fixture("vnc-refuses.json"), &site);

    // The VNC finding is neither reported (no fact says so this run) nor resolved.
    assert!(!has_finding(&second, VNC));
    assert_eq!(
        reason(&second, VNC),
        NotRechecked::RefusedScanner {
            probe: "vnc".into(),
            detail: "Too many security failures".into()
        }
    );
    let c = carried(&second, VNC).expect("carried");
    assert_eq!(c.last_confirmed, first.observations[0].started);
    assert_eq!(
        c.finding,
        first
            .findings
            .iter()
            .find(|f| f.key == VNC)
            .cloned()
            .expect("vnc")
    );
    // SMB signing was checked again and is required now: resolved, so not carried.
    assert!(!has_finding(&second, SMB_SIGNING));
    assert!(carried(&second, SMB_SIGNING).is_none());

    // No control the VNC finding evidences passes on a run that could not look at it.
    for id in &c.finding.controls {
        let control = second
            .controls
            .iter()
            .find(|ctl| &ctl.id == id)
            .unwrap_or_else(|| panic!("control {id}"));
        assert_ne!(control.status, ControlStatus::Pass, "{id}: {control:?}");
    }
    // What the carry does to a verdict: a control that would pass is not verified; a
    // control failing on confirmed findings keeps failing.
    let mut bare = assess(&recheck_fixture("vnc-refuses.json"), &site);
    let (passing, failing) = (&c.finding.controls[0], &c.finding.controls[1]);
    for ctl in &mut bare.controls {
        if &ctl.id == passing {
            ctl.status = ControlStatus::Pass;
        } else if &ctl.id == failing {
            ctl.status = ControlStatus::Fail;
        }
    }
    apply_not_rechecked(&mut bare, second.not_rechecked.clone(), rules());
    let status = |id: &str| {
        bare.controls
            .iter()
            .find(|ctl| ctl.id == id)
            .map(|ctl| ctl.status)
    };
    assert_eq!(status(passing), Some(ControlStatus::NotVerified));
    // ...and says why: the finding it could not check again.
    let lacks = bare
        .controls
        .iter()
        .find(|ctl| &ctl.id == passing)
        .map(|ctl| ctl.missing.clone())
        .unwrap_or_default();
    assert!(
        lacks.iter().any(|m| m.kind == MissingKind::NotRechecked
            && m.subject.as_deref() == Some(c.finding.key.as_str())),
        "{lacks:?}"
    );
    assert_eq!(status(failing), Some(ControlStatus::Fail));
    // The counts are of confirmed findings only.
    assert_eq!(second.counts.critical, 0);
}

#[test]
fn every_way_of_not_looking_has_its_reason() {
    let site = lab_site();
    let first = first_run();
    let cases: Vec<(&str, Observation, NotRechecked)> = vec![
        (
            "host gone from the Observation",
            refused_with(|o| o.hosts.clear()),
            NotRechecked::HostNotSeen,
        ),
        (
            "host down",
            refused_with(|o| o.hosts[0].status.state = HostState::Down),
            NotRechecked::HostNotSeen,
        ),
        (
            "port filtered",
            refused_with(|o| vnc_service(o).state = PortState::Filtered),
            NotRechecked::PortNotOpen {
                state: Some(PortState::Filtered),
            },
        ),
        (
            "port not reported (closed or not scanned)",
            refused_with(|o| o.hosts[0].services.retain(|s| s.port != 5900)),
            NotRechecked::PortNotOpen { state: None },
        ),
        (
            "facts unknown without a probe error",
            refused_with(|o| vnc_service(o).probe_errors.clear()),
            NotRechecked::FactsMissing {
                paths: vec!["service.facts.vnc.no_auth".into()],
            },
        ),
        (
            "probe timed out",
            refused_with(|o| {
                let s = vnc_service(o);
                s.facts.vnc = None;
                s.probe_errors = vec![ProbeError {
                    probe: "vnc".into(),
                    kind: ProbeErrorKind::Timeout,
                    detail: "no security types within 3 s".into(),
                }];
            }),
            NotRechecked::ProbeFailed {
                probe: "vnc".into(),
                error: ProbeErrorKind::Timeout,
                detail: "no security types within 3 s".into(),
            },
        ),
    ];
    for (what, obs, expected) in cases {
        let second = next_run(&first, &obs, &site);
        assert!(carried(&second, VNC).is_some(), "{what}: not carried");
        assert_eq!(reason(&second, VNC), expected, "{what}");
    }

    // A probe error of another probe on the same port does not stop the VNC facts from
    // counting: with them present and saying "no None", the finding is resolved.
    let fixed = refused_with(|o| {
        let s = vnc_service(o);
        let vnc = s.facts.vnc.as_mut().expect("vnc facts");
        vnc.no_auth = Some(false);
        vnc.failure_reason = None;
        s.probe_errors = vec![ProbeError {
            probe: "tls".into(),
            kind: ProbeErrorKind::InvalidMessage,
            detail: "not TLS".into(),
        }];
    });
    let second = next_run(&first, &fixed, &site);
    assert!(!has_finding(&second, VNC));
    assert!(
        carried(&second, VNC).is_none(),
        "{:?}",
        second.not_rechecked
    );

    // A rule the site file switched off did not run: its finding is not resolved either.
    let mut quiet = lab_site();
    quiet.disabled_rules.push("smb-signing-not-required".into());
    let second = next_run(&first, &recheck_fixture("vnc-answers.json"), &quiet);
    assert_eq!(
        reason(&second, SMB_SIGNING),
        NotRechecked::RuleNotRun {
            rule_id: "smb-signing-not-required".into()
        }
    );
}

#[test]
fn a_carried_finding_stays_until_a_run_checks_it() {
    let site = lab_site();
    let first = first_run();
    let refuses = recheck_fixture("vnc-refuses.json");
    let second = next_run(&first, &refuses, &site);
    // Still refused a day later: still carried, still dated from the first run.
    let mut later = refuses.clone();
    later.scan.id = "recheck-3".into();
    later.scan.started = "2026-11-22T01:00:00Z".parse().expect("time");
    let third = next_run(&second, &later, &site);
    let c = carried(&third, VNC).expect("still carried");
    assert_eq!(c.last_confirmed, first.observations[0].started);
    // The server answers again: the finding is reported, nothing is carried.
    let mut answers = recheck_fixture("vnc-answers.json");
    answers.scan.id = "recheck-4".into();
    let fourth = next_run(&third, &answers, &site);
    assert!(has_finding(&fourth, VNC));
    assert!(
        fourth.not_rechecked.is_empty(),
        "{:?}",
        fourth.not_rechecked
    );
}

/// Segmentation findings are about what one zone reaches: a scan from elsewhere does not
/// check them, and a host that vanished from the vantage is not seen — isolated or switched
/// off, a scan cannot tell.
#[test]
fn reachability_findings_need_a_scan_from_their_zone() {
    let site = lab_site();
    let key = "oqv-remote-access-reachable|10.77.30.10|tcp/3389|from:general";
    let first = assess(&observation("lab-general.json"), &site);
    assert!(has_finding(&first, key), "{:#?}", first.findings);

    let guest = next_run(&first, &observation("lab-guest.json"), &site);
    assert_eq!(
        reason(&guest, key),
        NotRechecked::VantageNotScanned {
            zone: "general".into()
        }
    );
    let isolated = next_run(&first, &observation("lab-general-isolated.json"), &site);
    assert_eq!(reason(&isolated, key), NotRechecked::HostNotSeen);
}

/// The fixture pair follows the Observation schema, and an Assessment with carried findings
/// follows the Assessment schema and reads back unchanged.
#[test]
fn carried_findings_follow_the_schemas() {
    let schema = |name: &str| {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../model/schemas")
            .join(name);
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).expect("schema")).expect("json");
        jsonschema::validator_for(&doc).expect("valid schema")
    };
    let check = |v: &jsonschema::Validator, what: &str, doc: &serde_json::Value| {
        let errors: Vec<String> = v.iter_errors(doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{what}: {errors:?}");
    };
    let observation_schema = schema("observation.v1.json");
    for name in ["vnc-answers.json", "vnc-refuses.json"] {
        let path = common::fixture_path("../recheck").join(name);
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json");
        check(&observation_schema, name, &doc);
    }
    let second = next_run(
        &first_run(),
        &recheck_fixture("vnc-refuses.json"),
        &lab_site(),
    );
    assert!(!second.not_rechecked.is_empty());
    let doc = serde_json::to_value(&second).expect("json");
    check(&schema("assessment.v2.json"), "second run", &doc);
    let back: Assessment = serde_json::from_value(doc).expect("round trip");
    assert_eq!(back, second);
}
