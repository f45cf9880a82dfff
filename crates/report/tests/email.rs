//! Email end to end against a real SMTP server on loopback (Debian's python3-aiosmtpd,
//! driven by `fixtures/report/smtpd.py`): plain to loopback, STARTTLS and implicit TLS with
//! AUTH and a test CA, certificate verification failing without that CA, the outbox keeping
//! a message while the server is down and delivering it on the next call, and a sentinel
//! password that must never show up in an error, a report or the outbox.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use clinicscan_model::{Assessment, Lang, Observation};
use clinicscan_report::{
    EmailError, EmailSettings, Outbox, ReportInput, ScanDiff, Secret, Security, compose, deliver,
};
use common::{clinic_week, fixtures, load};

const PYTHON: &str = "/usr/bin/python3";

/// A test CA and a server certificate for 127.0.0.1, made with the openssl CLI.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pki(dir: &Path) -> Pki {
    let p = |n: &str| dir.join(n);
    std::fs::write(
        p("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=csm clinicscan test CA", "-keyout"])
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(p("key.pem"))
        .arg("-out")
        .arg(p("leaf.csr")));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
        .arg(p("leaf.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("cert.pem"))
        .arg("-extfile")
        .arg(p("ext.cnf")));
    Pki {
        ca: p("ca.pem"),
        cert: p("cert.pem"),
        key: p("key.pem"),
    }
}

/// An SMTP server started by the test; killed (by its pid) when dropped.
struct Server {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Server {
    fn start(dir: &Path, mode: &str, pki: Option<&Pki>, auth: Option<(&str, &str)>) -> Server {
        Server::start_limited(dir, mode, pki, auth, None)
    }

    fn start_limited(
        dir: &Path,
        mode: &str,
        pki: Option<&Pki>,
        auth: Option<(&str, &str)>,
        max_size: Option<usize>,
    ) -> Server {
        let out = dir.join(format!("received-{mode}"));
        std::fs::create_dir_all(&out).unwrap();
        let port_file = dir.join(format!("port-{mode}"));
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = Command::new(PYTHON);
        cmd.arg(fixtures().join("smtpd.py"))
            .arg("--dir")
            .arg(&out)
            .arg("--port-file")
            .arg(&port_file)
            .args(["--mode", mode])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = pki {
            cmd.arg("--cert").arg(&p.cert).arg("--key").arg(&p.key);
        }
        if let Some((u, pw)) = auth {
            cmd.args(["--user", u, "--password", pw]);
        }
        if let Some(n) = max_size {
            cmd.arg("--max-size").arg(n.to_string());
        }
        let child = cmd
            .spawn()
            .expect("python3-aiosmtpd (scripts/install-deps)");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break port;
            }
            assert!(Instant::now() < deadline, "smtpd.py did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Server { child, port, out }
    }

