//! The statuses a clinic shows an inspector, each on the evidence it needs: the cases the
//! issue names (a general-LAN-only scan, no site file, an errored rule, a guess, a rule
//! typo), the zone × zone coverage, and the data tables' dates and location.

mod common;

use clinicscan_model::{CellState, ControlStatus, MissingKind};
use clinicscan_policy::{DataTree, LoadError, RuleSet, assess_with};
use common::{control, observation, opts, rules, scenario, site};

const RULE: &str = r#"
[[rule]]
id = "my-rule"
severity = "high"
scope = "service"
requires = ["service.facts.rdp"]
checks = { facts = ["service.facts.rdp.nla_required"] }
condition = "service.facts.rdp.nla_required == false"
controls = ["GL6-SO-13-TLS"]
title = { ja = "テスト", en = "Test" }
description = { ja = "{host.address} のテスト", en = "Test on {host.address}" }
remediation = { ja = "テスト", en = "Test" }
"#;

fn user_rules(text: &str) -> Result<RuleSet, LoadError> {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("mine.toml"), text).expect("write");
    RuleSet::shipped().expect("shipped").with_user_dir(d.path())
}

fn load_error(text: &str) -> String {
    user_rules(text).expect_err("must not load").to_string()
}

/// A general-LAN-only scan: the オン資 controls are not verified and say which vantage
/// they lack (the terminal's own zone, the clinical LAN, guest Wi-Fi).
#[test]
fn a_general_lan_only_scan_names_the_missing_vantage() {
    let a = scenario("lab-general-isolated");
    let texts = |id: &str| -> Vec<String> {
        let c = control(&a, id);
        assert_eq!(c.status, ControlStatus::NotVerified, "{id}");
        c.missing.iter().map(|m| m.text.en.clone()).collect()
    };
    assert_eq!(texts("ONS-1"), vec!["scan from zone oqv"]);
    let ons2 = texts("ONS-2");
    assert!(
        ons2.iter()
            .any(|t| t.starts_with("scan from zone clinical towards oqv"))
    );
    assert!(
        ons2.iter()
            .any(|t| t.starts_with("scan from zone guest towards oqv"))
    );
    let ons3 = texts("ONS-3");
    assert_eq!(ons3.len(), 1);
    assert!(
        ons3[0].starts_with("scan from zone oqv towards clinical"),
        "{ons3:?}"
    );
    // In Japanese too.
    let c = control(&a, "ONS-1");
    assert_eq!(c.missing[0].text.ja, "ゾーン oqv からスキャンしてください");
}

/// The first thing a new user runs: no site file. Nothing about source restriction can be
/// known, so no segmentation control passes, and each says why.
#[test]
fn without_a_site_file_every_segmentation_control_is_not_verified() {
    let a = scenario("nosite");
    let segmentation: Vec<&str> = rules()
        .rules()
        .iter()
        .filter(|r| r.checks.zone_pair)
        .flat_map(|r| r.controls.iter().map(String::as_str))
        .collect();
    assert!(segmentation.contains(&"CL-R7-2-13") && segmentation.contains(&"ONS-2"));
    for id in segmentation {
        let c = control(&a, id);
        assert_eq!(
            c.status,
            ControlStatus::NotVerified,
            "{id}: {:?}",
            c.missing
        );
        assert!(
            c.missing.iter().any(|m| m.kind == MissingKind::SiteFile
                && m.text.en == "no site file: zones unknown"
                && m.text.ja == "サイトファイルがありません:ゾーンが不明です"),
            "{id}: {:?}",
            c.missing
        );
    }
    // GL6-SO-13-11 came out 適合 without a site file before: no longer.
    assert_ne!(control(&a, "GL6-SO-13-11").status, ControlStatus::Pass);
    assert_eq!(a.coverage, None);
}

