//! Catalogue, site file, segmentation, verdicts, rule loading and rule errors.

mod common;

use std::collections::BTreeSet;

use clinicscan_model::{CellState, ControlStatus, Transport};
use clinicscan_policy::{INTERNET, LoadError, RuleSet, ScanEvidence, Site, assess_with};
use common::{assessed, observation, opts, rules, site};

// ---- catalogue -----------------------------------------------------------------------

#[test]
fn catalogue_every_referenced_control_exists() {
    let r = rules();
    for rule in r.rules() {
        for c in &rule.controls {
            assert!(
                r.catalogue().get(c).is_some(),
                "{} references unknown {c}",
                rule.id
            );
        }
    }
}

#[test]
fn catalogue_every_scan_evidencable_control_has_a_rule() {
    let r = rules();
    let referenced: BTreeSet<&str> = r
        .rules()
        .iter()
        .flat_map(|x| x.controls.iter().map(String::as_str))
        .collect();
    let missing: Vec<&str> = r
        .catalogue()
        .controls()
        .iter()
        .filter(|c| c.scan != ScanEvidence::None && !referenced.contains(c.id.as_str()))
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "scan-evidencable controls without a rule: {missing:?}"
    );
}

#[test]
fn catalogue_organisational_controls_are_listed_as_not_assessable() {
    let r = rules();
    let all: Vec<String> = r
        .catalogue()
        .editions()
        .iter()
        .map(|e| e.key.clone())
        .collect();
    let mut o = opts();
    o.editions = Some(all);
    // Even with no host at all, every control is listed.
    let a = assess_with(&[observation("empty.json")], None, r, &o);
    assert_eq!(a.controls.len(), r.catalogue().controls().len());
    for c in r.catalogue().controls() {
        let got = a.controls.iter().find(|x| x.id == c.id).expect("listed");
        if c.scan == ScanEvidence::None {
            assert_eq!(got.status, ControlStatus::NotAssessableByScan, "{}", c.id);
        } else {
            assert_eq!(got.status, ControlStatus::NotVerified, "{}", c.id);
        }
        assert!(
            got.source.ends_with(']'),
            "{}: source carries its tag",
            c.id
        );
    }
}

#[test]
fn catalogue_editions_and_tags() {
    let r = rules();
    let keys: Vec<&str> = r
        .catalogue()
        .editions()
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(
        keys,
        vec![
            "checklist-R6",
            "checklist-R7",
            "guideline-6.0",
            "mhlw-20221110",
            "ons"
        ]
    );
    let a = assessed("bad.json");
    assert_eq!(
        a.editions,
        vec!["checklist-R7", "guideline-6.0", "mhlw-20221110", "ons"]
    );
    let c = a
        .controls
        .iter()
        .find(|c| c.id == "CL-R7-2-13")
        .expect("listed");
    assert_eq!(
        c.source,
        "R7 checklist 2-⑬ (draft manual p.13); ref システム運用編 13⑪ [D]"
    );
    assert_eq!(c.title.ja, "接続元制限を実施している。");
}

// ---- verdicts and counts -------------------------------------------------------------

#[test]
fn verdicts_on_the_bad_and_good_fixtures() {
    let bad = assessed("bad.json");
    let status = |a: &clinicscan_model::Assessment, id: &str| {
        a.controls.iter().find(|c| c.id == id).map(|c| c.status)
    };
    assert_eq!(status(&bad, "GL6-SO-13-TLS"), Some(ControlStatus::Fail));
    assert_eq!(status(&bad, "CL-R7-2-6"), Some(ControlStatus::Fail));
    assert_eq!(
        status(&bad, "CL-R7-1-1"),
        Some(ControlStatus::NotAssessableByScan)
    );
    let good = assessed("good.json");
    assert_eq!(status(&good, "GL6-SO-13-TLS"), Some(ControlStatus::Pass));
    assert_eq!(status(&good, "CL-R7-2-1"), Some(ControlStatus::Pass));
    // A scan shows only part of the picture: never better than not verified.
    assert_eq!(status(&good, "CL-R7-2-6"), Some(ControlStatus::NotVerified));
    assert_eq!(status(&good, "CL-R7-2-2"), Some(ControlStatus::NotVerified));
    // Counts add up and findings are sorted most severe first.
    let total = bad.counts.critical
        + bad.counts.high
        + bad.counts.medium
        + bad.counts.low
        + bad.counts.info;
    assert_eq!(total as usize, bad.findings.len());
    assert_eq!(bad.counts.critical, 3);
    assert!(
        bad.findings
            .windows(2)
            .all(|w| w[0].severity >= w[1].severity)
    );
}