    /// The parsed summaries of the delivered messages, in order.
    fn received(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Scan {
    assessment: Assessment,
    observations: Vec<Observation>,
    diff: ScanDiff,
}

fn scan() -> Scan {
    let (_, now, diff) = clinic_week();
    Scan {
        assessment: now.assessment,
        observations: now.observations,
        diff,
    }
}

fn input(s: &Scan, lang: Lang) -> ReportInput<'_> {
    ReportInput {
        assessment: &s.assessment,
        observations: &s.observations,
        diff: Some(&s.diff),
        seen: None,
        lang,
    }
}

fn settings(port: u16, security: Security) -> EmailSettings {
    EmailSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        security,
        from: "clinicscan <scan@clinic.test>".into(),
        to: vec!["it@clinic.test".into(), "doctor@clinic.test".into()],
        timeout_secs: Some(10),
        ..EmailSettings::default()
    }
}

#[test]
fn plain_to_loopback_delivers_headers_bodies_and_attachment() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "plain", None, None);
    let s = scan();
    let mail = compose(&input(&s, Lang::Ja));
    let outbox = Outbox::new(dir.path().join("outbox"));
    let report = deliver(
        &settings(server.port, Security::Plain),
        &outbox,
        Some(&mail),
    )
    .unwrap();
    assert!(report.new_sent, "{report:?}");
    assert_eq!((report.retried_sent, report.kept), (0, 0));
    assert!(outbox.is_empty().unwrap());

    let got = server.received();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["mail_from"], "scan@clinic.test");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["it@clinic.test", "doctor@clinic.test"])
    );
    assert_eq!(
        m["subject"],
        "[clinicscan] さくら内科クリニック 検出 9 (重大 2 / 高 2 / 中 3 / 低 1 / 情報 1) — 新規 2 / 解消 1"
    );
    assert_eq!(m["from"], "clinicscan <scan@clinic.test>");
    assert_eq!(m["to"], "it@clinic.test, doctor@clinic.test");
    assert_eq!(m["content_type"], "multipart/mixed");
    let raw = std::fs::read_to_string(server.out.join("001.eml")).unwrap();
    for header in [
        "Date: ",
        "Message-ID: <",
        "MIME-Version: 1.0",
        "Subject: [clinicscan] =?utf-8?b?",
    ] {
        assert!(
            raw.contains(header),
            "no {header:?} header in {}",
            &raw[..raw.len().min(900)]
        );
    }
    assert!(raw.is_ascii(), "the message is not 7-bit");
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("新規 2 / 解消 1 / 継続 7"), "{text}");
    assert!(
        text.contains(
            "・新規 [高] SNMP が既定のコミュニティ名 public で応答 (10.77.10.50:161/udp)"
        ),
        "{text}"
    );
    assert!(
        text.contains("・解消: Telnet が有効 (10.77.20.5:23/tcp)"),
        "{text}"
    );
    assert!(
        text.contains("・新しいサービス 10.77.10.50:161/udp snmp"),
        "{text}"
    );
    assert!(
        text.contains(
            "[重大] オンライン資格確認端末に他のゾーンから RDP で到達できる (10.77.30.10:3389/tcp)"
        ),
        "{text}"
    );
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains(">前回スキャンからの変化 (新規 2 / 解消 1 / 継続 7)</h3>"),
        "{html}"
    );
    assert!(
        html.contains("<li>解消: Telnet が有効 (10.77.20.5:23/tcp)</li>"),
        "{html}"
    );
    let att = &m["attachments"][0];
    assert_eq!(att["filename"], "clinicscan-report-20261120-1000.html");
    assert_eq!(att["content_type"], "text/html");
    // Text parts travel with CRLF line ends (RFC 5322); the content is otherwise the same.
    assert!(
        att["content"].as_str().unwrap().replace("\r\n", "\n") == mail.attachment,
        "attachment differs from the rendered report"
    );
    assert!(mail.attachment.starts_with("<!DOCTYPE html>"));
}

#[test]
fn starttls_and_implicit_tls_with_auth_and_a_site_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let s = scan();
    let mail = compose(&input(&s, Lang::En));
    for (mode, security) in [("starttls", Security::Starttls), ("tls", Security::Tls)] {
        let server = Server::start(dir.path(), mode, Some(&pki), Some(("scanner", "pw-ok")));
        let mut cfg = settings(server.port, security);
        cfg.username = Some("scanner".into());
        cfg.password = Some(Secret::new("pw-ok"));
        cfg.tls_ca_file = Some(pki.ca.clone());
        let outbox = Outbox::new(dir.path().join(format!("outbox-{mode}")));
        let report = deliver(&cfg, &outbox, Some(&mail)).unwrap();
        assert!(report.new_sent, "{mode}: {report:?}");
        let got = server.received();
        assert_eq!(got.len(), 1, "{mode}");
        assert_eq!(got[0]["auth_login"], "scanner", "{mode}");
        assert_eq!(got[0]["tls"], true, "{mode}");
        assert!(
            got[0]["subject"]
                .as_str()
                .unwrap()
                .starts_with("[clinicscan] さくら内科クリニック findings 9 (Critical 2 / High 2"),
            "{mode}: {}",
            got[0]["subject"]
        );

        // Without the site CA the certificate is not trusted: nothing is sent, the message
        // is kept, and the error says why.
        cfg.tls_ca_file = None;
        let outbox = Outbox::new(dir.path().join(format!("outbox-untrusted-{mode}")));
        let report = deliver(&cfg, &outbox, Some(&mail)).unwrap();
        assert!(!report.new_sent, "{mode}");
        assert_eq!(report.kept, 1, "{mode}");
        let err = report.last_error.unwrap().to_lowercase();
        assert!(
            err.contains("certificate") || err.contains("unknownissuer"),
            "{mode}: {err}"
        );
        assert_eq!(server.received().len(), 1, "{mode}: nothing more delivered");
    }
}

