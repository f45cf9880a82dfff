//! What the clinic-lab tests share: running clinicscan in a lab namespace, a site audit's
//! scans and assessment, a scheduled run with history and email, and the real SMTP server
//! the email goes to. Every address used is inside the lab (10.77.0.0/16, namespaces the
//! lab script created) or the scanner namespace's own loopback.
// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    clinicscan_testlab::workspace()
}

/// The clinic lab, up; taken down when the returned lab is dropped (also on a panic).
/// `None`: it cannot start and this is not CI (under CI that fails the test).
pub fn clinic_lab() -> Option<clinicscan_testlab::Lab> {
    clinicscan_testlab::LabSpec::commands(
        "clinic",
        [repo().join("tests/lab/up")],
        [repo().join("tests/lab/down")],
    )
    .start()
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_clinicscan")
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn check(what: &str, out: &Output) {
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
pub fn clinicscan_in(ns: &str, args: &[&str]) -> Output {
    run(Command::new("ip")
        .args(["netns", "exec", ns, bin()])
        .args(args)
        .current_dir(repo()))
}

pub const LAB_SITE: &str = "fixtures/policy/lab-site.toml";
pub const LAB_ZONES: &[&str] = &[
    "10.77.10.0/24",
    "10.77.20.0/24",
    "10.77.30.0/24",
    "10.77.40.0/24",
    "10.77.50.0/24",
    "10.77.60.0/24",
];

/// One scan from a lab namespace, its Observation written to `out` (no history).
pub fn scan_from(ns: &str, out: &Path, targets: &[&str]) {
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

pub const UKETSUKE_VNC: &str = "10.77.10.20:5900";

/// `tests/lab/vnc_client.py ACTION` against the reception PC's VNC, from the scanner's
/// namespace (the scanner's own address).
pub fn vnc_client(action: &str) -> String {
    let o = run(Command::new("ip")
        .args(["netns", "exec", "cs-scanner", "python3"])
        .arg(repo().join("tests/lab/vnc_client.py"))
        .args([action, UKETSUKE_VNC]));
    check(&format!("vnc_client.py {action}"), &o);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The assessment of Observations with the lab's site file.
pub fn assess(obs: &[&Path]) -> serde_json::Value {
    assess_with(LAB_SITE, obs)
}

/// The assessment of Observations with another site file.
pub fn assess_with(site: &str, obs: &[&Path]) -> serde_json::Value {
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
pub fn findings(a: &serde_json::Value) -> Vec<(String, String, Option<u64>)> {
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

/// A real SMTP server (Debian's aiosmtpd) on the scanner namespace's loopback, delivering
/// into a maildir; stopped when dropped.
pub struct Smtp {
    child: std::process::Child,
    maildir: PathBuf,
}

pub const SMTP_PORT: &str = "2525";

impl Smtp {
    pub fn start(maildir: &Path) -> Smtp {
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
    pub fn messages(&self, expect: usize) -> Vec<String> {
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

/// One run as a cron job would make it, from the general LAN: history in `db`, email on
/// changes to the [`Smtp`] server, the Assessment written to `report`, the Observation to
/// `observation` when given.
pub fn scheduled_scan(db: &Path, report: &Path, observation: Option<&Path>, targets: &[&str]) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", "cs-scanner", bin()])
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
            "-f",
            "json",
            "-o",
        ])
        .arg(report);
    if let Some(path) = observation {
        cmd.arg("--save-observation").arg(path);
    }
    let o = run(cmd
        .args(targets)
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

/// `clinicscan history diff A B` on a history database: its exit code and the diff JSON.
pub fn history_diff(db: &Path, a: &str, b: &str) -> (Option<i32>, serde_json::Value) {
    let o = run(Command::new(bin())
        .args(["history", "--db"])
        .arg(db)
        .args(["diff", a, b, "-f", "json"]));
    let diff = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "history diff {a} {b}: {e}\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), diff)
}

/// The (rule id, host) of a list of findings in a diff's JSON.
pub fn rules_and_hosts(list: &serde_json::Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("a list of findings")
        .iter()
        .map(|f| {
            let f = f.get("finding").unwrap_or(f);
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                f["host"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
