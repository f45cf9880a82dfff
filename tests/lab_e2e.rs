//! The clinic lab, end to end: bring the lab up (network namespaces, real daemons), prove
//! its ground truth with real clients, run clinicscan from the scanner namespaces, compare
//! the Observations with the ground truth, check the assessment's segmentation verdicts in
//! both lab variants, scheduled runs with history and email across a fix and across a
//! service that refuses the scanner ("not re-checked", never "resolved"), and take the lab
//! down.
//!
//! Needs root (namespaces) and the lab's Debian packages (`scripts/install-deps`); see
//! `clinicscan_testlab` for when it does not run (under CI that is a failure).
//! Traffic stays inside namespaces the lab script creates; nothing leaves the machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod lab_common;
use lab_common::{
    LAB_SITE, LAB_ZONES, Smtp, assess, assess_with, bin, check, clinic_lab, clinicscan_in,
    findings, history_diff, repo, rules_and_hosts, run, scan_from, scheduled_scan, vnc_client,
};

/// Every TCP SYN that reaches one lab host while it runs (tcpdump inside the host's own
/// namespace): the device's view of how hard it was scanned. Stopped by pid.
struct SynCapture {
    child: std::process::Child,
    out: PathBuf,
}

impl SynCapture {
    fn start(ns: &str, addr: &str, out: &Path) -> SynCapture {
        let file = std::fs::File::create(out).expect("capture file");
        let child = Command::new("ip")
            .args([
                "netns", "exec", ns, "tcpdump", "-i", "eth0", "-n", "-tt", "-l", "-U",
            ])
            .arg(format!(
                "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst host {addr}"
            ))
            .stdout(file)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tcpdump (scripts/install-deps)");
        // tcpdump needs a moment to open the capture.
        std::thread::sleep(std::time::Duration::from_millis(700));
        SynCapture {
            child,
            out: out.to_path_buf(),
        }
    }

    /// Stops the capture; the arrival time of every SYN, in seconds.
    fn stop(mut self) -> Vec<f64> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.out)
            .expect("capture")
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }
}

impl Drop for SynCapture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn compare(obs: &Path, vantage: &str) {
    let o = run(Command::new("python3")
        .arg(repo().join("tests/lab/compare.py"))
        .arg(obs)
        .args(["--vantage", vantage]));
    print!("{}", String::from_utf8_lossy(&o.stdout));
    check(&format!("compare.py --vantage {vantage}"), &o);
}

/// The device saw SYNs no closer together than the pace allows (less a little timer
/// jitter), no faster than `per_second` on average, and no burst in any second.
fn check_gentle_pace(syns: &[f64], per_second: f64) {
    assert!(
        syns.len() >= 20,
        "the modality saw only {} SYNs: was it scanned?",
        syns.len()
    );
    let gap = 1.0 / per_second;
    let min_gap = syns
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let max_in_window = syns
        .iter()
        .enumerate()
        .map(|(i, t)| syns[i..].iter().take_while(|u| **u < t + 1.0).count())
        .max()
        .unwrap_or(0);
    let span = syns[syns.len() - 1] - syns[0];
    eprintln!(
        "modality: {} SYNs over {span:.1} s, {:.2}/s on average, at most {max_in_window} in \
         any second, closest two {:.0} ms apart (limit {per_second}/s)",
        syns.len(),
        syns.len() as f64 / span.max(f64::EPSILON),
        min_gap * 1000.0
    );
    assert!(
        min_gap >= gap * 0.9,
        "two SYNs {:.0} ms apart at the modality (pace {:.0} ms)",
        min_gap * 1000.0,
        gap * 1000.0
    );
    // A closed one-second window holds the pace's N SYNs plus the one on its far edge.
    assert!(
        max_in_window as f64 <= per_second.ceil() + 1.0,
        "{max_in_window} SYNs in one second at the modality (limit {per_second})"
    );
    let average = (syns.len() - 1) as f64 / span.max(f64::EPSILON);
    assert!(
        average <= per_second * 1.05,
        "{average:.2} SYNs a second at the modality on average (limit {per_second})"
    );
}