#[test]
fn a_failed_send_is_kept_and_delivered_by_the_next_call() {
    let dir = tempfile::tempdir().unwrap();
    let s = scan();
    let mail = compose(&input(&s, Lang::Ja));
    let outbox = Outbox::beside(&dir.path().join("history.sqlite"));
    assert_eq!(outbox.dir(), dir.path().join("outbox"));

    // Server down: a port that was free a moment ago.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = free.local_addr().unwrap().port();
    drop(free);
    let report = deliver(&settings(dead_port, Security::Plain), &outbox, Some(&mail)).unwrap();
    assert!(!report.new_sent);
    assert_eq!((report.retried_sent, report.kept), (0, 1));
    assert!(report.last_error.is_some());
    assert_eq!(outbox.len().unwrap(), 1);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(outbox.dir()), 0o700);
        for e in std::fs::read_dir(outbox.dir()).unwrap() {
            assert_eq!(
                mode(&e.unwrap().path()),
                0o600,
                "queued message readable by others"
            );
        }
    }

    // Still down on the next run: kept again, with a second message queued behind it.
    let mut second = mail.clone();
    second.subject = "second run".into();
    let report = deliver(
        &settings(dead_port, Security::Plain),
        &outbox,
        Some(&second),
    )
    .unwrap();
    assert_eq!(
        (report.new_sent, report.retried_sent, report.kept),
        (false, 0, 2)
    );

    // Server up: the next call (with nothing new) delivers both, oldest first.
    let server = Server::start(dir.path(), "plain", None, None);
    let report = deliver(&settings(server.port, Security::Plain), &outbox, None).unwrap();
    assert_eq!(
        (report.new_sent, report.retried_sent, report.kept),
        (false, 2, 0)
    );
    assert_eq!(report.last_error, None);
    assert!(outbox.is_empty().unwrap());
    let got = server.received();
    assert_eq!(got.len(), 2);
    assert!(
        got[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("[clinicscan] さくら内科クリニック")
    );
    assert_eq!(got[1]["subject"], "second run");
    assert!(
        got[0]["attachments"][0]["content"]
            .as_str()
            .unwrap()
            .replace("\r\n", "\n")
            == mail.attachment,
        "attachment differs"
    );
}

#[test]
fn the_password_never_leaks() {
    const SENTINEL: &str = "Sentinel-Pw-7f3a91-DO-NOT-LEAK";
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let server = Server::start(
        dir.path(),
        "starttls",
        Some(&pki),
        Some(("scanner", "right")),
    );
    let s = scan();
    let mail = compose(&input(&s, Lang::En));
    let mut cfg = settings(server.port, Security::Starttls);
    cfg.username = Some("scanner".into());
    cfg.password = Some(Secret::new(SENTINEL));
    cfg.tls_ca_file = Some(pki.ca.clone());
    let outbox = Outbox::new(dir.path().join("outbox"));
    let report = deliver(&cfg, &outbox, Some(&mail)).unwrap();
    assert!(!report.new_sent);
    assert_eq!(report.kept, 1);
    let err = report.last_error.clone().unwrap();
    assert!(err.contains("535"), "{err}");
    assert!(!format!("{report:?}").contains(SENTINEL));
    assert!(!format!("{cfg:?}").contains(SENTINEL));
    for entry in std::fs::read_dir(outbox.dir()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(SENTINEL), "outbox holds the password");
    }
    assert!(server.received().is_empty());

    // A settings error does not show it either.
    let mut bad = cfg.clone();
    bad.tls_ca_file = Some(dir.path().join("missing.pem"));
    let e = deliver(&bad, &outbox, None).unwrap_err();
    assert!(!e.to_string().contains(SENTINEL) && !format!("{e:?}").contains(SENTINEL));

    // Plain SMTP to a non-loopback host is refused before any connection is made.
    let mut plain = settings(25, Security::Plain);
    plain.host = "mail.clinic.test".into();
    match deliver(&plain, &outbox, Some(&mail)) {
        Err(EmailError::PlainNotLoopback { host }) => assert_eq!(host, "mail.clinic.test"),
        other => panic!("expected PlainNotLoopback, got {other:?}"),
    }
}

