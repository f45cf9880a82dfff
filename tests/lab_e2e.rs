//! The clinic lab, end to end: bring the lab up (network namespaces, real daemons), prove
//! its ground truth with real clients, run clinicscan from the scanner namespaces, compare
//! the Observations with the ground truth, check the assessment's segmentation verdicts in
//! both lab variants, and take the lab down.
//!
//! Needs root (namespaces) and the lab's Debian packages (`scripts/install-deps`); see
//! `clinicscan_testlab` for when it does not run (under CI that is a failure).
//! Traffic stays inside namespaces the lab script creates; nothing leaves the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clinicscan_testlab::LabSpec;

fn repo() -> PathBuf {
    clinicscan_testlab::workspace()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_clinicscan")
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

/// A real SMTP server (Debian's aiosmtpd) on the scanner namespace's loopback, delivering
/// into a maildir; stopped when dropped.
struct Smtp {
    child: std::process::Child,
    maildir: PathBuf,
}

const SMTP_PORT: &str = "2525";

impl Smtp {
    fn start(maildir: &Path) -> Smtp {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                "cs-scanner",
                "/usr/bin/python3",
                "-m",
                "aiosmtpd",
                "-n",
            ])
            .args(["-l", &format!("127.0.0.1:{SMTP_PORT}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3-aiosmtpd (scripts/install-deps)");
        let smtp = Smtp {
            child,
            maildir: maildir.to_path_buf(),
        };
        // Ready once it created the maildir and listens (bounded wait).
        for _ in 0..100 {
            let listening = run(Command::new("ip").args([
                "netns",
                "exec",
                "cs-scanner",
                "ss",
                "-Hltn",
                &format!("sport = :{SMTP_PORT}"),
            ]));
            if maildir.join("new").is_dir() && !listening.stdout.is_empty() {
                return smtp;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("aiosmtpd did not start");
    }

    /// The delivered messages, oldest first, as "Subject:" plus decoded text parts and
    /// attachment types (parsed by Python's email package, a real MIME parser).
    fn messages(&self, expect: usize) -> Vec<String> {
        let script = r#"
import email, email.policy, os, sys
d = os.path.join(sys.argv[1], "new")
for name in sorted(os.listdir(d), key=lambda n: os.stat(os.path.join(d, n)).st_mtime_ns):
    m = email.message_from_binary_file(open(os.path.join(d, name), "rb"), policy=email.policy.default)
    print("Subject:", m["subject"])
    for part in m.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            print("attachment:", part.get_content_type(), part.get_filename())
        elif part.get_content_type() == "text/plain":
            print(part.get_content())
    print("\x1e")
"#;
        for _ in 0..50 {
            let o = run(Command::new("/usr/bin/python3")
                .args(["-c", script])
                .arg(&self.maildir));
            check("reading the maildir", &o);
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            let msgs: Vec<String> = text
                .split('\x1e')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(String::from)
                .collect();
            if msgs.len() >= expect {
                return msgs;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Vec::new()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run as a cron job would make it: history, email on changes, a JSON report file.
fn scheduled_scan(db: &Path, report: &Path) {
    let o = run(Command::new("ip")
        .args(["netns", "exec", "cs-scanner", bin()])
        .args([
            "--lang", "en", "--quiet", "scan", "--site", LAB_SITE, "--db",
        ])
        .arg(db)
        .args([
            "--email",
            "--email-on",
            "changes",
            "--fail-on",
            "never",
            "-o",
        ])
        .arg(report)
        .arg("10.77.30.0/24")
        .env("CLINICSCAN_SMTP_HOST", "127.0.0.1")
        .env("CLINICSCAN_SMTP_PORT", SMTP_PORT)
        .env("CLINICSCAN_SMTP_SECURITY", "plain")
        .env("CLINICSCAN_SMTP_FROM", "clinicscan@lab.invalid")
        .env("CLINICSCAN_SMTP_TO", "staff@lab.invalid")
        .current_dir(repo()));
    check("scheduled clinicscan scan", &o);
    // Quiet means quiet: nothing on the terminal when all went well.
    assert!(
        o.stdout.is_empty(),
        "quiet run printed: {}",
        String::from_utf8_lossy(&o.stdout)
    );
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
    assess_with(LAB_SITE, obs)
}

fn assess_with(site: &str, obs: &[&Path]) -> serde_json::Value {
    let mut cmd = Command::new(bin());
    cmd.args([
        "--lang",
        "en",
        "assess",
        "--site",
        site,
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
    let Some(lab) = LabSpec::commands(
        "clinic",
        [repo().join("tests/lab/up")],
        [repo().join("tests/lab/down")],
    )
    .start() else {
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
    //    The diff resolves the violation, and both messages reach the server.
    let db = tmp.path().join("history.sqlite");
    let maildir = tmp.path().join("mail");
    let smtp = Smtp::start(&maildir);
    let first = tmp.path().join("run1.json");
    scheduled_scan(&db, &first);
    let o = run(Command::new(repo().join("tests/lab/up")).args(["--variant", "isolated"]));
    check("tests/lab/up --variant isolated", &o);
    let second = tmp.path().join("run2.json");
    scheduled_scan(&db, &second);

    // The fixed clinic: the same scan of the オン資 segment finds nothing to report.
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&second).expect("second report")).expect("JSON");
    assert!(
        !findings(&a)
            .iter()
            .any(|(_, h, p)| h.starts_with("10.77.30.") && p.is_some()),
        "the isolated variant still shows reachable オン資 services: {:#?}",
        findings(&a)
    );
    // The history says what changed.
    let o = run(Command::new(bin())
        .args(["history", "--db"])
        .arg(&db)
        .args(["diff", "1", "2", "-f", "json"]));
    assert_eq!(o.status.code(), Some(1), "history diff exits 1 on changes");
    let diff: serde_json::Value = serde_json::from_slice(&o.stdout).expect("diff JSON");
    let resolved: Vec<(String, String)> = diff["resolved_findings"]
        .as_array()
        .expect("resolved_findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                f["host"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        resolved.contains(&("oqv-remote-access-reachable".into(), "10.77.30.10".into())),
        "the fix is not among the resolved findings: {resolved:?}"
    );
    assert!(
        diff["new_findings"]
            .as_array()
            .is_some_and(|n| n.is_empty()),
        "the fix added findings: {}",
        diff["new_findings"]
    );
    // Two runs with changes (the first has no predecessor): two messages delivered, the
    // second naming what was resolved, with the HTML report attached.
    let mails = smtp.messages(2);
    assert_eq!(mails.len(), 2, "messages delivered: {mails:#?}");
    let last = &mails[1];
    assert!(
        last.contains("10.77.30.10"),
        "second message does not name the host:\n{last}"
    );
    assert!(
        last.contains("attachment: text/html"),
        "no HTML report attached:\n{last}"
    );
    drop(smtp);

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