/// A rule that errors makes its controls not verified (never a pass on "it ran"), and is
/// listed in the Assessment's rule errors.
#[test]
fn an_errored_rule_leaves_its_controls_not_verified() {
    // No guard for services without RDP facts: it errors on every other service.
    let broken = RULE
        .replace(
            "requires = [\"service.facts.rdp\"]",
            "requires = [\"service.port\"]",
        )
        .replace(
            "checks = { facts = [\"service.facts.rdp.nla_required\"] }",
            "checks = {}",
        );
    let r = user_rules(&broken).expect("loads");
    let a = assess_with(
        &[observation("good.json")],
        Some(&site("test-site.toml")),
        &r,
        &opts(),
    );
    assert_eq!(a.rule_errors.len(), 1, "{:?}", a.rule_errors);
    assert!(
        a.rule_errors[0].starts_with("rule my-rule ("),
        "{}",
        a.rule_errors[0]
    );
    let c = control(&a, "GL6-SO-13-TLS");
    assert_eq!(c.status, ControlStatus::NotVerified);
    let m = c
        .missing
        .iter()
        .find(|m| m.kind == MissingKind::RuleError)
        .expect("the rule error is the reason");
    assert_eq!(m.rule_id.as_deref(), Some("my-rule"));
    assert!(
        m.text
            .en
            .starts_with("rule my-rule could not be evaluated on "),
        "{}",
        m.text.en
    );
    // Without the broken rule the same scan passes it.
    assert_eq!(
        control(&common::assessed("good.json"), "GL6-SO-13-TLS").status,
        ControlStatus::Pass
    );
}

/// A guess never fails a control by itself and never lets it pass: it asks to confirm.
#[test]
fn a_guess_alone_leaves_a_control_not_verified() {
    let a = scenario("unverified");
    let f = a
        .findings
        .iter()
        .find(|f| f.rule_id == "telnet-port-open")
        .expect("the port-number guess");
    assert_eq!(f.certainty, clinicscan_model::Certainty::Guess);
    assert_eq!(f.severity, clinicscan_model::Severity::Medium);
    let c = control(&a, "GL6-SO-8.1");
    assert_eq!(c.status, ControlStatus::NotVerified);
    assert!(c.findings.is_empty(), "a guess failed it: {:?}", c.findings);
    let m = c
        .missing
        .iter()
        .find(|m| m.kind == MissingKind::Confirm)
        .expect("confirm");
    assert_eq!(
        m.text.en,
        "confirm the inferred finding: The Telnet port (23/tcp) is open (inferred) (10.77.30.10:23/tcp)"
            .replace("10.77.30.10", "10.77.10.30")
    );
    assert!(
        m.text.ja.starts_with("推定の指摘を確認してください:"),
        "{}",
        m.text.ja
    );
    // And null never makes a rule fire: the FTP server that would not say whether it offers
    // TLS is unknown, not plaintext.
    assert!(a.findings.iter().all(|f| f.rule_id != "ftp-plaintext"));
}

/// A misspelt path anywhere in a rule is a load error naming the file, the rule and the
/// path; so is a rule that does not say what makes it checked.
#[test]
fn a_rule_typo_fails_to_load() {
    let e = load_error(&RULE.replace(
        "requires = [\"service.facts.rdp\"]",
        "requires = [\"service.facts.rpd\"]",
    ));
    assert!(e.ends_with(
        "mine.toml: rule my-rule: path \"service.facts.rpd\": after service.facts: no field \"rpd\" (known: dicom, ftp, http, ike, mssql, mysql, openvpn, postgres, pptp, rdp, smb, snmp, ssh, telnet, tls, upnp, vnc)"
    ) || e.contains("no field \"rpd\""), "{e}");
    assert!(
        e.contains("mine.toml: rule my-rule: path \"service.facts.rpd\""),
        "{e}"
    );
    let e = load_error(&RULE.replace(
        "checks = { facts = [\"service.facts.rdp.nla_required\"] }",
        "checks = { facts = [\"service.facts.rdp.nla_requierd\"] }",
    ));
    assert!(e.contains("rule my-rule: path \"service.facts.rdp.nla_requierd\": after service.facts.rdp: no field \"nla_requierd\""), "{e}");
    let e = load_error(&RULE.replace("{host.address} のテスト", "{host.adress} のテスト"));
    assert!(e.contains("rule my-rule: path \"host.adress\""), "{e}");
    let e = load_error(&RULE.replace(
        "condition = \"service.facts.rdp.nla_required == false\"",
        "condition = \"service.facts.rdp.nla_requred == false\"",
    ));
    assert!(
        e.contains("rule my-rule: condition: service.facts.rdp.nla_requred"),
        "{e}"
    );
    let e = load_error(&RULE.replace(
        "condition = \"service.facts.rdp.nla_required == false\"",
        "condition = \"host.services.exists(s, s.facts.rdp.nla_requred == false)\"",
    ));
    assert!(e.contains("no field \"nla_requred\""), "{e}");
    let e = load_error(&RULE.replace(
        "checks = { facts = [\"service.facts.rdp.nla_required\"] }\n",
        "",
    ));
    assert!(e.contains("rule my-rule: `checks` is missing"), "{e}");
    let e = load_error(&RULE.replace(
        "checks = { facts = [\"service.facts.rdp.nla_required\"] }",
        "checks = { vantage = [\"lobby\"] }",
    ));
    assert!(e.contains("unknown variant `lobby`"), "{e}");
}

