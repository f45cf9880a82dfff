//! The `clinicscan` binary as a user runs it, against listeners this test opens on
//! loopback only. Bad input must fail with exit code 2 and a message naming the offending
//! text, before any packet is sent.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn clinicscan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clinicscan"))
        .args(args)
        .current_dir(repo())
        .env_remove("CLINICSCAN_SITE")
        .env_remove("CLINICSCAN_DB")
        .env_remove("CLINICSCAN_DATA")
        .env_remove("RUST_LOG")
        // No site file of the user running the tests.
        .env("XDG_CONFIG_HOME", "/nonexistent/clinicscan-tests")
        .output()
        .expect("run clinicscan")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn validator(schema: &str) -> jsonschema::Validator {
    let path = repo().join("crates/model/schemas").join(schema);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    jsonschema::validator_for(&schema).expect("valid schema")
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "output does not match its schema: {errors:#?}"
    );
}

/// `clinicscan scan 127.0.0.1 -p PORTS` without history or service probes, the
/// Observation on stdout; `extra` arguments appended.
fn scan_loopback(ports: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "scan",
        "127.0.0.1",
        "-p",
        ports,
        "--no-history",
        "--no-probes",
        "-f",
        "observation",
    ];
    args.extend_from_slice(extra);
    clinicscan(&args)
}

/// A port with nothing listening (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn scan_of_loopback_gives_exact_states_and_a_valid_observation() {
    let open = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open_port = open.local_addr().expect("addr").port();
    let closed = closed_port();
    let o = scan_loopback(&format!("{open_port},{closed}"), &[]);
    assert!(o.status.success(), "scan failed: {}", stderr(&o));
    let obs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_valid(&validator("observation.v1.json"), &obs);
    assert_eq!(obs["schema"], "clinicscan/observation/v1");
    let hosts = obs["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1);
    let host = &hosts[0];
    assert_eq!(host["address"], "127.0.0.1");
    assert_eq!(host["status"]["state"], "up");
    let services = host["services"].as_array().expect("services");
    let open_svc = services
        .iter()
        .find(|s| s["port"] == open_port)
        .expect("the open port is listed");
    assert_eq!(open_svc["state"], "open");
    assert_eq!(open_svc["reason"], "syn-ack");
    assert_eq!(host["port_summary"]["scanned"], 2);
    assert_eq!(host["port_summary"]["open"], 1);
    assert_eq!(host["port_summary"]["closed"], 1);
    drop(open);
}

#[test]
fn max_rate_spaces_the_connections() {
    // 11 closed ports at 20 a second: the last connection starts 0.5 s after the first at
    // the earliest. Without the limit the same scan of loopback takes milliseconds.
    let ports: Vec<String> = (0..11).map(|_| closed_port().to_string()).collect();
    let ports = ports.join(",");
    let run = |extra: &[&str]| {
        let start = Instant::now();
        let o = scan_loopback(&ports, extra);
        assert!(o.status.success(), "scan failed: {}", stderr(&o));
        let obs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        assert_eq!(obs["hosts"][0]["port_summary"]["closed"], 11);
        (start.elapsed(), obs["scan"]["stats"]["port_probes"].clone())
    };
    let (limited, probes) = run(&["--max-rate", "20"]);
    assert_eq!(probes, 11);
    assert!(limited >= Duration::from_millis(500), "{limited:?}");
    let (free, _) = run(&[]);
    assert!(free < limited, "{free:?} vs {limited:?}");
}