#[test]
fn finding_text_is_bilingual_and_filled() {
    let a = assessed("bad.json");
    let f = a
        .findings
        .iter()
        .find(|f| f.key == "rdp-nla-not-required|10.77.10.21|tcp/3389")
        .expect("fires");
    assert!(
        f.description
            .en
            .starts_with("RDP on 10.77.10.21 port 3389 accepted")
    );
    assert!(
        f.description
            .ja
            .starts_with("10.77.10.21 のRDP(ポート 3389)")
    );
    assert_eq!(f.zone.as_deref(), Some("general"));
    assert_eq!(f.vantage_zone.as_deref(), Some("general"));
    assert_eq!(f.observation_ids, vec!["fixture-bad".to_string()]);
    assert_eq!(f.evidence[0].key, "service.facts.rdp.nla_required");
    assert_eq!(f.evidence[0].value, "false");
    let k = a
        .findings
        .iter()
        .find(|f| f.rule_id == "vpn-known-exploited-version")
        .expect("fires");
    let kev = &k.evidence[0].value;
    for cve in ["CVE-2022-42475", "CVE-2023-27997", "CVE-2024-21762"] {
        assert!(kev.contains(cve), "{cve} in {kev}");
    }
    assert!(!kev.contains("CVE-2018-13379"));
}

#[test]
fn finding_keys_are_stable_across_runs_and_merge_observations() {
    let r = rules();
    let s = site("test-site.toml");
    let mut o1 = observation("bad.json");
    let a1 = assess_with(std::slice::from_ref(&o1), Some(&s), r, &opts());
    o1.scan.id = "second-run".into();
    let a2 = assess_with(std::slice::from_ref(&o1), Some(&s), r, &opts());
    let k1: Vec<&str> = a1.findings.iter().map(|f| f.key.as_str()).collect();
    let k2: Vec<&str> = a2.findings.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(k1, k2);
    // The same Observation twice under two ids: one finding, two observation ids.
    let both = assess_with(&[observation("bad.json"), o1], Some(&s), r, &opts());
    assert_eq!(both.findings.len(), a1.findings.len());
    let f = both
        .findings
        .iter()
        .find(|f| f.rule_id == "vnc-no-auth")
        .expect("fires");
    assert_eq!(
        f.observation_ids,
        vec!["fixture-bad".to_string(), "second-run".to_string()]
    );
}

// ---- segmentation ----------------------------------------------------------------------