/// Every shipped rule declares what makes it checked, and every one that has neither
/// `requires` nor `requires_any` would apply to everything: there is none.
#[test]
fn every_shipped_rule_says_what_it_concerns() {
    for r in rules().rules() {
        assert!(
            !r.requires.is_empty() || !r.requires_any.is_empty(),
            "{} has no requires",
            r.id
        );
    }
}

/// The coverage matrix: which pairs were probed from which vantage, on which ports, and
/// what was reached there.
#[test]
fn coverage_says_what_was_probed() {
    let a = scenario("clean");
    let cov = a.coverage.as_ref().expect("a site file gives a matrix");
    assert_eq!(
        cov.zones,
        vec![
            "clinical",
            "edge",
            "general",
            "guest",
            "medical-devices",
            "oqv",
            "scale",
            "internet"
        ]
    );
    let cell = |f: &str, t: &str| cov.cell(f, t).unwrap_or_else(|| panic!("{f} → {t}"));
    assert_eq!(cell("general", "clinical").state, CellState::AllowedBySite);
    assert_eq!(cell("general", "clinical").reached.len(), 1);
    assert!(cell("general", "clinical").reached[0].allowed);
    assert_eq!(cell("general", "oqv").state, CellState::ProbedClean);
    assert_eq!(
        cell("general", "oqv").observation_ids,
        vec!["clean-general"]
    );
    assert_eq!(cell("general", "oqv").ports, vec!["clinic"]);
    assert_eq!(cell("clinical", "oqv").state, CellState::AllowedBySite);
    assert_eq!(cell("oqv", "internet").state, CellState::ProbedClean);
    // No scanner in the medical-device zone.
    assert_eq!(
        cell("medical-devices", "general").state,
        CellState::NotProbed
    );
    assert!(
        cov.cell("general", "general").is_none(),
        "no terminal on the staff LAN here"
    );

    let a = scenario("lab-general");
    let cov = a.coverage.as_ref().expect("matrix");
    let v = cov.cell("general", "oqv").expect("general → oqv");
    assert_eq!(v.state, CellState::Violation);
    assert_eq!(v.hosts_up, 2);
    assert!(v.reached.iter().any(|r| r.port == 3389 && !r.allowed));
    assert_eq!(
        cov.cell("guest", "oqv").map(|c| c.state),
        Some(CellState::NotProbed)
    );
    assert_eq!(
        cov.cell("oqv", "internet").map(|c| c.state),
        Some(CellState::NotProbed)
    );
}

/// SMB into the オン資 zone from where the site allows it (the レセコン's OQS folder) is no
/// finding; RDP stays critical even when a flow lists it.
#[test]
fn smb_from_the_receipt_computer_into_oqv_is_expected_where_the_site_allows_it() {
    use clinicscan_model::Transport;
    use clinicscan_policy::{Flow, PortRange};
    let mut s = site("lab-site.toml");
    s.flows.push(Flow {
        from: "general".into(),
        to: "oqv".into(),
        ports: vec![
            PortRange {
                transport: Transport::Tcp,
                first: 445,
                last: 445,
            },
            PortRange {
                transport: Transport::Tcp,
                first: 3389,
                last: 3389,
            },
        ],
        reason: Some("OQS folder".into()),
    });
    let mut obs = observation("lab-general.json");
    let terminal = obs
        .hosts
        .iter_mut()
        .find(|h| h.address.to_string() == "10.77.30.10")
        .expect("terminal");
    terminal.services.push(clinicscan_model::Service::port_only(
        445,
        Transport::Tcp,
        clinicscan_model::PortState::Open,
        clinicscan_model::PortReason::SynAck,
    ));
    let a = assess_with(&[obs], Some(&s), rules(), &opts());
    let on = |port: u16| -> Vec<&str> {
        a.findings
            .iter()
            .filter(|f| f.host.to_string() == "10.77.30.10" && f.port == Some(port))
            .map(|f| f.rule_id.as_str())
            .collect()
    };
    // (A file share another zone reaches may still hold backups: that guess stays.)
    assert!(
        on(445).iter().all(|r| !r.starts_with("oqv-")),
        "{:?}",
        on(445)
    );
    assert_eq!(
        on(3389)
            .into_iter()
            .filter(|r| r.starts_with("oqv-"))
            .collect::<Vec<_>>(),
        vec!["oqv-remote-access-reachable"]
    );
}