/// Every status carries its evidence: a pass lists what was checked (in an Observation of
/// this assessment, with hosts or a zone pair), a fail its findings, a not-verified control
/// what it lacks.
fn check_every_verdict_has_its_evidence(a: &serde_json::Value) {
    let observations: Vec<&str> = a["observations"]
        .as_array()
        .expect("observations")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    let mut passes = 0;
    for c in a["controls"].as_array().expect("controls") {
        let id = c["id"].as_str().unwrap_or_default();
        let list = |k: &str| c[k].as_array().cloned().unwrap_or_default();
        match c["status"].as_str() {
            Some("pass") => {
                passes += 1;
                let checked = list("checked");
                assert!(!checked.is_empty(), "{id} passes without evidence");
                assert!(
                    list("missing").is_empty(),
                    "{id} passes missing {:?}",
                    c["missing"]
                );
                for ch in checked {
                    assert!(
                        observations.contains(&ch["observation_id"].as_str().unwrap_or_default()),
                        "{id}: {ch}"
                    );
                    assert!(
                        ch["subjects"].as_array().is_some_and(|s| !s.is_empty())
                            || ch["zone_pair"].is_object(),
                        "{id}: a check of nothing: {ch}"
                    );
                }
            }
            Some("fail") => assert!(!list("findings").is_empty(), "{id} fails without findings"),
            Some("not-verified") => {
                assert!(
                    !list("missing").is_empty(),
                    "{id} not verified without a reason"
                )
            }
            Some("not-assessable-by-scan") => {}
            other => panic!("{id}: status {other:?}"),
        }
    }
    eprintln!("lab: {passes} controls pass, each with its evidence listed");
}

/// The R7 checklist of the same assessment, item by item, against the lab's truth
/// (`[checklist]` in tests/lab/ground-truth.toml); the workbook is written too.
fn check_checklist(obs: &[&Path]) {
    let truth: toml::Table = toml::from_str(
        &std::fs::read_to_string(repo().join("tests/lab/ground-truth.toml")).expect("truth"),
    )
    .expect("truth TOML");
    let expected = truth["checklist"].as_table().expect("[checklist]");
    let mut cmd = Command::new(bin());
    cmd.args([
        "assess",
        "--site",
        LAB_SITE,
        "-f",
        "checklist",
        "--fail-on",
        "never",
    ])
    .args(obs)
    .current_dir(repo());
    let o = run(&mut cmd);
    check("clinicscan assess -f checklist", &o);
    let html = String::from_utf8_lossy(&o.stdout);
    let mut got = BTreeMap::new();
    for row in html.split("<tr data-number=").skip(1) {
        let attr = |name: &str| {
            row.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
        };
        let answer = match attr("data-answer") {
            Some("Yes") => "yes",
            Some("No") => "no",
            Some("To confirm") => "to-confirm",
            Some("") => "blank",
            other => panic!("unexpected answer {other:?}"),
        };
        got.insert(attr("data-control").unwrap_or_default().to_string(), answer);
    }
    let want: BTreeMap<String, &str> = expected
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("an answer")))
        .collect();
    assert_eq!(got, want, "the lab's checklist answers");
    let xlsx = obs[0].with_extension("xlsx");
    let mut cmd = Command::new(bin());
    cmd.args(["assess", "--site", LAB_SITE, "--fail-on", "never", "-o"])
        .arg(&xlsx)
        .args(obs)
        .current_dir(repo());
    check("clinicscan assess -o checklist.xlsx", &run(&mut cmd));
    assert!(std::fs::read(&xlsx).expect("workbook").starts_with(b"PK"));
    eprintln!(
        "lab: checklist answers match the truth for {} items",
        want.len()
    );
}

fn status_of<'a>(a: &'a serde_json::Value, id: &str) -> &'a str {
    a["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("{id} not listed"))
}