#[test]
fn scan_prints_a_table_and_an_assessment_that_validates() {
    let open = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = open.local_addr().expect("addr").port().to_string();
    let o = clinicscan(&[
        "--lang",
        "en",
        "scan",
        "127.0.0.1",
        "-p",
        &port,
        "--no-history",
        "--no-probes",
        "-f",
        "table",
    ]);
    assert!(o.status.success(), "scan failed: {}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("127.0.0.1"),
        "table without the host:\n{table}"
    );
    assert!(
        !table.contains('\u{1b}'),
        "colour escapes in a pipe:\n{table}"
    );

    let o = clinicscan(&[
        "scan",
        "127.0.0.1",
        "-p",
        &port,
        "--no-history",
        "-f",
        "json",
    ]);
    assert!(o.status.success(), "scan failed: {}", stderr(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_valid(&validator("assessment.v2.json"), &a);
    drop(open);
}

/// Each bad input: exit 2, one clear message naming the text, and no time spent scanning.
#[test]
fn bad_input_fails_before_any_packet() {
    let cases: &[(&[&str], &str)] = &[
        (&["scan", "10.0.0.300"], "10.0.0.300"),
        (&["scan", "192.168.1.0/33"], "192.168.1.0/33"),
        (&["scan", "192.168.1.50-20"], "192.168.1.50-20"),
        (&["scan", "127.0.0.1", "-p", "70000"], "70000"),
        (&["scan", "127.0.0.1", "-p", "22,abc"], "abc"),
        (
            &["scan", "127.0.0.1", "--exclude", "nonsense/8"],
            "nonsense/8",
        ),
        (
            &["scan", "-i", "/nonexistent/targets.txt"],
            "/nonexistent/targets.txt",
        ),
        // TEST-NET-1 (RFC 5737): public, so refused without --allow-public.
        (&["scan", "192.0.2.1"], "--allow-public"),
        (&["scan"], "no targets"),
        (
            &["scan", "127.0.0.1", "--site", "/nonexistent/site.toml"],
            "site.toml",
        ),
        (&["assess", "Cargo.toml"], "Cargo.toml"),
        (&["scan", "127.0.0.1", "--max-rate", "0"], "--max-rate"),
        // A shared history: unencrypted only to loopback, the password never printed.
        (
            &[
                "scan",
                "127.0.0.1",
                "--db",
                "postgres://scan:Hunter2-secret@10.0.0.5/clinicscan?sslmode=disable",
            ],
            "postgres://scan:***@10.0.0.5",
        ),
        (
            &[
                "scan",
                "127.0.0.1",
                "--db",
                "postgres://h/db?sslmode=prefer",
            ],
            "sslmode=prefer",
        ),
        (
            &["scan", "127.0.0.1", "--db", "mysql://h/db"],
            "unsupported database URL scheme",
        ),
        // A shared history needs the site's id.
        (
            &["scan", "127.0.0.1", "--db", "postgres://h/db"],
            "[site] table has an id",
        ),
        (
            &["scan", "127.0.0.1", "--syslog", "tcp://10.0.0.9:514"],
            "loopback",
        ),
        (
            &["scan", "127.0.0.1", "--syslog", "smtp://x"],
            "tls, udp or tcp",
        ),
    ];
    for (args, needle) in cases {
        let start = Instant::now();
        let o = clinicscan(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?} exit code; stderr: {}",
            stderr(&o)
        );
        let err = stderr(&o);
        assert!(
            err.contains(needle),
            "{args:?}: message does not name {needle:?}: {err}"
        );
        assert!(!err.contains("Hunter2-secret"), "password printed: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed a result");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{args:?} took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn assess_of_a_saved_observation_exits_1_on_findings() {
    let fixture = repo().join("fixtures/policy/bad.json");
    let fixture = fixture.to_str().expect("utf-8 path");
    let o = clinicscan(&["assess", fixture, "-f", "json", "--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_valid(&validator("assessment.v2.json"), &a);
    let o = clinicscan(&["assess", fixture, "-f", "json", "--fail-on", "never"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn man_page_completions_and_rule_check() {
    let o = clinicscan(&["generate", "man"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH clinicscan"));
    let o = clinicscan(&["generate", "completions", "bash"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("clinicscan"));
    let o = clinicscan(&["rules", "check"]);
    assert!(o.status.success(), "rules check: {}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("rules, ") && out.contains(": ok"), "{out}");
    assert!(
        out.contains("kev ") && out.contains("rules/data/kev.toml"),
        "{out}"
    );
}

const USER_RULE: &str = r#"
[[rule]]
id = "site-rdp-check"
severity = "medium"
scope = "service"
requires = ["service.facts.rdp"]
checks = { facts = ["service.facts.rdp.nla_required"] }
condition = "service.facts.rdp.nla_required == false"
controls = ["GL6-SO-14-1"]
title = { ja = "RDPの独自確認", en = "Site's own RDP check" }
description = { ja = "{host.address} のRDP", en = "RDP on {host.address}" }
remediation = { ja = "確認してください。", en = "Check it." }
"#;

/// `clinicscan rules check DIR` on a user's own rules: 0 when they load, 2 with a message
/// naming the file, the rule and the misspelt path when they do not.
#[test]
fn rules_check_names_the_file_rule_and_path_of_a_typo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_str().expect("utf-8 path");
    std::fs::write(dir.path().join("mine.toml"), USER_RULE).expect("write");
    let o = clinicscan(&["rules", "check", d]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    std::fs::write(
        dir.path().join("mine.toml"),
        USER_RULE.replace("nla_required\"] }", "nla_requird\"] }"),
    )
    .expect("write");
    let o = clinicscan(&["rules", "check", d]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("mine.toml: rule site-rdp-check: path \"service.facts.rdp.nla_requird\": after service.facts.rdp: no field \"nla_requird\""),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

/// A rule that cannot be evaluated: the run exits 2 (its controls are not verified) and
/// says so on stderr and in the report; `--fail-on never` exits 0.
#[test]
fn an_errored_rule_exits_2_unless_fail_on_never() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_str().expect("utf-8 path");
    std::fs::write(
        dir.path().join("broken.toml"),
        USER_RULE
            .replace(
                "requires = [\"service.facts.rdp\"]",
                "requires = [\"service.port\"]",
            )
            .replace(
                "checks = { facts = [\"service.facts.rdp.nla_required\"] }",
                "checks = {}",
            ),
    )
    .expect("write");
    let fixture = repo().join("fixtures/policy/good.json");
    let fixture = fixture.to_str().expect("utf-8 path");
    let run = |fail_on: &str, format: &str| {
        clinicscan(&[
            "--lang",
            "en",
            "assess",
            fixture,
            "--site",
            "fixtures/policy/test-site.toml",
            "--rules",
            d,
            "-f",
            format,
            "--fail-on",
            fail_on,
        ])
    };
    let o = run("high", "json");
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("rule site-rdp-check ("),
        "{}",
        stderr(&o)
    );
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_valid(&validator("assessment.v2.json"), &a);
    let c = a["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["id"] == "GL6-SO-14-1")
        .expect("listed");
    assert_eq!(c["status"], "not-verified");
    assert!(
        c["missing"]
            .as_array()
            .expect("missing")
            .iter()
            .any(|m| m["kind"] == "rule-error")
    );
    // Every report format shows it.
    for format in ["table", "markdown", "html", "csv"] {
        let o = run("never", format);
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("site-rdp-check"),
            "{format} does not show the rule error"
        );
        assert!(
            text.contains("kev 2026-12-06"),
            "{format} does not name the data's date"
        );
    }
}

/// A data directory laid over the built-in tables (`--data`, `CLINICSCAN_DATA`): the
/// report names its file and date.
#[test]
fn a_data_directory_updates_the_tables() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
    let eol = std::fs::read_to_string(repo().join("rules/data/eol.toml"))
        .expect("eol")
        .replace("updated = \"2026-12-06\"", "updated = \"2027-02-01\"");
    std::fs::write(dir.path().join("data/eol.toml"), eol).expect("write");
    let fixture = repo().join("fixtures/policy/bad.json");
    let o = Command::new(env!("CARGO_BIN_EXE_clinicscan"))
        .args([
            "--lang",
            "en",
            "assess",
            "-f",
            "markdown",
            "--fail-on",
            "never",
        ])
        .arg(&fixture)
        .env("CLINICSCAN_DATA", dir.path())
        .current_dir(repo())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("eol 2027-02-01"), "{text}");
    assert!(
        text.contains("kev 2026-12-06 (rules/data/kev.toml)"),
        "{text}"
    );
    let o = clinicscan(&["rules", "check", "--data", "/nonexistent/clinicscan-data"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/clinicscan-data"),
        "{}",
        stderr(&o)
    );
}

/// The pre-check of the port-states lab's addresses (its own namespaces): an address where
/// nothing answers verifies nothing and exits 2; the target answers, so each expectation
/// passes or fails with the ports it probed (SSH open there: 1).
#[test]
fn precheck_of_an_address_with_no_host_exits_2() {
    let Some(lab) = clinicscan_testlab::LabSpec::script("port_states")
        .needs(&["socat", "nft"])
        .start()
    else {
        return;
    };
    let run = |host: &str| {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                "cse-scanner",
                env!("CARGO_BIN_EXE_clinicscan"),
            ])
            .args([
                "--lang",
                "en",
                "precheck",
                "--profile",
                "oqv-terminal",
                "-p",
                "22",
            ])
            .arg(host)
            .current_dir(repo())
            .env_remove("CLINICSCAN_SITE")
            .output()
            .expect("run")
    };
    let o = run("10.250.0.3");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{text}\n{}", stderr(&o));
    assert!(
        text.contains("The host never answered: nothing was verified."),
        "{text}"
    );
    assert_eq!(text.matches("[NOT VERIFIED]").count(), 5, "{text}");
    assert!(!text.contains("[PASS]"), "{text}");

    let o = run("10.250.0.2");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}\n{}", stderr(&o));
    assert!(text.contains("[FAIL] no-shell"), "{text}");
    assert!(text.contains("22/tcp open, 23/tcp closed"), "{text}");
    assert!(text.contains("[PASS] no-rdp"), "{text}");
    assert!(text.contains("3389/tcp closed"), "{text}");
    drop(lab);
}

#[test]
fn man_pages_one_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("man");
    let o = clinicscan(&["generate", "man", "--dir", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    for page in [
        "clinicscan.1",
        "clinicscan-scan.1",
        "clinicscan-doctor.1",
        "clinicscan-history-diff.1",
        "clinicscan-rules-check.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie"), "{page} is not roff");
    }
    let scan = std::fs::read_to_string(out.join("clinicscan-scan.1")).expect("scan page");
    assert!(
        scan.contains("\\-\\-site"),
        "the scan page documents --site"
    );
}

/// `doctor` names where each thing was found; an XDG site file is found without --site.
#[test]
fn doctor_says_what_it_found_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xdg = dir.path().join("config");
    std::fs::create_dir_all(xdg.join("clinicscan")).expect("mkdir");
    let site = xdg.join("clinicscan/site.toml");
    std::fs::copy(repo().join("docs/examples/site.toml"), &site).expect("copy site");
    let db = dir.path().join("history.sqlite");
    let doctor = |extra_env: &[(&str, &Path)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clinicscan"));
        cmd.args(["--lang", "en", "doctor", "--offline", "--db"])
            .arg(&db)
            .current_dir(dir.path())
            .env_remove("CLINICSCAN_SITE")
            .env_remove("CLINICSCAN_DATA")
            .env("XDG_CONFIG_HOME", &xdg)
            // The example's [email] names a user; the password comes from here.
            .env("CLINICSCAN_SMTP_PASSWORD", "not-used-offline");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().expect("run doctor")
    };
    let rules = repo().join("rules");
    let o = doctor(&[("CLINICSCAN_DATA", &rules)]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
    assert!(
        text.contains(&format!(
            "site file: {} (from XDG_CONFIG_HOME)",
            site.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("\"さくら内科クリニック\", 5 zone(s)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "rules and data: {} (from CLINICSCAN_DATA)",
            rules.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("history database: {}", db.display())),
        "{text}"
    );
    assert!(text.contains("not there yet"), "{text}");
    assert!(
        text.contains("smtp.example.jp (starttls), 1 recipient(s)"),
        "{text}"
    );
    assert!(
        !text.contains("not-used-offline"),
        "never prints the password: {text}"
    );

    // Something needed is broken: exit 1, and it says what.
    std::fs::write(&site, "[site]\nname = 3\n").expect("write");
    let o = doctor(&[("CLINICSCAN_DATA", &rules)]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("[broken] site file"), "{text}");
    let o = doctor(&[("CLINICSCAN_DATA", dir.path())]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("[broken] rules and data"), "{text}");
    assert!(text.contains("not a clinicscan data directory"), "{text}");
}

/// `-v` on a scan of a namespace lab tells what the run did, as text and as JSON lines.
#[test]
fn verbose_lab_scan_logs_targets_hosts_and_assessment() {
    let Some(_lab) = clinicscan_testlab::LabSpec::script("port_states")
        .needs(&["socat", "nft", "ip"])
        .start()
    else {
        return;
    };
    let scan = |extra: &[&str]| {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                "cse-scanner",
                env!("CARGO_BIN_EXE_clinicscan"),
            ])
            .args(extra)
            .args([
                "scan",
                "10.250.0.2",
                "10.250.0.3",
                "-p",
                "22,80,83",
                "--no-history",
                "--no-probes",
                "-f",
                "json",
                "--fail-on",
                "never",
            ])
            .env_remove("RUST_LOG")
            .env_remove("CLINICSCAN_SITE")
            .env("XDG_CONFIG_HOME", "/nonexistent/clinicscan-tests")
            .output()
            .expect("run clinicscan in the lab");
        assert!(o.status.success(), "scan failed: {}", stderr(&o));
        stderr(&o)
    };
    let quiet = scan(&[]);
    assert!(
        !quiet.contains("targets resolved"),
        "no -v, no info: {quiet}"
    );

    let text = scan(&["-v"]);
    for event in [
        "targets resolved",
        "hosts found",
        "scan finished",
        "assessed",
    ] {
        assert!(text.contains(event), "-v shows {event:?}: {text}");
    }
    assert!(text.contains("addresses=2"), "{text}");
    assert!(
        text.contains("segment=10.250.0.0/24 hosts=1 open_ports=2"),
        "{text}"
    );

    let json = scan(&["-v", "--log-format", "json"]);
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let hosts = events
        .iter()
        .find(|e| e["fields"]["message"] == "hosts found")
        .unwrap_or_else(|| panic!("no hosts-found event: {json}"));
    assert_eq!(hosts["level"], "INFO");
    assert_eq!(hosts["fields"]["hosts"], 1);
    assert_eq!(hosts["fields"]["open_ports"], 2);
}

/// Compares with (or, under UPDATE_SNAPSHOTS=1, writes) fixtures/report/expected/NAME.
fn snapshot(name: &str, actual: &[u8]) {
    let path = repo().join("fixtures/report/expected").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run UPDATE_SNAPSHOTS=1", path.display()));
    assert!(
        expected == actual,
        "{name} differs from the snapshot:\n{}",
        String::from_utf8_lossy(actual)
    );
}

#[test]
fn precheck_of_a_saved_observation_in_both_languages_and_json() {
    let run = |lang: &str, fixture: &str, host: &str, format: &[&str], code: i32| {
        let fixture = repo().join("fixtures/policy").join(fixture);
        let mut args = vec!["--lang", lang, "precheck", "--profile", "oqv-terminal"];
        args.extend_from_slice(&["--observation", fixture.to_str().expect("utf-8 path")]);
        args.push(host);
        args.extend_from_slice(format);
        let o = clinicscan(&args);
        assert_eq!(o.status.code(), Some(code), "stderr: {}", stderr(&o));
        o.stdout
    };
    // Every port's answer recorded: RDP open fails (1), the hardened terminal passes (0),
    // the address where nothing answered verifies nothing (2).
    for lang in ["ja", "en"] {
        snapshot(
            &format!("precheck.oqv-terminal.{lang}.txt"),
            &run(lang, "precheck-terminal.json", "10.77.30.10", &[], 1),
        );
        snapshot(
            &format!("precheck.no-answer.{lang}.txt"),
            &run(lang, "precheck-terminal.json", "10.77.30.99", &[], 2),
        );
        snapshot(
            &format!("precheck.isolated.{lang}.txt"),
            &run(lang, "precheck-terminal.json", "10.77.30.20", &[], 0),
        );
    }
    snapshot(
        "precheck.oqv-terminal.json",
        &run(
            "en",
            "precheck-terminal.json",
            "10.77.30.10",
            &["-f", "json"],
            1,
        ),
    );
    snapshot(
        "precheck.no-answer.json",
        &run(
            "en",
            "precheck-terminal.json",
            "10.77.30.99",
            &["-f", "json"],
            2,
        ),
    );
    // Closed ports a scan did not record cannot count: not verified (2), not a pass.
    let o = run("en", "precheck-terminal.json", "10.77.30.30", &[], 2);
    let text = String::from_utf8_lossy(&o);
    assert!(text.contains("[NOT VERIFIED] no-rdp"), "{text}");
    assert!(text.contains("3389/tcp not probed"), "{text}");
    assert!(
        text.ends_with("Result: some expectations not verified (this is not a pass)\n"),
        "{text}"
    );

    // A profile of the user's own: one expectation met, one not, one that cannot be evaluated.
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("own.toml");
    std::fs::write(
        &profile,
        "[profile]\nid = 'own'\ntitle = { ja = '独自の確認', en = 'Own check' }\n\
         [[expect]]\nid = 'up'\ncontrols = ['CL-R7-2-1']\ncondition = 'host.status.state == \"up\"'\n\
         title = { ja = '稼働している', en = 'Is up' }\nremediation = { ja = '起動する', en = 'Start it' }\n\
         [[expect]]\nid = 'no-services'\ncontrols = ['GL6-SO-8.1']\ncondition = 'size(host.services) == 0'\n\
         title = { ja = 'サービスがない', en = 'No services' }\nremediation = { ja = '止める', en = 'Stop them' }\n\
         [[expect]]\nid = 'broken'\ncontrols = ['GL6-SO-8.1']\ncondition = \"host.vendor.startsWith('x')\"\n\
         title = { ja = '評価できない', en = 'Cannot be evaluated' }\nremediation = { ja = '直す', en = 'Fix it' }\n",
    )
    .expect("write profile");
    let good = repo().join("fixtures/policy/good.json");
    for lang in ["ja", "en"] {
        let o = clinicscan(&[
            "--lang",
            lang,
            "precheck",
            "--profile",
            profile.to_str().expect("utf-8 path"),
            "--observation",
            good.to_str().expect("utf-8 path"),
            "10.77.20.21",
        ]);
        assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
        snapshot(&format!("precheck.own.{lang}.txt"), &o.stdout);
    }
}

/// Two sites scan into one history; `fleet` shows both, `history` keeps them apart, and
/// `-f jsonl` gives events that validate against the checked-in event schema.
#[test]
fn two_sites_one_history_fleet_and_events() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fleet.sqlite");
    let db = db.to_str().expect("utf-8");
    let mut sites = Vec::new();
    for (id, name) in [("tokyo-01", "さくら内科"), ("osaka-02", "うめだ眼科")] {
        let path = dir.path().join(format!("{id}.toml"));
        std::fs::write(
            &path,
            format!(
                "[site]\nname = \"{name}\"\nid = \"{id}\"\nvantage_zone = \"general\"\n[zones.general]\ncidrs = [\"127.0.0.0/8\"]\n"
            ),
        )
        .expect("site file");
        sites.push(path);
    }
    for site in &sites {
        let site = site.to_str().expect("utf-8");
        let o = clinicscan(&[
            "scan",
            "127.0.0.1",
            "-p",
            &port,
            "--no-probes",
            "--db",
            db,
            "--site",
            site,
            "-f",
            "json",
            "--fail-on",
            "never",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = clinicscan(&["fleet", "--db", db, "-f", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fleet: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(fleet["schema"], "clinicscan/fleet/v1");
    let ids: Vec<&str> = fleet["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s["site_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["osaka-02", "tokyo-01"]);
    let o = clinicscan(&["fleet", "--db", db, "--lang", "en", "-f", "table"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("tokyo-01") && text.contains("osaka-02"),
        "{text}"
    );
    let html = dir.path().join("fleet.html");
    let o = clinicscan(&["fleet", "--db", db, "-o", html.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("<html lang=\"ja\">") && page.contains("うめだ眼科"));
    // Listing one site shows only its scan; the two sites' scans are never diffed.
    let o = clinicscan(&["history", "list", "--db", db, "--site-id", "osaka-02"]);
    let list = String::from_utf8_lossy(&o.stdout);
    assert!(
        list.contains("うめだ眼科") && !list.contains("さくら内科"),
        "{list}"
    );
    let o = clinicscan(&["history", "diff", "1", "2", "--db", db]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("never compared"), "{}", stderr(&o));

    // JSON Lines events against the schema.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("crates/report/schemas/event.v1.json"))
            .expect("schema"),
    )
    .expect("JSON");
    let v = jsonschema::validator_for(&schema).expect("valid schema");
    let site = sites[0].to_str().expect("utf-8");
    let o = clinicscan(&[
        "scan",
        "127.0.0.1",
        "-p",
        &port,
        "--no-probes",
        "--no-history",
        "--site",
        site,
        "-f",
        "jsonl",
        "--fail-on",
        "never",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let mut findings = 0;
    for line in text.lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        assert_valid(&v, &e);
        assert_eq!(e["clinicscan"]["site"]["id"], "tokyo-01");
        findings += usize::from(e["event"]["dataset"] == "clinicscan.finding");
    }
    assert!(
        findings > 0,
        "the open port's host is at least an inventory finding"
    );
    drop(listener);
}

/// A history database written before Assessments carried their evidence (schema v1, with
/// `partial` and `not-observed` controls) still shows, diffs and reports: its controls read
/// as not verified, with no evidence.
#[test]
fn history_of_schema_v1_assessments_still_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("old.sqlite");
    let db_s = db.to_str().expect("utf-8");
    for _ in 0..2 {
        let o = clinicscan(&[
            "scan",
            "127.0.0.1",
            "-p",
            &port,
            "--no-probes",
            "--db",
            db_s,
            "-f",
            "json",
            "--fail-on",
            "never",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // Rewrite the stored Assessments as clinicscan wrote them before v2.
    let conn = rusqlite::Connection::open(&db).expect("open");
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT id, assessment_json FROM scans")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 2);
    for (id, json) in rows {
        let mut a: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        a["schema"] = "clinicscan/assessment/v1".into();
        let obj = a.as_object_mut().expect("object");
        obj.remove("coverage");
        obj.remove("data");
        for (i, c) in obj["controls"]
            .as_array_mut()
            .expect("controls")
            .iter_mut()
            .enumerate()
        {
            let c = c.as_object_mut().expect("control");
            for k in ["findings", "checked", "missing"] {
                c.remove(k);
            }
            if c["status"] == "not-verified" {
                c.insert(
                    "status".into(),
                    if i % 2 == 0 {
                        "partial"
                    } else {
                        "not-observed"
                    }
                    .into(),
                );
            }
        }
        conn.execute(
            "UPDATE scans SET assessment_json = ?1 WHERE id = ?2",
            rusqlite::params![a.to_string(), id],
        )
        .expect("update");
    }
    drop(conn);
    let o = clinicscan(&[
        "--lang",
        "en",
        "history",
        "--db",
        db_s,
        "show",
        "1",
        "-f",
        "table",
        "--fail-on",
        "never",
    ]);
    assert!(o.status.success(), "history show: {}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Not verified"));
    let o = clinicscan(&[
        "--lang",
        "en",
        "history",
        "--db",
        db_s,
        "show",
        "latest",
        "-f",
        "json",
        "--fail-on",
        "never",
    ]);
    assert!(o.status.success(), "history show: {}", stderr(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(a["schema"], "clinicscan/assessment/v2");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\"partial\""));
    assert_valid(&validator("assessment.v2.json"), &a);
    let o = clinicscan(&["--lang", "en", "history", "--db", db_s, "diff", "1", "2"]);
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "history diff: {}",
        stderr(&o)
    );
    drop(listener);
}

/// A site audit: one scan recorded from the general zone; `report` assesses it and names
/// the zones never scanned. A public address the site does not declare is refused before
/// any packet, and the site's own public address is named in the refusal's hint.
#[test]
fn site_report_names_the_vantage_zones_never_scanned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        r#"
[site]
name = "audit"

[zones.general]
cidrs = ["127.0.0.0/8"]

[zones.oqv]
cidrs = ["10.99.30.0/24"]

[zones.guest]
cidrs = ["10.99.50.0/24"]

[zones.outside]
kind = "internet"

[zones.wan]
kind = "edge"
public = true
cidrs = ["198.51.100.20"]
"#,
    )
    .expect("write site");
    let db = dir.path().join("history.sqlite");
    let (site_s, db_s) = (site.to_str().expect("utf-8"), db.to_str().expect("utf-8"));
    let port = closed_port().to_string();
    let o = clinicscan(&[
        "--lang",
        "en",
        "scan",
        "127.0.0.1",
        "-p",
        &port,
        "--no-probes",
        "--site",
        site_s,
        "--vantage-zone",
        "general",
        "--db",
        db_s,
        "--fail-on",
        "never",
        "-f",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = clinicscan(&[
        "--lang",
        "en",
        "report",
        "--site",
        site_s,
        "--db",
        db_s,
        "--max-age",
        "30d",
        "--fail-on",
        "never",
        "-f",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_valid(&validator("assessment.v2.json"), &a);
    let state = |zone: &str| {
        a["vantages"]
            .as_array()
            .expect("vantages")
            .iter()
            .find(|v| v["zone"] == zone)
            .map(|v| v["state"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(state("general").as_deref(), Some("current"));
    assert_eq!(state("oqv").as_deref(), Some("never-scanned"));
    assert_eq!(state("guest").as_deref(), Some("never-scanned"));
    assert_eq!(state("outside").as_deref(), Some("never-scanned"));
    assert_eq!(
        state("wan"),
        None,
        "the clinic's public address is no vantage"
    );
    assert_eq!(a["observations"].as_array().map(Vec::len), Some(1));

    let o = clinicscan(&[
        "--lang",
        "en",
        "report",
        "--site",
        site_s,
        "--db",
        db_s,
        "--fail-on",
        "never",
        "-f",
        "markdown",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("| oqv | oqv | never scanned (a scan from this zone is needed) |"),
        "{text}"
    );

    // Another public address, not the clinic's: refused before any packet.
    let o = clinicscan(&["scan", "198.51.100.21", "--site", site_s, "--no-history"]);
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains("198.51.100.21") && err.contains("allow"),
        "{err}"
    );
}

/// The inspection checklist from `assess`: the HTML form answers each item from the
/// controls' verdicts, `-o FILE.xlsx` writes the workbook, `--previous` fills the first
/// round with the earlier scan's answers and date; `precheck -f checklist` gives the
/// vendor's form with the pre-check's evidence and answers none of its items.
#[test]
fn the_checklist_from_assess_and_precheck() {
    let dir = tempfile::tempdir().expect("temp dir");
    let obs = [
        "fixtures/policy/lab-general.json",
        "fixtures/policy/clean-clinical.json",
        "fixtures/policy/clean-guest.json",
        "fixtures/policy/clean-oqv.json",
    ];
    let assess = |extra: &[&str]| {
        let mut args = vec![
            "assess",
            "--site",
            "fixtures/policy/lab-site.toml",
            "--fail-on",
            "never",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&obs);
        let o = clinicscan(&args);
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        o
    };
    let html = String::from_utf8(assess(&["-f", "checklist"]).stdout).expect("UTF-8");
    assert!(html.contains("令和7年度版 医療機関確認用"));
    for (number, answer) in [
        ("1-①", ""),
        ("2-①", "No"),
        ("2-②", "To confirm"),
        ("2-⑫", "Yes"),
        ("2-⑬", "No"),
    ] {
        assert!(
            html.contains(&format!(
                "<tr data-number=\"{number}\" data-answer=\"{answer}\" "
            )),
            "{number} is not answered {answer:?}"
        );
    }

    let xlsx = dir.path().join("checklist.xlsx");
    assess(&["-o", xlsx.to_str().expect("utf-8 path")]);
    let bytes = std::fs::read(&xlsx).expect("workbook written");
    assert!(bytes.starts_with(b"PK"), "an .xlsx is a zip file");

    // The earlier scan: the general LAN only, a week before.
    let earlier = dir.path().join("earlier.json");
    let o = clinicscan(&[
        "assess",
        "--site",
        "fixtures/policy/lab-site.toml",
        "--fail-on",
        "never",
        "-f",
        "json",
        "fixtures/policy/lab-general.json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    for o in a["observations"].as_array_mut().expect("observations") {
        o["started"] = serde_json::json!("2026-11-13T01:00:00Z");
    }
    std::fs::write(&earlier, serde_json::to_vec(&a).expect("JSON")).expect("write");
    let html = String::from_utf8(
        assess(&[
            "-f",
            "checklist",
            "--previous",
            earlier.to_str().expect("utf-8 path"),
        ])
        .stdout,
    )
    .expect("UTF-8");
    let row = html
        .split("<tr data-number=\"2-⑬\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("row 2-⑬");
    assert!(
        row.find("2026-11-13")
            .expect("first round: the earlier scan")
            < row.find("2026-11-20").expect("second round: this scan"),
        "{row}"
    );
    let o = clinicscan(&[
        "assess",
        "-f",
        "checklist",
        "--previous",
        "fixtures/policy/lab-general.json",
        "fixtures/policy/lab-general.json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an Observation is not an assessment"
    );

    let fixture = repo().join("fixtures/policy/precheck-terminal.json");
    let o = clinicscan(&[
        "precheck",
        "--profile",
        "oqv-terminal",
        "--observation",
        fixture.to_str().expect("utf-8 path"),
        "10.77.30.10",
        "-f",
        "checklist",
    ]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let html = String::from_utf8_lossy(&o.stdout);
    assert!(html.contains("事業者確認用"), "{html}");
    assert!(html.contains("項目の文言は参照資料になし"), "{html}");
    assert!(
        html.contains("[不適合]"),
        "the RDP expectation fails: {html}"
    );
    assert!(!html.contains("data-answer=\"Yes\"") && !html.contains("data-answer=\"No\""));
}