#[test]
fn when_to_email() {
    use clinicscan_report::{EmailOn, should_email};
    let s = scan();
    let empty: Assessment = load("assessment-empty.json");
    // Always: even a clean run.
    assert!(should_email(EmailOn::Always, &empty, None));
    // Findings: only findings above info count.
    assert!(should_email(EmailOn::Findings, &s.assessment, None));
    assert!(!should_email(EmailOn::Findings, &empty, None));
    let mut only_info = s.assessment.clone();
    only_info
        .findings
        .retain(|f| f.severity == clinicscan_model::Severity::Info);
    assert_eq!(only_info.findings.len(), 1);
    assert!(!should_email(EmailOn::Findings, &only_info, None));
    // Changes: the first scan (no diff) always; then only when something changed.
    assert!(should_email(EmailOn::Changes, &empty, None));
    assert!(should_email(EmailOn::Changes, &s.assessment, Some(&s.diff)));
    let same = ScanDiff::between(
        common::side(Some(2), &s.assessment, &s.observations),
        common::side(Some(3), &s.assessment, &s.observations),
    );
    assert!(!same.has_changes());
    assert_eq!(same.unchanged_findings.len(), 9);
    assert!(!should_email(EmailOn::Changes, &s.assessment, Some(&same)));

    // A finding that could not be checked again is news once, when it stops being checked;
    // still not re-checked on the next run is not.
    let (_, carrying, _) = common::clinic_not_rechecked();
    let newly = ScanDiff::between(
        common::side(Some(2), &s.assessment, &s.observations),
        common::side(Some(3), &carrying.assessment, &carrying.observations),
    );
    assert!(newly.new_findings.is_empty() && newly.resolved_findings.is_empty());
    assert_eq!(newly.not_rechecked_findings.len(), 2);
    assert!(should_email(
        EmailOn::Changes,
        &carrying.assessment,
        Some(&newly)
    ));
    let still = ScanDiff::between(
        common::side(Some(3), &carrying.assessment, &carrying.observations),
        common::side(Some(4), &carrying.assessment, &carrying.observations),
    );
    assert_eq!(still.not_rechecked_before.len(), 2);
    assert!(!should_email(
        EmailOn::Changes,
        &carrying.assessment,
        Some(&still)
    ));
    // A carried finding above info is a finding to mail about.
    let mut only_carried = carrying.assessment.clone();
    only_carried.findings.clear();
    assert!(should_email(EmailOn::Findings, &only_carried, None));
}

/// The changes-only email after a run in which a server refused the scanner, as the real
/// SMTP server receives it: "not re-checked" with the reason, in the subject and the body,
/// never "resolved".
#[test]
fn a_refused_probe_is_mailed_as_not_rechecked_never_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "plain", None, None);
    let (_, now, diff) = common::clinic_not_rechecked();
    let outbox = Outbox::new(dir.path().join("outbox"));
    for lang in [Lang::Ja, Lang::En] {
        let input = ReportInput {
            assessment: &now.assessment,
            observations: &now.observations,
            diff: Some(&diff),
            seen: None,
            lang,
        };
        assert!(clinicscan_report::should_email(
            clinicscan_report::EmailOn::Changes,
            &now.assessment,
            Some(&diff)
        ));
        let mail = compose(&input);
        let report = deliver(
            &settings(server.port, Security::Plain),
            &outbox,
            Some(&mail),
        )
        .unwrap();
        assert!(report.new_sent, "{report:?}");
    }
    let got = server.received();
    assert_eq!(got.len(), 2);
    for (m, (label, resolved, smb, reason)) in got.iter().zip([
        (
            "再確認できず",
            "解消",
            "SMB1 が有効 (10.77.10.21:445/tcp)",
            "サーバーがスキャナーを拒否しました（smb: Too many security failures",
        ),
        (
            "Not re-checked",
            "Resolved",
            "SMB1 is enabled (10.77.10.21:445/tcp)",
            "the server refused the scanner (smb: Too many security failures",
        ),
    ]) {
        let subject = m["subject"].as_str().unwrap();
        assert!(
            subject.ends_with(&format!("{resolved} 1 / {label} 2")),
            "{subject}"
        );
        let text = m["text"].as_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(smb))
            .unwrap_or_else(|| panic!("no line names the SMB finding:\n{text}"));
        assert!(line.starts_with(&format!("・{label} [")), "{line}");
        assert!(line.contains(reason), "{line}");
        assert!(
            !text
                .lines()
                .any(|l| l.contains(resolved) && l.contains(smb)),
            "the refused probe reads as resolved:\n{text}"
        );
        let html = m["html"].as_str().unwrap();
        assert!(html.contains(&format!("<li>{label} [")), "{html}");
        assert!(!html.contains("<b>bold"), "markup from the peer: {html}");
    }
}