#[test]
fn ons_violation_and_its_absence_in_the_isolated_variant() {
    let a = assessed("lab-general.json");
    let f = a
        .findings
        .iter()
        .find(|f| f.rule_id == "oqv-remote-access-reachable")
        .expect("the オン資 violation");
    assert_eq!(
        f.key,
        "oqv-remote-access-reachable|10.77.30.10|tcp/3389|from:general"
    );
    assert_eq!(f.zone.as_deref(), Some("oqv"));
    assert_eq!(f.vantage_zone.as_deref(), Some("general"));
    assert_eq!(f.severity, clinicscan_model::Severity::Critical);
    let ons2 = a.controls.iter().find(|c| c.id == "ONS-2").expect("listed");
    assert_eq!(ons2.status, ControlStatus::Fail);

    let iso = assessed("lab-general-isolated.json");
    assert!(iso.findings.iter().all(|f| !f.rule_id.starts_with("oqv-")));
    let ons2 = iso
        .controls
        .iter()
        .find(|c| c.id == "ONS-2")
        .expect("listed");
    // Nothing reached the terminal from the general LAN, but the clinical LAN and guest
    // Wi-Fi were not scanned: not verified, naming the vantages it lacks, with what the
    // general-LAN scan did check.
    assert_eq!(ons2.status, ControlStatus::NotVerified);
    assert_eq!(ons2.finding_count, 0);
    let missing: Vec<&str> = ons2.missing.iter().map(|m| m.text.en.as_str()).collect();
    assert_eq!(
        missing,
        vec![
            "scan from zone clinical towards oqv (clinical → oqv not probed)",
            "scan from zone guest towards oqv (guest → oqv not probed)",
        ]
    );
    assert!(ons2.checked.iter().any(|c| {
        c.zone_pair
            .as_ref()
            .is_some_and(|p| p.from == "general" && p.to == "oqv")
            && c.observation_id == "lab-general-isolated"
            && c.subjects
                .iter()
                .any(|s| s.host.to_string() == "10.77.30.20")
    }));
}

#[test]
fn several_vantages_combine_into_one_matrix() {
    let s = site("lab-site.toml");
    let obs = [
        observation("lab-general.json"),
        observation("lab-guest.json"),
        observation("lab-oqv.json"),
    ];
    // One assessment over all three: one matrix, and findings carry their vantage zone.
    let a = assess_with(&obs, Some(&s), rules(), &opts());
    let m = a.coverage.as_ref().expect("a site gives a matrix");
    let violations = |f: &str, t: &str| {
        m.cell(f, t)
            .map(|c| c.reached.iter().filter(|r| !r.allowed).count())
            .unwrap_or_else(|| panic!("{f} → {t}"))
    };
    let g_oqv = m.cell("general", "oqv").expect("general reaches oqv");
    assert_eq!(g_oqv.state, CellState::Violation);
    assert_eq!(g_oqv.reached.len(), 2);
    assert_eq!(violations("general", "oqv"), 2);
    let g_clin = m
        .cell("general", "clinical")
        .expect("general reaches clinical");
    assert_eq!(g_clin.reached.len(), 3);
    assert_eq!(violations("general", "clinical"), 2); // 22 and 8080; 443 is allowed
    assert!(
        g_clin
            .reached
            .iter()
            .any(|s| s.port == 443 && s.transport == Transport::Tcp && s.allowed)
    );
    assert_eq!(violations("guest", "clinical"), 1);
    let egress = m.cell("oqv", INTERNET).expect("the egress target's cell");
    assert_eq!(
        (egress.state, egress.reached.len()),
        (CellState::Violation, 1)
    );
    assert!(m.cell("guest", "guest").is_none(), "within a zone: no cell");
    assert_eq!(m.zones.last().map(String::as_str), Some(INTERNET));

    let vz: BTreeSet<&str> = a
        .findings
        .iter()
        .filter(|f| f.key.contains("|from:"))
        .filter_map(|f| f.vantage_zone.as_deref())
        .collect();
    assert_eq!(vz, BTreeSet::from(["general", "guest", "oqv"]));
    assert_eq!(a.observations.len(), 3);
}

#[test]
fn vantage_zone_is_derived_from_the_address_when_not_declared() {
    let mut o = observation("lab-general.json");
    o.scan.vantage.zone = None;
    let a = assess_with(&[o], Some(&site("lab-site.toml")), rules(), &opts());
    assert_eq!(a.observations[0].vantage_zone.as_deref(), Some("general"));
    assert!(
        a.findings
            .iter()
            .any(|f| f.rule_id == "oqv-remote-access-reachable")
    );
}

