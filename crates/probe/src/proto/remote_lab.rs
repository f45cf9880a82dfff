//! The remote-access lab test: real daemons (xrdp, freerdp-shadow-cli, samba, OpenSSH,
//! vsftpd, inetutils telnetd, TigerVNC) in a network namespace this test creates and always
//! deletes, each probe run against them, exact facts asserted.
//!
//! Needs root and the Debian packages of `scripts/install-deps`; skipped (with a message)
//! otherwise. The probes are crate-private, so this lives inside the crate; the outer test
//! builds the lab and re-runs this test binary inside the namespace (`ip netns exec`) for
//! the inner test, which is `#[ignore]`d so it never runs on its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use clinicscan_model::{PortReason, PortState, Service, Transport};

use super::{ProbeContext, ProbeKind};

const INNER_ENV: &str = "CLINICSCAN_REMOTE_LAB_INNER";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn lab_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/remote_lab/lab.sh")
}

/// Deletes the namespace and the daemons whatever happens to the test.
struct Lab {
    ns: String,
    dir: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg(lab_script())
            .args(["down", &self.ns, &self.dir])
            .status();
    }
}

#[test]
fn remote_lab() {
    if std::env::var_os(INNER_ENV).is_some() {
        return;
    }
    let tools = [
        "/usr/sbin/xrdp",
        "/usr/sbin/smbd",
        "/usr/sbin/sshd",
        "/usr/sbin/vsftpd",
        "/usr/sbin/telnetd",
        "/usr/bin/Xvnc",
        "/usr/bin/freerdp-shadow-cli",
        "/usr/bin/Xvfb",
    ];
    if !is_root() || tools.iter().any(|t| !std::path::Path::new(t).exists()) {
        eprintln!("remote_lab skipped: needs root and the lab daemons");
        return;
    }
    let ns = format!("csr-t{}", std::process::id());
    let lab = Lab {
        ns: ns.clone(),
        dir: format!("/tmp/{ns}"),
    };
    let up = Command::new("sh")
        .arg(lab_script())
        .args(["up", &lab.ns, &lab.dir])
        .status();
    assert!(
        matches!(up, Ok(s) if s.success()),
        "lab did not start: {up:?}"
    );
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(exe)
        .args([
            "proto::remote_lab::inner",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER_ENV, "1")
        .output()
        .expect("run the inner test");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    drop(lab);
    assert!(out.status.success(), "inner lab test failed");
}

fn ctx(port: u16) -> ProbeContext {
    ProbeContext {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        deadline: tokio::time::Instant::now() + Duration::from_secs(15),
        io_timeout: Duration::from_secs(3),
        max_bytes: 256 * 1024,
        now: chrono::Utc::now(),
        server_name: None,
        snmp_communities: Vec::new(),
        connection_gap: Duration::ZERO,
    }
}

async fn run(kind: ProbeKind, port: u16) -> Service {
    let mut s = Service::port_only(port, Transport::Tcp, PortState::Open, PortReason::SynAck);
    let t = Instant::now();
    super::run(kind, &ctx(port), &mut s).await;
    println!("{:?} port {port}: {:?}\n{:#?}", kind, t.elapsed(), s);
    s
}

#[tokio::test]
#[ignore = "run inside the lab namespace by remote_lab"]
async fn inner() {
    for (k, p) in [
        (ProbeKind::Rdp, 3389),
        (ProbeKind::Rdp, 3390),
        (ProbeKind::Rdp, 3391),
        (ProbeKind::Rdp, 3392),
        (ProbeKind::Smb, 445),
        (ProbeKind::Smb, 4445),
        (ProbeKind::Ssh, 22),
        (ProbeKind::Ssh, 2222),
        (ProbeKind::Ftp, 21),
        (ProbeKind::Ftp, 2121),
        (ProbeKind::Telnet, 23),
        (ProbeKind::Vnc, 5901),
        (ProbeKind::Vnc, 5902),
    ] {
        run(k, p).await;
    }
}
