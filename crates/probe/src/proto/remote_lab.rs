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

/// Records the real daemons' bytes into `fixtures/` (run by hand inside the lab namespace:
/// `CLINICSCAN_RECORD=1 ip netns exec NS <test binary> proto::remote_lab::record --ignored`).
#[tokio::test]
#[ignore = "records fixtures by hand inside the lab namespace"]
async fn record() {
    use crate::wire::{ntlm, rdp, smb, ssh, telnet};
    use tokio::io::AsyncWriteExt;

    use super::io::{self, Budget};
    use super::ssh::read_framed;

    if std::env::var_os("CLINICSCAN_RECORD").is_none() {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let save = |dir: &str, name: &str, bytes: &[u8]| {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).expect("fixture dir");
        std::fs::write(d.join(name), bytes).expect("write fixture");
        println!("recorded {dir}/{name} ({} bytes)", bytes.len());
    };

    // One request, the framed answer.
    async fn ask<E>(
        port: u16,
        request: &[u8],
        f: fn(&[u8]) -> Result<Option<usize>, E>,
    ) -> Vec<u8> {
        let c = ctx(port);
        let mut s = io::connect(&c).await.expect("connect");
        io::write_all(&c, &mut s, request).await.expect("write");
        let mut buf = Vec::new();
        let mut budget = Budget::new(1 << 20);
        match read_framed(&c, &mut s, &mut buf, &mut budget, f).await {
            Ok(n) => buf.truncate(n),
            Err(_) => {} // keep what came (a refusal by close is recorded as empty)
        }
        buf
    }

    // RDP Connection Confirms
    for (port, label) in [
        (3389, "xrdp-negotiate"),
        (3390, "xrdp-rdp"),
        (3391, "xrdp-tls"),
        (3392, "freerdp-nla"),
    ] {
        for (req, rname) in [
            (
                rdp::PROTOCOL_SSL | rdp::PROTOCOL_HYBRID | rdp::PROTOCOL_HYBRID_EX,
                "ssl-hybrid-ex",
            ),
            (rdp::PROTOCOL_RDP, "rdp"),
            (rdp::PROTOCOL_SSL, "ssl"),
        ] {
            let b = ask(port, &rdp::connection_request(req), rdp::tpkt_complete).await;
            save("rdp", &format!("{label}-cc-{rname}.bin"), &b);
        }
    }
    // CredSSP: the freerdp server's TSRequest carrying the NTLM CHALLENGE (after TLS)
    {
        let c = ctx(3392);
        let mut s = io::connect(&c).await.expect("connect");
        io::write_all(&c, &mut s, &rdp::connection_request(rdp::PROTOCOL_HYBRID))
            .await
            .expect("write");
        let mut buf = Vec::new();
        let mut budget = Budget::new(1 << 20);
        let _ = read_framed(&c, &mut s, &mut buf, &mut budget, rdp::tpkt_complete).await;
        let connector =
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(super::rdp::accept_any_config()));
        let name = rustls::pki_types::ServerName::IpAddress(c.addr.ip().into());
        let mut tls = connector.connect(name, s).await.expect("tls");
        tls.write_all(&rdp::ts_request(&ntlm::negotiate()))
            .await
            .expect("write");
        let mut buf = Vec::new();
        let n = read_framed(&c, &mut tls, &mut buf, &mut budget, rdp::der_complete)
            .await
            .expect("tsrequest");
        save("ntlm", "freerdp-credssp-tsrequest-challenge.bin", &buf[..n]);
    }

    // SMB
    for (port, label) in [(445, "samba-smb1"), (4445, "samba-signed")] {
        let b = ask(port, &smb::smb1_negotiate(), smb::message_complete).await;
        save("smb", &format!("{label}-smb1-negotiate.bin"), &b);
        let b = ask(
            port,
            &smb::smb2_negotiate(&smb::DIALECTS),
            smb::message_complete,
        )
        .await;
        save("smb", &format!("{label}-smb2-negotiate-all.bin"), &b);
        let b = ask(
            port,
            &smb::smb2_negotiate(&[smb::SMB2_02]),
            smb::message_complete,
        )
        .await;
        save("smb", &format!("{label}-smb2-negotiate-202.bin"), &b);
        // SMB2 session setup, first leg
        let c = ctx(port);
        let mut s = io::connect(&c).await.expect("connect");
        let mut budget = Budget::new(1 << 20);
        let mut buf = Vec::new();
        io::write_all(&c, &mut s, &smb::smb2_negotiate(&smb::DIALECTS))
            .await
            .expect("write");
        let n = read_framed(&c, &mut s, &mut buf, &mut budget, smb::message_complete)
            .await
            .expect("neg");
        buf.drain(..n);
        let blob = ntlm::spnego_init(&ntlm::negotiate());
        io::write_all(&c, &mut s, &smb::smb2_session_setup(&blob, 1))
            .await
            .expect("write");
        let n = read_framed(&c, &mut s, &mut buf, &mut budget, smb::message_complete)
            .await
            .expect("ss");
        save("smb", &format!("{label}-smb2-session-setup.bin"), &buf[..n]);
    }
    {
        let c = ctx(445);
        let mut s = io::connect(&c).await.expect("connect");
        let mut budget = Budget::new(1 << 20);
        let mut buf = Vec::new();
        io::write_all(&c, &mut s, &smb::smb1_negotiate())
            .await
            .expect("write");
        let n = read_framed(&c, &mut s, &mut buf, &mut budget, smb::message_complete)
            .await
            .expect("neg");
        let uid = smb::smb1_uid(&buf[..n]).unwrap_or(0);
        buf.drain(..n);
        let blob = ntlm::spnego_init(&ntlm::negotiate());
        io::write_all(&c, &mut s, &smb::smb1_session_setup(&blob, uid))
            .await
            .expect("write");
        let n = read_framed(&c, &mut s, &mut buf, &mut budget, smb::message_complete)
            .await
            .expect("ss");
        save("smb", "samba-smb1-smb1-session-setup.bin", &buf[..n]);
    }

    // SSH: identification and KEXINIT as sent
    for (port, label) in [(22, "openssh-default"), (2222, "openssh-legacy")] {
        let c = ctx(port);
        let mut s = io::connect(&c).await.expect("connect");
        io::write_all(&c, &mut s, ssh::CLIENT_IDENT)
            .await
            .expect("write");
        let mut buf = Vec::new();
        let mut budget = Budget::new(1 << 20);
        let n = read_framed(&c, &mut s, &mut buf, &mut budget, ssh::ident_complete)
            .await
            .expect("ident");
        // read until the KEXINIT packet is whole
        loop {
            if let Ok(Some(k)) = ssh::packet_complete(&buf[n..]) {
                buf.truncate(n + k);
                break;
            }
            io::read_some(&c, &mut s, &mut buf, &mut budget)
                .await
                .expect("kexinit");
        }
        save("ssh", &format!("{label}.bin"), &buf);
    }

    // FTP: the whole server side of greeting, FEAT, USER, PASS, QUIT
    for (port, label) in [(21, "vsftpd-anonymous"), (2121, "vsftpd-no-anonymous")] {
        let c = ctx(port);
        let mut s = io::connect(&c).await.expect("connect");
        let mut buf = Vec::new();
        let mut budget = Budget::new(1 << 20);
        let mut all = Vec::new();
        for cmd in [
            None,
            Some("FEAT"),
            Some("USER anonymous"),
            Some("PASS clinicscan@example.invalid"),
            Some("QUIT"),
        ] {
            if let Some(cmd) = cmd {
                io::write_all(&c, &mut s, format!("{cmd}\r\n").as_bytes())
                    .await
                    .expect("write");
            }
            match read_framed(
                &c,
                &mut s,
                &mut buf,
                &mut budget,
                crate::wire::ftp::reply_complete,
            )
            .await
            {
                Ok(n) => {
                    all.extend(buf.drain(..n));
                }
                Err(_) => break,
            }
        }
        save("ftp", &format!("{label}.bin"), &all);
    }

    // Telnet: everything the server sent while we refused every option
    {
        let c = ctx(23);
        let mut s = io::connect(&c).await.expect("connect");
        let mut budget = Budget::new(1 << 20);
        let mut buf = Vec::new();
        let mut all = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(_)) =
            tokio::time::timeout_at(until, io::read_some(&c, &mut s, &mut buf, &mut budget)).await
        {
            let sc = telnet::scan(&buf);
            all.extend_from_slice(&buf[..sc.consumed]);
            buf.drain(..sc.consumed);
            if !sc.reply.is_empty() {
                io::write_all(&c, &mut s, &sc.reply).await.expect("write");
            }
        }
        save("telnet", "inetutils-telnetd.bin", &all);
    }

    // VNC: version, then the security types after our 3.8 reply
    for (port, label) in [(5901, "tigervnc-none"), (5902, "tigervnc-vncauth")] {
        let c = ctx(port);
        let mut s = io::connect(&c).await.expect("connect");
        let mut budget = Budget::new(1 << 20);
        let mut buf = Vec::new();
        while buf.len() < 12 {
            io::read_some(&c, &mut s, &mut buf, &mut budget)
                .await
                .expect("version");
        }
        io::write_all(&c, &mut s, b"RFB 003.008\n")
            .await
            .expect("write");
        let until = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Ok(_)) =
            tokio::time::timeout_at(until, io::read_some(&c, &mut s, &mut buf, &mut budget)).await
        {
        }
        save("vnc", &format!("{label}.bin"), &buf);
    }
}