#[test]
fn without_a_site_segmentation_stays_quiet() {
    let a = assess_with(&[observation("lab-general.json")], None, rules(), &opts());
    assert!(a.findings.iter().all(|f| !f.key.contains("|from:")));
    assert!(a.rule_errors.is_empty(), "{:?}", a.rule_errors);
}

// ---- site file -----------------------------------------------------------------------

fn site_err(text: &str) -> String {
    Site::parse(text, "site.toml")
        .expect_err("must fail")
        .to_string()
}

#[test]
fn site_file_lab_parses() {
    let s = site("lab-site.toml");
    assert_eq!(s.zones.len(), 7);
    let md = s.zone("medical-devices").expect("zone");
    assert_eq!(md.rate.max_per_host, Some(1));
    assert_eq!(md.rate.new_per_second, Some(5));
    assert_eq!(s.zone("scale").map(|z| z.rate.max_per_host), Some(Some(64)));
    assert_eq!(
        s.zone_of("10.77.30.10".parse().expect("ip"))
            .map(|z| z.name.as_str()),
        Some("oqv")
    );
    assert!(s.flow_allowed("general", "clinical", Transport::Tcp, 443));
    assert!(!s.flow_allowed("general", "clinical", Transport::Tcp, 22));
    assert!(!s.flow_allowed("general", "clinical", Transport::Udp, 443));
    assert!(s.is_egress_target("198.51.100.10".parse().expect("ip")));
    let t = site("test-site.toml");
    assert_eq!(
        t.email
            .as_ref()
            .and_then(|e| e.get("smtp"))
            .and_then(|v| v.as_str()),
        Some("localhost:25")
    );
}

#[test]
fn site_file_errors_name_file_and_key() {
    assert_eq!(
        site_err("[site]\nname='x'\n[zones.general]\ncidrs=['10.0.0.0/33']\n"),
        "site.toml: zones.general.cidrs[0]: \"10.0.0.0/33\" is not a CIDR or an address"
    );
    assert_eq!(
        site_err("[site]\n[zones.general]\ncidrs=['10.0.0.1/24']\n"),
        "site.toml: zones.general.cidrs[0]: \"10.0.0.1/24\" has host bits set (did you mean 10.0.0.0/24?)"
    );
    assert_eq!(
        site_err("[site]\n[zones.a]\ncidrs=['10.0.0.0/16']\n[zones.b]\ncidrs=['10.0.5.0/24']\n"),
        "site.toml: zones.b.cidrs: 10.0.5.0/24 overlaps 10.0.0.0/16 of zone \"a\""
    );
    let unknown = site_err("[site]\nname='x'\ncolour='red'\n");
    assert!(
        unknown.starts_with("site.toml: site.colour (line 3 column 1): unknown field `colour`"),
        "{unknown}"
    );
    let unknown = site_err(
        "[site]\n[zones.general]\ncidrs=['10.0.0.0/24']\n[zones.general.rate]\nburst = 3\n",
    );
    assert!(
        unknown.starts_with(
            "site.toml: zones.general.rate.burst (line 5 column 1): unknown field `burst`"
        ),
        "{unknown}"
    );
    let unknown = site_err("[site]\n[zone.general]\ncidrs=['10.0.0.0/24']\n");
    assert!(
        unknown.starts_with("site.toml: zone.general (line 2 column 2): unknown field `zone`"),
        "{unknown}"
    );
    assert_eq!(
        site_err(
            "[site]\n[zones.general]\ncidrs=['10.0.0.0/24']\n[[flows]]\nfrom='general'\nto='nowhere'\n"
        ),
        "site.toml: flows[0].to: unknown zone \"nowhere\""
    );
    assert_eq!(
        site_err(
            "[site]\n[zones.general]\ncidrs=['10.0.0.0/24']\n[zones.oqv]\ncidrs=['10.0.1.0/24']\n[[flows]]\nfrom='general'\nto='oqv'\n"
        ),
        "site.toml: flows[0].ports: flows into the oqv zone \"oqv\" must list their ports explicitly"
    );
    assert_eq!(
        site_err(
            "[site]\n[zones.general]\ncidrs=['10.0.0.0/24']\n[[flows]]\nfrom='general'\nto='general'\nports=['icmp/1']\n"
        ),
        "site.toml: flows[0].ports[0]: unknown transport \"icmp\" (use tcp or udp)"
    );
    assert_eq!(
        site_err("[site]\n[[assets]]\nmac='zz:11'\n"),
        "site.toml: assets[0].mac: \"zz:11\" is not a MAC address"
    );
    assert_eq!(
        site_err("[site]\nvantage_zone='lobby'\n"),
        "site.toml: site.vantage_zone: unknown zone \"lobby\""
    );
    assert_eq!(
        site_err("[site]\n[egress]\ntargets=[{address='example.com'}]\n"),
        "site.toml: egress.targets[0].address: \"example.com\" is not an address"
    );
    assert_eq!(
        site_err("[site]\nid='../etc'\n"),
        "site.toml: site.id: \"../etc\" may hold only letters, digits, '.', '_' and '-', starting with a letter or digit"
    );
    assert_eq!(
        site_err("[site]\nid=''\n"),
        "site.toml: site.id: \"\" must be 1 to 64 characters"
    );
    let with_id = Site::parse("[site]\nid='tokyo-sakura.01'\n", "site.toml").expect("parses");
    assert_eq!(with_id.id.as_deref(), Some("tokyo-sakura.01"));
    let missing = Site::from_file("/nonexistent/csp-site.toml".as_ref()).expect_err("fails");
    assert_eq!(missing.file, "/nonexistent/csp-site.toml");
}