#[test]
fn a_refused_message_is_set_aside_after_three_tries_and_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_limited(dir.path(), "plain", None, None, Some(15_000));
    let s = scan();
    let big = compose(&input(&s, Lang::Ja)); // the report attachment is larger than 15 kB
    assert!(big.attachment.len() > 15_000);
    let mut small = big.clone();
    small.subject = "small".into();
    small.attachment = "<!DOCTYPE html><p>short</p>".into();
    let cfg = settings(server.port, Security::Plain);
    let outbox = Outbox::new(dir.path().join("outbox"));

    let r = deliver(&cfg, &outbox, Some(&big)).unwrap();
    assert_eq!((r.new_sent, r.kept, r.set_aside), (false, 1, 0));
    assert!(
        r.last_error.as_deref().unwrap_or("").contains("552"),
        "{r:?}"
    );

    // The refused message does not block the next one.
    let r = deliver(&cfg, &outbox, Some(&small)).unwrap();
    assert_eq!((r.new_sent, r.kept, r.set_aside), (true, 1, 0));

    // Third refusal: set aside in outbox/rejected, kept on disk, no longer retried.
    let r = deliver(&cfg, &outbox, None).unwrap();
    assert_eq!(
        (r.new_sent, r.retried_sent, r.kept, r.set_aside),
        (false, 0, 0, 1)
    );
    assert!(outbox.is_empty().unwrap());
    let aside: Vec<_> = std::fs::read_dir(outbox.dir().join("rejected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(aside.len(), 1);
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&aside[0]).unwrap()).unwrap();
    assert_eq!(kept["attempts"], 3);
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["subject"], "small");
}

#[test]
fn the_site_file_email_table_reads_from_toml() {
    let site: toml::Table = toml::from_str(
        r#"
[email]
host = "smtp.example.jp"
port = 587
security = "starttls"
username = "clinicscan@example.jp"
password_file = "/etc/clinicscan/smtp-password"
from = "clinicscan <clinicscan@example.jp>"
to = ["it@example.jp", "director@example.jp"]
tls_ca_file = "/etc/clinicscan/site-ca.pem"
timeout_secs = 20
"#,
    )
    .unwrap();
    let table = site["email"].as_table().unwrap().clone();
    let s: EmailSettings = table.try_into().unwrap();
    assert_eq!(s.host, "smtp.example.jp");
    assert_eq!(s.port, Some(587));
    assert_eq!(s.security, Security::Starttls);
    assert_eq!(s.to.len(), 2);
    assert_eq!(s.timeout_secs, Some(20));
    assert_eq!(
        s.password, None,
        "the password is never read from the table"
    );

    for bad in [
        "host = \"h\"\npassword = \"secret\"", // no password key
        "host = \"h\"\nsecurity = \"none\"",   // unknown security
        "host = \"h\"\nhots = \"typo\"",       // unknown key
    ] {
        let t: toml::Table = toml::from_str(bad).unwrap();
        assert!(t.try_into::<EmailSettings>().is_err(), "{bad}");
    }
}