fn missing_texts(a: &serde_json::Value, id: &str) -> Vec<String> {
    a["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["missing"].as_array())
        .map(|m| {
            m.iter()
                .filter_map(|x| x["text"]["en"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `clinicscan precheck --profile oqv-terminal HOST` from the general LAN's scanner.
fn precheck_from_general(host: &str) -> Output {
    clinicscan_in(
        "cs-scanner",
        &[
            "--lang",
            "en",
            "precheck",
            "--profile",
            "oqv-terminal",
            "-p",
            "3389",
            host,
        ],
    )
}

fn has_finding_on(a: &serde_json::Value, host: &str, port: u64, rule: &str) -> bool {
    findings(a)
        .iter()
        .any(|(r, h, p)| h == host && *p == Some(port) && r == rule)
}

#[test]
fn clinic_lab_end_to_end() {
    // Taken down when the test ends, also on a panic.
    let Some(lab) = clinic_lab() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");

    // 1. The ground truth is true: real clients (openssl, smbclient, snmpget, echoscu...).
    let o = run(Command::new(repo().join("tests/lab/verify")).arg("-q"));
    check("tests/lab/verify", &o);

    // 2. clinicscan from the general LAN and from guest Wi-Fi agrees with the ground truth.
    //    Meanwhile the modality counts the SYNs it receives: the site file gives the
    //    medical-device zone its gentle default (5 new connections a second, one at a time).
    let general = tmp.path().join("general.json");
    let capture = SynCapture::start("cs-modality", "10.77.40.10", &tmp.path().join("syn.txt"));
    scan_from("cs-scanner", &general, LAB_ZONES);
    check_gentle_pace(&capture.stop(), 5.0);
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
    // The facts the probes used to miss, each a finding on its lab daemon: the printer's
    // raw port (its SNMP agent says it is a printer; no byte is sent to 9100), no TLS 1.3 on
    // the PACS viewer, no HSTS on the SSL-VPN login page; and VNC without a password.
    for (host, port, rule) in [
        ("10.77.10.40", 9100, "printer-raw-port-open"),
        ("10.77.20.20", 443, "tls13-not-offered"),
        ("10.77.60.30", 443, "http-hsts-missing"),
        ("10.77.10.20", 5900, "vnc-no-auth"),
        ("10.77.20.40", 22, "ssh-password-auth"),
        // ocserv, a real AnyConnect-compatible SSL-VPN: recognised, its version unknown
        ("10.77.60.40", 443, "ssl-vpn-version-unknown"),
    ] {
        assert!(
            has_finding_on(&a, host, port, rule),
            "no {rule} on {host}:{port}: {:#?}",
            findings(&a)
        );
    }
    // Nothing refused the scanner; the EMR's PostgreSQL (SCRAM over TLS) and its key-only
    // SSH are no findings.
    assert!(
        !findings(&a).iter().any(|(r, h, p)| r == "scanner-refused"
            || (h == "10.77.20.10" && *p == Some(5432) && r.starts_with("postgres-"))
            || (h == "10.77.20.10" && r == "ssh-password-auth")),
        "{:#?}",
        findings(&a)
    );

    // 2b. TigerVNC black-marks every connection that does not authenticate and refuses an
    //     address after five: scan its port seven times more; every scan must still see
    //     the VNC server without a password (the probe completes a viewer's handshake).
    for round in 1..=7 {
        let obs = tmp.path().join(format!("vnc-{round}.json"));
        scan_from("cs-scanner", &obs, &["-p", "5900", "10.77.10.20"]);
        let o: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&obs).expect("vnc scan")).expect("JSON");
        let vnc = o["hosts"]
            .as_array()
            .and_then(|h| h.first())
            .and_then(|h| h["services"].as_array())
            .and_then(|s| s.iter().find(|s| s["port"] == 5900))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            vnc["facts"]["vnc"]["no_auth"],
            serde_json::Value::Bool(true),
            "VNC scan {round}: {vnc:#}"
        );
    }
    // From every vantage the lab has (the general LAN and guest Wi-Fi): no pass without
    // its evidence, and the オン資 controls say what they lack or why they fail.
    check_every_verdict_has_its_evidence(&a);
    assert_eq!(status_of(&a, "ONS-2"), "fail");
    assert_eq!(status_of(&a, "CL-R7-2-13"), "fail");
    assert_eq!(status_of(&a, "ONS-1"), "not-verified");
    assert!(
        missing_texts(&a, "ONS-1").contains(&"scan from zone oqv".to_string()),
        "{:?}",
        missing_texts(&a, "ONS-1")
    );
    assert_eq!(status_of(&a, "ONS-3"), "not-verified");
    let cov = &a["coverage"];
    let cell = |f: &str, t: &str| {
        cov["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .find(|c| c["from"] == f && c["to"] == t)
            .and_then(|c| c["state"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(cell("general", "oqv"), "violation");
    assert_eq!(cell("guest", "general"), "violation");
    assert_eq!(cell("guest", "oqv"), "probed-clean");
    assert_eq!(cell("clinical", "oqv"), "not-probed");
    check_checklist(&[&general, &guest]);

    // 3a. The small clinic whose オン資 terminal sits on the staff LAN: the same scan, with a
    //     site file declaring the reception PC (10.77.10.20) the terminal. Sharing the LAN
    //     is a finding, and its VNC reachable from its neighbours is judged as into オン資.
    let t = assess_with("fixtures/policy/lab-site-terminal.toml", &[&general]);
    let keys: Vec<&str> = t["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["key"].as_str())
        .collect();
    for k in [
        "oqv-terminal-shares-zone|10.77.10.20",
        "oqv-remote-access-reachable|10.77.10.20|tcp/5900|from:general",
    ] {
        assert!(keys.contains(&k), "{k} missing: {keys:#?}");
    }
    assert_eq!(status_of(&t, "ONS-2"), "fail");
    check_every_verdict_has_its_evidence(&t);

    // 3b. The vendor pre-check of the terminals from the general LAN: 10.77.30.10 answers
    //     (RDP open: not met, the other ports filtered while it answers: met); the isolated
    //     terminal answers nothing from there, so nothing is verified (exit 2).
    let o = precheck_from_general("10.77.30.10");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("[FAIL] no-rdp"), "{text}");
    assert!(text.contains("ports: 3389/tcp open"), "{text}");
    assert!(text.contains("[PASS] no-smb"), "{text}");
    assert!(
        text.contains("139/tcp filtered, 445/tcp filtered"),
        "{text}"
    );
    let o = precheck_from_general("10.77.30.20");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(
        text.contains("The host never answered: nothing was verified."),
        "{text}"
    );
    assert!(!text.contains("[PASS]"), "{text}");

    // 4. A scheduled run across a change: scan the オン資 segment into a history database
    //    with email to a real SMTP server, fix the clinic (isolated variant), scan again.
    //    From the general LAN the isolated terminal is no longer seen at all, which a scan
    //    cannot tell from a terminal switched off: the violation is "not re-checked (host
    //    not seen)", never resolved, and both messages reach the server.
    let db = tmp.path().join("history.sqlite");
    let maildir = tmp.path().join("mail");
    let smtp = Smtp::start(&maildir);
    let oqv = ["10.77.30.0/24"];
    let first = tmp.path().join("run1.json");
    scheduled_scan(&db, &first, None, &oqv);
    let o = run(Command::new(repo().join("tests/lab/up")).args(["--variant", "isolated"]));
    check("tests/lab/up --variant isolated", &o);
    let second = tmp.path().join("run2.json");
    scheduled_scan(&db, &second, None, &oqv);

    // The fixed clinic: the same scan of the オン資 segment confirms nothing to report.
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&second).expect("second report")).expect("JSON");
    assert!(
        !findings(&a)
            .iter()
            .any(|(_, h, p)| h.starts_with("10.77.30.") && p.is_some()),
        "the isolated variant still shows reachable オン資 services: {:#?}",
        findings(&a)
    );
    // The history says what changed, and what could not be checked.
    let (code, diff) = history_diff(&db, "1", "2");
    assert_eq!(code, Some(1), "history diff exits 1 on changes");
    let violation = (
        "oqv-remote-access-reachable".to_string(),
        "10.77.30.10".to_string(),
    );
    assert!(
        !rules_and_hosts(&diff["resolved_findings"]).contains(&violation),
        "a terminal the scan no longer sees reads as fixed: {}",
        diff["resolved_findings"]
    );
    let carried = &diff["not_rechecked_findings"];
    assert!(
        rules_and_hosts(carried).contains(&violation),
        "the violation is not carried as not re-checked: {carried}"
    );
    assert!(
        carried
            .as_array()
            .expect("list")
            .iter()
            .all(|c| c["reason"]["kind"] == "host-not-seen"),
        "the terminal was not seen, nothing else: {carried}"
    );
    assert!(
        diff["new_findings"]
            .as_array()
            .is_some_and(|n| n.is_empty()),
        "the fix added findings: {}",
        diff["new_findings"]
    );
    // Two runs with changes (the first has no predecessor): two messages delivered, the
    // second naming what could not be re-checked, with the HTML report attached.
    let mails = smtp.messages(2);
    assert_eq!(mails.len(), 2, "messages delivered: {mails:#?}");
    let last = &mails[1];
    assert!(
        last.lines().any(|l| l.contains("Not re-checked")
            && l.contains("10.77.30.10:3389/tcp")
            && l.contains("the host was not seen this run")),
        "second message does not say the terminal was not re-checked:\n{last}"
    );
    assert!(
        last.contains("attachment: text/html"),
        "no HTML report attached:\n{last}"
    );

    // 5. A service that refuses the scanner is not re-checked, never resolved: the
    //    reception PC's TigerVNC answers the first scheduled run (critical: no
    //    authentication), then refuses this address ("Too many security failures", its
    //    blacklist after unauthenticated connections, as when someone keeps failing logins
    //    from here), answers again once it lets this address in.
    refused_service_is_not_rechecked(tmp.path(), &smtp);
    drop(smtp);

    // 6. Nothing was ever sent to the raw printer port.
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

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Step 5 of the end-to-end test: three scheduled runs of the reception PC into their own
/// history, the second while TigerVNC refuses the scanner. `smtp` already holds the two
/// messages of step 4.
fn refused_service_is_not_rechecked(tmp: &Path, smtp: &Smtp) {
    const VNC_NO_AUTH: &str = "vnc-no-auth";
    let db = tmp.join("refusal.sqlite");
    let uketsuke = ["10.77.10.20"];
    let run_files = |n: u32| {
        (
            tmp.join(format!("refusal{n}.json")),
            tmp.join(format!("refusal{n}.observation.json")),
        )
    };
    let vnc_findings = |a: &serde_json::Value| {
        findings(a)
            .into_iter()
            .filter(|(r, _, _)| r == VNC_NO_AUTH)
            .count()
    };

    let (report1, obs1) = run_files(1);
    scheduled_scan(&db, &report1, Some(&obs1), &uketsuke);
    assert_eq!(
        vnc_findings(&json_file(&report1)),
        1,
        "the first run does not report VNC without authentication"
    );

    let refused = vnc_client("block");
    assert!(
        refused.contains("Too many security failures"),
        "TigerVNC does not refuse the scanner: {refused}"
    );
    let (report2, obs2) = run_files(2);
    scheduled_scan(&db, &report2, Some(&obs2), &uketsuke);
    // The probe met the refusal: no fact about authentication this run.
    let observation = json_file(&obs2);
    let vnc = observation["hosts"][0]["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["port"] == 5900)
        .cloned()
        .expect("5900 open on the second run");
    assert!(
        vnc["facts"]["vnc"]["no_auth"].is_null(),
        "the refused probe still tells no_auth: {vnc}"
    );
    let refused_by_peer = vnc["probe_errors"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["kind"] == "refused-by-peer"));
    let report = json_file(&report2);
    assert_eq!(vnc_findings(&report), 0);
    let carried = report["not_rechecked"]
        .as_array()
        .expect("the second run carries what it could not check")
        .iter()
        .find(|c| c["finding"]["rule_id"] == VNC_NO_AUTH)
        .cloned()
        .unwrap_or_else(|| panic!("VNC not carried: {}", report["not_rechecked"]));
    // The reason is the probe's: the refusal where the probe records it as such, else the
    // missing fact.
    let expected = if refused_by_peer {
        "refused-scanner"
    } else {
        "facts-missing"
    };
    assert_eq!(carried["reason"]["kind"], expected, "{carried}");
    // No control the finding evidences passes on a run that could not look.
    for control in report["controls"].as_array().expect("controls") {
        let cited = carried["finding"]["controls"]
            .as_array()
            .expect("controls")
            .contains(&control["id"]);
        assert!(
            !(cited && control["status"] == "pass"),
            "{} passes on a refused probe",
            control["id"]
        );
    }

    // history diff: not re-checked, never resolved; a change (exit 1).
    let (code, diff) = history_diff(&db, "1", "2");
    assert_eq!(code, Some(1), "a newly not re-checked finding is a change");
    let vnc_key = |list: &serde_json::Value| {
        rules_and_hosts(list)
            .iter()
            .any(|(r, h)| r == VNC_NO_AUTH && h == "10.77.10.20")
    };
    assert!(!vnc_key(&diff["resolved_findings"]), "{diff}");
    assert!(!vnc_key(&diff["new_findings"]), "{diff}");
    assert!(vnc_key(&diff["not_rechecked_findings"]), "{diff}");
    let o = run(Command::new(bin())
        .args(["--lang", "en", "history", "--db"])
        .arg(&db)
        .args(["diff", "1", "2"]));
    let text = String::from_utf8_lossy(&o.stdout);
    let section = text
        .split("\n\n")
        .find(|s| s.starts_with("Not re-checked (1)"))
        .unwrap_or_else(|| panic!("no not re-checked section:\n{text}"));
    assert!(section.contains("(vnc-no-auth)"), "{text}");
    let o = run(Command::new(bin())
        .args(["--lang", "ja", "history", "--db"])
        .arg(&db)
        .args(["show", "latest", "-f", "table"]));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.contains("再確認できず") && l.contains("10.77.10.20:5900/tcp")),
        "history show does not list it as not re-checked:\n{shown}"
    );

    // The changes-only email says so: "not re-checked" with the reason, never "resolved".
    let mails = smtp.messages(4);
    assert_eq!(mails.len(), 4, "messages delivered: {mails:#?}");
    let mail = &mails[3];
    let subject = mail.lines().next().unwrap_or_default();
    assert!(subject.contains("Not re-checked 1"), "{subject}");
    assert!(
        mail.lines()
            .any(|l| l.starts_with("・Not re-checked [Critical]")
                && l.contains("10.77.10.20:5900/tcp")),
        "the email does not list the VNC finding as not re-checked:\n{mail}"
    );
    assert!(
        !mail
            .lines()
            .any(|l| l.contains("Resolved:") && l.contains("10.77.10.20")),
        "the email reads the refused probe as resolved:\n{mail}"
    );

    // TigerVNC lets this address in again (after its timeout, one authenticated client
    // clears the marks): the finding is confirmed again — unchanged, not new — and that is
    // no change, so no third message.
    vnc_client("clear");
    let (report3, obs3) = run_files(3);
    scheduled_scan(&db, &report3, Some(&obs3), &uketsuke);
    assert_eq!(vnc_findings(&json_file(&report3)), 1);
    let (code, diff) = history_diff(&db, "2", "3");
    assert!(vnc_key(&diff["unchanged_findings"]), "{diff}");
    assert!(!vnc_key(&diff["new_findings"]), "{diff}");
    // The refusal was a finding of its own in the refused run (scanner-refused): now that
    // the server answers it is resolved, and that is the only change.
    let resolved: Vec<&str> = diff["resolved_findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["key"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(resolved, ["scanner-refused|10.77.10.20|tcp/5900"], "{diff}");
    for k in [
        "new_findings",
        "not_rechecked_findings",
        "hosts_appeared",
        "hosts_vanished",
    ] {
        assert!(
            diff[k].as_array().is_none_or(|a| a.is_empty()),
            "{k}: {diff}"
        );
    }
    assert_eq!(code, Some(1), "only the refusal resolved: {diff}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        smtp.messages(4).len() <= 5,
        "more than the refusal's resolution was emailed"
    );
}