#[test]
fn site_disables_rules_and_reports_unknown_ids() {
    let mut s = site("test-site.toml");
    s.disabled_rules = vec!["vnc-no-auth".into(), "no-such-rule".into()];
    let a = assess_with(&[observation("bad.json")], Some(&s), rules(), &opts());
    assert!(a.findings.iter().all(|f| f.rule_id != "vnc-no-auth"));
    assert_eq!(
        a.rule_errors,
        vec!["site disables unknown rule \"no-such-rule\"".to_string()]
    );
}

// ---- rule loading and rule errors --------------------------------------------------------

const RULE: &str = r#"
[[rule]]
id = "my-rule"
severity = "high"
scope = "service"
requires = ["service.port"]
checks = {}
condition = "service.port == 5900"
controls = ["GL6-SO-8.1"]
title = { ja = "テスト", en = "Test" }
description = { ja = "テスト", en = "Test" }
remediation = { ja = "テスト", en = "Test" }
"#;

fn user_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).expect("write");
    }
    d
}

fn load_err(text: &str) -> (String, LoadError) {
    let d = user_dir(&[("mine.toml", text)]);
    let file = d.path().join("mine.toml").display().to_string();
    let e = RuleSet::shipped()
        .expect("shipped")
        .with_user_dir(d.path())
        .expect_err("must fail");
    (file, e)
}

#[test]
fn user_rules_add_and_override_by_id() {
    let over = RULE
        .replace("my-rule", "vnc-no-auth")
        .replace("service.port == 5900", "false");
    let d = user_dir(&[("a.toml", RULE), ("b.toml", &over)]);
    let r = RuleSet::shipped()
        .expect("shipped")
        .with_user_dir(d.path())
        .expect("loads");
    assert_eq!(r.rules().len(), rules().rules().len() + 1);
    let a = assess_with(
        &[observation("bad.json")],
        Some(&site("test-site.toml")),
        &r,
        &opts(),
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.key == "my-rule|10.77.10.22|tcp/5900")
    );
    assert!(a.findings.iter().all(|f| f.rule_id != "vnc-no-auth"));
}