/// Every data table states its date, and the Assessment names each with its file.
#[test]
fn the_assessment_names_its_data_and_their_dates() {
    let a = common::assessed("bad.json");
    let names: Vec<&str> = a.data.iter().map(|d| d.name.as_str()).collect();
    for n in [
        "kev",
        "eol",
        "ports",
        "controls/guideline-6.0",
        "controls/checklist-R7",
        "controls/ons",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    for d in &a.data {
        let date = d
            .updated
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no date", d.name));
        assert!(
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
            "{date}"
        );
        assert!(d.file.starts_with("rules/"), "built-in: {}", d.file);
    }
}

/// A data directory laid over the built-in tree replaces files by their path, and its
/// files must state their date too.
#[test]
fn a_data_directory_replaces_the_built_in_tables() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(d.path().join("data")).expect("mkdir");
    let kev = r#"updated = "2027-01-15"

[[entry]]
cve = "CVE-2099-0001"
vendor = "Fortinet"
products = ["FortiGate"]
summary = "a flaw the shipped table does not know"
kev = true
kev_added = "2027-01-10"
verification = "V"
sources = ["https://example.invalid/advisory"]
affected = [{ introduced = "7.2.7", fixed = "7.2.9" }]
"#;
    std::fs::write(d.path().join("data/kev.toml"), kev).expect("write");
    let r = RuleSet::load_with_data(Some(d.path())).expect("loads");
    assert_eq!(r.kev().entries().len(), 1);
    assert_eq!(r.kev().updated(), Some("2027-01-15"));
    let src = r
        .data_sources()
        .iter()
        .find(|s| s.name == "kev")
        .expect("kev source");
    assert!(
        src.file.ends_with("data/kev.toml") && !src.file.starts_with("rules/"),
        "{}",
        src.file
    );
    // The other tables are still the built-in ones.
    assert!(r.eol().entries().len() >= 6);
    let tree = DataTree::load(Some(d.path())).expect("tree");
    assert!(
        tree.get("data/eol.toml")
            .is_some_and(|f| f.name == "rules/data/eol.toml")
    );

    std::fs::write(
        d.path().join("data/kev.toml"),
        kev.replace("updated = \"2027-01-15\"\n", ""),
    )
    .expect("write");
    let e = RuleSet::load_with_data(Some(d.path()))
        .expect_err("no date")
        .to_string();
    assert!(e.ends_with("data/kev.toml: `updated = \"YYYY-MM-DD\"` is missing: reports name the date of every data table"), "{e}");
    let e = RuleSet::load_with_data(Some(&d.path().join("nowhere")))
        .expect_err("no directory")
        .to_string();
    assert!(e.contains("nowhere: cannot read"), "{e}");
}

/// The end-of-support table on the edges of Windows 10's lifecycle.
#[test]
fn end_of_life_dates() {
    let eol = rules().eol();
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date");
    let ended = |ntlm: &str, on: &str| -> Vec<(String, bool)> {
        eol.lookup(&[ntlm], None, day(on))
            .into_iter()
            .map(|m| (m.product, m.ended))
            .collect()
    };
    let win10 = "Windows 10 (Home, Pro, Enterprise, Education; not LTSC)".to_string();
    assert_eq!(
        ended("10.0.19045", "2025-10-14"),
        vec![(win10.clone(), false)]
    );
    assert_eq!(ended("10.0.19045", "2025-10-15"), vec![(win10, true)]);
    // Builds still-supported editions share are not judged; nor are Windows 11 and Samba.
    assert!(ended("10.0.17763", "2026-11-20").is_empty());
    assert!(ended("10.0.20348", "2026-11-20").is_empty());
    assert!(ended("10.0.26100", "2026-11-20").is_empty());
    assert!(ended("6.1.0", "2026-11-20").is_empty());
    assert_eq!(
        ended("6.1.7601", "2026-11-20"),
        vec![("Windows 7 / Server 2008 R2".to_string(), true)]
    );
    let native = eol.lookup(
        &[],
        Some("Windows 10 Enterprise LTSC 2019 17763"),
        day("2026-11-20"),
    );
    assert!(native.is_empty(), "{native:?}");
    let native = eol.lookup(
        &[],
        Some("Windows Server 2008 R2 Standard 7601 Service Pack 1"),
        day("2026-11-20"),
    );
    assert_eq!(native.len(), 1);
    assert_eq!(native[0].product, "Windows 7 / Server 2008 R2");
}