#[test]
fn loading_errors_name_file_rule_and_position() {
    let (file, e) = load_err(&RULE.replace("service.port == 5900", "service.port == == 5900"));
    match &e {
        LoadError::Condition {
            file: f,
            id,
            position,
            ..
        } => {
            assert_eq!(f, &file);
            assert_eq!(id, "my-rule");
            assert_eq!(position.line, 1);
            assert_eq!(position.column, 17);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.to_string().starts_with(&format!(
        "{file}: rule my-rule: condition does not parse at line 1 column 17"
    )));

    let (file, e) = load_err(&RULE.replace("GL6-SO-8.1", "GL6-XX-1"));
    assert_eq!(
        e.to_string(),
        format!("{file}: rule my-rule: unknown control \"GL6-XX-1\"")
    );
    let (file, e) = load_err(&RULE.replace("\"high\"", "\"severe\""));
    assert_eq!(
        e.to_string(),
        format!(
            "{file}: rule my-rule: unknown severity \"severe\" (info, low, medium, high, critical)"
        )
    );
    let (file, e) =
        load_err(&RULE.replace("en = \"Test\" }\nremediation", "en = \"\" }\nremediation"));
    assert_eq!(
        e.to_string(),
        format!("{file}: rule my-rule: description needs both ja and en")
    );
    let (_, e) = load_err(
        &RULE
            .replace("scope = \"service\"", "scope = \"host\"")
            .replace(
                "requires = [\"service.port\"]",
                "requires = [\"host.address\"]",
            ),
    );
    assert!(
        e.to_string()
            .ends_with("rule my-rule: a host rule cannot use `service`"),
        "{e}"
    );
    let (file, e) = load_err(&format!("{RULE}{RULE}"));
    assert_eq!(
        e.to_string(),
        format!("{file}: rule my-rule: id defined twice in the user's rules")
    );
    let (file, e) = load_err(&RULE.replace("severity", "sevrity"));
    assert!(e.to_string().starts_with(&format!("{file}: line ")), "{e}");
    assert!(e.to_string().contains("unknown field `sevrity`"), "{e}");
}

#[test]
fn runtime_errors_become_rule_errors_not_crashes() {
    // No guard: services without RDP facts make this fail at run time.
    let bad = RULE.replace(
        "service.port == 5900",
        "service.facts.rdp.nla_required == false",
    );
    let not_bool = RULE
        .replace("my-rule", "my-int")
        .replace("service.port == 5900", "service.port");
    let d = user_dir(&[("a.toml", &bad), ("b.toml", &not_bool)]);
    let r = RuleSet::shipped()
        .expect("shipped")
        .with_user_dir(d.path())
        .expect("loads");
    let a = assess_with(
        &[observation("bad.json")],
        Some(&site("test-site.toml")),
        &r,
        &opts(),
    );
    // It still fires where it can.
    assert!(
        a.findings
            .iter()
            .any(|f| f.key == "my-rule|10.77.10.21|tcp/3389")
    );
    assert_eq!(a.rule_errors.len(), 2, "{:?}", a.rule_errors);
    assert!(
        a.rule_errors[0].starts_with("rule my-rule ("),
        "{}",
        a.rule_errors[0]
    );
    assert!(
        a.rule_errors[0].contains("failed on 2"),
        "{}",
        a.rule_errors[0]
    );
    assert!(
        a.rule_errors[1].contains("instead of a bool"),
        "{}",
        a.rule_errors[1]
    );
    // Shipped rules are unaffected.
    assert!(a.findings.iter().any(|f| f.rule_id == "vnc-no-auth"));
}

#[test]
fn documented_example_site_file_parses() {
    let p =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/site.toml");
    let s = Site::from_file(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name.as_deref(), Some("さくら内科クリニック"));
    assert!(s.do_not_touch("192.168.40.50".parse().expect("ip")));
    assert!(!s.do_not_touch("192.168.40.51".parse().expect("ip")));
    assert_eq!(
        s.rate_for("192.168.40.51".parse().expect("ip"))
            .max_per_host,
        Some(1)
    );
    assert_eq!(
        s.rate_for("192.168.10.5".parse().expect("ip")).max_per_host,
        None
    );
    assert_eq!(s.assets.len(), 2);
}

#[test]
fn kev_finding_text_names_the_fixed_versions() {
    let a = assessed("bad.json");
    let f = a
        .findings
        .iter()
        .find(|f| f.rule_id == "vpn-known-exploited-version")
        .expect("fires");
    assert!(
        f.description.en.ends_with(
            "actively exploited flaws: CVE-2022-42475 (fixed in 7.2.3), CVE-2023-27997 (fixed in 7.2.5), CVE-2024-21762 (fixed in 7.2.7)"
        ),
        "{}",
        f.description.en
    );
    // Unknown values read as such, in each language.
    let inv = a
        .findings
        .iter()
        .find(|f| f.key == "host-inventory|10.77.10.22")
        .expect("fires");
    assert_eq!(
        inv.description.en,
        "10.77.10.22 is up (MAC unknown, vendor unknown)."
    );
    assert_eq!(
        inv.description.ja,
        "10.77.10.22(MAC: 不明、ベンダー: 不明)が稼働しています。"
    );
}

#[test]
fn catalogue_and_user_dir_errors() {
    use clinicscan_policy::Catalogue;
    let dup = "[edition]\nkey='e'\nupdated='2026-12-06'\ntitle={ja='x',en='x'}\n[[control]]\nid='A'\ntitle={ja='x',en='x'}\nsource='s'\ntag='V'\nscan='none'\n[[control]]\nid='A'\ntitle={ja='x',en='x'}\nsource='s'\ntag='V'\nscan='none'\n";
    assert_eq!(
        Catalogue::from_files([("c.toml", dup)])
            .expect_err("dup")
            .to_string(),
        "c.toml: control A: id defined twice"
    );
    let badtag = dup.replacen("tag='V'", "tag='X'", 1);
    let e = Catalogue::from_files([("c.toml", badtag.as_str())])
        .expect_err("tag")
        .to_string();
    assert!(
        e.starts_with("c.toml: line 9 column 5: unknown variant `X`"),
        "{e}"
    );
    let e = RuleSet::shipped()
        .expect("shipped")
        .with_user_dir("/nonexistent/csp-rules".as_ref())
        .expect_err("missing dir");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/csp-rules: cannot read: "),
        "{e}"
    );
}

#[test]
fn allowed_flows_silence_general_segmentation_but_not_the_strict_zones() {
    use clinicscan_policy::{Flow, PortRange};
    let mut s = site("lab-site.toml");
    let tcp = |p: u16| PortRange {
        transport: Transport::Tcp,
        first: p,
        last: p,
    };
    for (from, to, port) in [
        ("general", "clinical", 22),
        ("general", "clinical", 8080),
        ("general", "oqv", 3389),
        ("general", "oqv", 8081),
        ("guest", "clinical", 443),
    ] {
        s.flows.push(Flow {
            from: from.into(),
            to: to.into(),
            ports: vec![tcp(port)],
            reason: None,
        });
    }
    let obs = [
        observation("lab-general.json"),
        observation("lab-guest.json"),
    ];
    let a = assess_with(&obs, Some(&s), rules(), &opts());
    let seg: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.key.contains("|from:"))
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(
        seg,
        vec![
            // Remote access to the オン資 terminal and anything from guest stay findings.
            "oqv-remote-access-reachable|10.77.30.10|tcp/3389|from:general",
            "guest-reaches-internal|10.77.20.10|tcp/443|from:guest",
        ]
    );
}
