//! The remote-access lab test: real daemons (xrdp, freerdp-shadow-cli, samba, OpenSSH,
//! vsftpd, inetutils telnetd, TigerVNC) in a network namespace this test creates and always
//! deletes, each probe run against them, exact facts asserted.
//!
//! Needs root and the Debian packages of `scripts/install-deps`; skipped (with a message)
//! otherwise. The probes are crate-private, so this lives inside the crate; the outer test
//! builds the lab and re-runs this test binary inside the namespace (`ip netns exec`) for
//! the inner test, which is `#[ignore]`d so it never runs on its own.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use clinicscan_model::{
    FtpFacts, NtlmInfo, PortReason, PortState, RdpFacts, Service, SmbFacts, Transport, VncFacts,
    VncSecurityType,
};

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
    // its own process group: daemons that signal their group must not reach this test
    let up = Command::new("sh")
        .arg(lab_script())
        .args(["up", &lab.ns, &lab.dir])
        .process_group(0)
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
        pace: crate::pace::Pace::default(),
    }
}

async fn run(kind: ProbeKind, port: u16) -> Service {
    let mut s = Service::port_only(port, Transport::Tcp, PortState::Open, PortReason::SynAck);
    let t = Instant::now();
    super::run(kind, &ctx(port), &mut s).await;
    println!("{:?} port {port}: {:?}\n{:#?}", kind, t.elapsed(), s);
    s
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn rdp(standard: bool, tls: bool, credssp: bool, nla: bool, failures: &[&str]) -> RdpFacts {
    RdpFacts {
        standard_rdp: Some(standard),
        tls: Some(tls),
        credssp: Some(credssp),
        credssp_early_auth: Some(false),
        nla_required: Some(nla),
        negotiation_failures: failures.iter().map(|s| s.to_string()).collect(),
        encryption_methods: Vec::new(),
        encryption_level: None,
        ntlm: None,
    }
}

#[tokio::test]
#[ignore = "run inside the lab namespace by remote_lab"]
async fn inner() {
    let host = hostname();
    // NetBIOS names: the first label, upper case, at most 15 characters
    let upper: String = host
        .split('.')
        .next()
        .unwrap_or_default()
        .to_uppercase()
        .chars()
        .take(15)
        .collect();
    let s = |v: &str| Some(v.to_string());

    // --- RDP
    let x = run(ProbeKind::Rdp, 3389).await;
    assert_eq!(x.protocol.as_deref(), Some("rdp"));
    let mut negotiate = rdp(true, true, false, false, &[]);
    negotiate.encryption_methods = vec!["128-bit RC4".into()];
    negotiate.encryption_level = s("high");
    assert_eq!(x.facts.rdp, Some(negotiate));
    assert_eq!(x.facts.tls.as_ref().map(|t| t.via.as_str()), Some("rdp"));
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    let x = run(ProbeKind::Rdp, 3390).await;
    // crypt_level=low: xrdp picks 40-bit RC4 even when offered 128-bit, and refuses 56-bit
    let mut standard = rdp(true, false, false, false, &[]);
    standard.encryption_methods = vec!["40-bit RC4".into()];
    standard.encryption_level = s("low");
    assert_eq!(x.facts.rdp, Some(standard));
    assert_eq!(x.facts.tls, None, "no TLS layer to audit");
    let x = run(ProbeKind::Rdp, 3391).await;
    assert_eq!(
        x.facts.rdp,
        Some(rdp(false, true, false, false, &["SSL_REQUIRED_BY_SERVER"]))
    );
    assert_eq!(x.facts.tls.as_ref().map(|t| t.via.as_str()), Some("rdp"));
    let x = run(ProbeKind::Rdp, 3392).await;
    let mut nla = rdp(false, false, true, true, &["HYBRID_REQUIRED_BY_SERVER"]);
    nla.ntlm = Some(NtlmInfo {
        netbios_computer: Some(upper.clone()),
        netbios_domain: Some(upper.clone()),
        dns_computer: Some(host.clone()),
        dns_domain: Some(host.clone()),
        os_version: s("6.1.7601"),
    });
    assert_eq!(x.facts.rdp, Some(nla));
    assert_eq!(x.facts.tls.as_ref().map(|t| t.via.as_str()), Some("rdp"));
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);

    // --- the TLS layers the audit will be handed
    prelude_handshakes(super::rdp::ssl_prelude, 3389).await;
    prelude_handshakes(super::rdp::ssl_prelude, 3391).await;
    prelude_handshakes(super::rdp::hybrid_prelude, 3392).await;
    prelude_handshakes(super::ftp::auth_tls_prelude, 21).await;
    assert!(
        super::rdp::ssl_prelude(&ctx(3390)).await.is_err(),
        "xrdp security_layer=rdp has no TLS"
    );

    // --- SMB
    let x = run(ProbeKind::Smb, 445).await;
    assert_eq!(x.protocol.as_deref(), Some("smb"));
    let all = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        x.facts.smb,
        Some(SmbFacts {
            smb1: Some(true),
            dialects: all.clone(),
            max_dialect: s("3.1.1"),
            signing_enabled: Some(true),
            signing_required: Some(false),
            ntlm: Some(NtlmInfo {
                netbios_computer: s("CSRSMB1"),
                netbios_domain: s("CSRSMB1"),
                dns_computer: Some(host.clone()),
                dns_domain: None,
                os_version: s("6.1.0"),
            }),
            native_os: s("Windows 6.1"),
        })
    );
    let sw = x.software.as_ref().expect("samba names itself");
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("Samba", Some("4.17.12-Debian"))
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    // SMB1 only (an old NAS): no SMB2 dialect, signing facts from the SMB1 SecurityMode
    let x = run(ProbeKind::Smb, 1445).await;
    assert_eq!(
        x.facts.smb,
        Some(SmbFacts {
            smb1: Some(true),
            dialects: Vec::new(),
            max_dialect: None,
            signing_enabled: Some(false),
            signing_required: Some(false),
            ntlm: Some(NtlmInfo {
                netbios_computer: s("CSRNT1"),
                netbios_domain: s("CSRNT1"),
                dns_computer: Some(host.clone()),
                dns_domain: None,
                os_version: s("6.1.0"),
            }),
            native_os: s("Windows 6.1"),
        })
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    let x = run(ProbeKind::Smb, 4445).await;
    assert_eq!(
        x.facts.smb,
        Some(SmbFacts {
            smb1: Some(false),
            dialects: all[1..].to_vec(),
            max_dialect: s("3.1.1"),
            signing_enabled: Some(true),
            signing_required: Some(true),
            ntlm: Some(NtlmInfo {
                netbios_computer: s("CSRSIGNED"),
                netbios_domain: s("CSRSIGNED"),
                dns_computer: Some(host.clone()),
                dns_domain: None,
                os_version: s("6.1.0"),
            }),
            native_os: None,
        })
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);

    // --- SSH
    let x = run(ProbeKind::Ssh, 22).await;
    let ssh = x.facts.ssh.as_ref().expect("ssh facts");
    assert_eq!(ssh.software, "OpenSSH_9.2p1");
    assert_eq!(ssh.protocol_version, "2.0");
    assert!(
        ssh.comments
            .as_deref()
            .is_some_and(|c| c.starts_with("Debian-2+deb12u"))
    );
    assert_eq!(
        ssh.host_key,
        ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"]
    );
    let weak: Vec<&str> = ssh.weak.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(weak, ["umac-64-etm@openssh.com", "umac-64@openssh.com"]);
    let sw = x.software.as_ref().expect("software");
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("OpenSSH", Some("9.2p1"))
    );
    let x = run(ProbeKind::Ssh, 2222).await;
    let ssh = x.facts.ssh.as_ref().expect("ssh facts");
    let weak: Vec<(&str, &str)> = ssh
        .weak
        .iter()
        .map(|w| (w.kind.as_str(), w.name.as_str()))
        .collect();
    assert_eq!(
        weak,
        [
            ("kex", "diffie-hellman-group1-sha1"),
            ("kex", "diffie-hellman-group14-sha1"),
            ("kex", "diffie-hellman-group-exchange-sha1"),
            ("host-key", "ssh-rsa"),
            ("cipher", "aes128-cbc"),
            ("cipher", "3des-cbc"),
            ("mac", "umac-64-etm@openssh.com"),
            ("mac", "umac-64@openssh.com"),
            ("mac", "hmac-sha1-96"),
            ("mac", "hmac-md5"),
        ]
    );

    // --- FTP
    let x = run(ProbeKind::Ftp, 21).await;
    assert_eq!(
        x.facts.ftp,
        Some(FtpFacts {
            banner: "csr-lab FTP ready".into(),
            anonymous: Some(true),
            auth_tls: Some(true),
        })
    );
    assert_eq!(
        x.facts.tls.as_ref().map(|t| t.via.as_str()),
        Some("starttls-ftp")
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    let x = run(ProbeKind::Ftp, 2121).await;
    assert_eq!(
        x.facts.ftp,
        Some(FtpFacts {
            banner: "(vsFTPd 3.0.3)".into(),
            anonymous: Some(false),
            auth_tls: Some(false),
        })
    );
    let sw = x.software.as_ref().expect("software");
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("vsFTPd", Some("3.0.3"))
    );
    assert_eq!(x.facts.tls, None);

    // --- Telnet
    let x = run(ProbeKind::Telnet, 23).await;
    assert_eq!(x.protocol.as_deref(), Some("telnet"));
    let t = x.facts.telnet.as_ref().expect("telnet facts");
    assert_eq!(t.banner, Some(format!("{host} login:")));
    assert_eq!(
        &t.options[..3],
        ["will authentication", "will encryption", "do terminal-type"]
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);

    // --- VNC
    let x = run(ProbeKind::Vnc, 5901).await;
    let none = VncSecurityType {
        code: 1,
        name: "None".into(),
    };
    let vncauth = VncSecurityType {
        code: 2,
        name: "VNC Authentication".into(),
    };
    assert_eq!(
        x.facts.vnc,
        Some(VncFacts {
            protocol_version: "3.8".into(),
            security_types: vec![none],
            no_auth: Some(true),
            failure_reason: None,
        })
    );
    let x = run(ProbeKind::Vnc, 5902).await;
    assert_eq!(
        x.facts.vnc,
        Some(VncFacts {
            protocol_version: "3.8".into(),
            security_types: vec![vncauth],
            no_auth: Some(false),
            failure_reason: None,
        })
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
}

/// Each TLS prelude leaves a stream on which a real TLS handshake succeeds (the TLS audit
/// itself is another engineer's; this proves what RDP and FTP hand it).
async fn prelude_handshakes(prelude: super::tls::Prelude, port: u16) {
    let c = ctx(port);
    let stream = prelude(&c).await.expect("prelude");
    let connector =
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(super::rdp::accept_any_config()));
    let name = rustls::pki_types::ServerName::IpAddress(c.addr.ip().into());
    let tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, stream))
        .await
        .expect("handshake in time")
        .expect("TLS handshake after the prelude");
    let (_, conn) = tls.get_ref();
    assert!(conn.peer_certificates().is_some_and(|c| !c.is_empty()));
    println!("prelude on port {port}: TLS {:?}", conn.protocol_version());
}

/// Runs one probe, for side-by-side timing with nmap inside the lab namespace:
/// `CLINICSCAN_LAB_PROBE=rdp:3389 ip netns exec NS <test binary> proto::remote_lab::probe_one --ignored --nocapture`.
#[tokio::test]
#[ignore = "runs one probe by hand inside the lab namespace"]
async fn probe_one() {
    let Ok(spec) = std::env::var("CLINICSCAN_LAB_PROBE") else {
        return;
    };
    let (kind, port) = spec.split_once(':').expect("kind:port");
    let kind = match kind {
        "rdp" => ProbeKind::Rdp,
        "smb" => ProbeKind::Smb,
        "ssh" => ProbeKind::Ssh,
        "ftp" => ProbeKind::Ftp,
        "telnet" => ProbeKind::Telnet,
        "vnc" => ProbeKind::Vnc,
        other => panic!("unknown probe {other}"),
    };
    run(kind, port.parse().expect("port")).await;
}

/// Records the real daemons' bytes into `fixtures/` (run by hand inside the lab namespace:
/// `CLINICSCAN_RECORD=1 ip netns exec NS <test binary> proto::remote_lab::record --ignored`).
#[tokio::test]
#[ignore = "records fixtures by hand inside the lab namespace"]
async fn record() {
    use clinicscan_wire::{ntlm, rdp, smb, ssh, telnet};
    use tokio::io::AsyncWriteExt;

    use super::io::read_framed;
    use super::io::{self, Budget};

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
    async fn ask(port: u16, request: &[u8], f: fn(&[u8]) -> clinicscan_wire::Frame) -> Vec<u8> {
        let c = ctx(port);
        let mut s = io::connect(&c).await.expect("connect");
        io::write_all(&c, &mut s, request).await.expect("write");
        let mut buf = Vec::new();
        let mut budget = Budget::new(1 << 20);
        // keep what came: a refusal by close is recorded as it arrived
        if let Ok(n) = read_framed(&c, &mut s, &mut buf, &mut budget, f).await {
            buf.truncate(n);
        }
        buf
    }

    // RDP standard security: the MCS Connect Response to an offer of every method
    for (port, label) in [(3389, "xrdp-negotiate-high"), (3390, "xrdp-rdp-low")] {
        let c = ctx(port);
        let mut s = io::connect(&c).await.expect("connect");
        let mut budget = Budget::new(1 << 20);
        let mut buf = Vec::new();
        io::write_all(&c, &mut s, &rdp::connection_request(rdp::PROTOCOL_RDP))
            .await
            .expect("write");
        let n = read_framed(&c, &mut s, &mut buf, &mut budget, rdp::tpkt_complete)
            .await
            .expect("cc");
        buf.drain(..n);
        io::write_all(
            &c,
            &mut s,
            &rdp::mcs_connect_initial(rdp::ENCRYPTION_ALL, 0),
        )
        .await
        .expect("write");
        let n = read_framed(&c, &mut s, &mut buf, &mut budget, rdp::tpkt_complete)
            .await
            .expect("mcs");
        save(
            "rdp",
            &format!("{label}-mcs-connect-response.bin"),
            &buf[..n],
        );
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
            (rdp::PROTOCOL_HYBRID, "hybrid"),
        ] {
            let b = ask(port, &rdp::connection_request(req), rdp::tpkt_complete).await;
            save("rdp", &format!("{label}-cc-{rname}.bin"), &b);
        }
    }
    if std::env::var("CLINICSCAN_RECORD").as_deref() == Ok("rdp") {
        return;
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
                clinicscan_wire::ftp::reply_complete,
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

/// Hostile and broken peers on the root namespace's loopback (no root needed): every probe
/// ends by its deadline with an error fact, never a hang, a panic or a guess.
mod hostile {
    use std::net::SocketAddr;
    use std::time::Duration;

    use clinicscan_model::{PortReason, PortState, ProbeErrorKind, Service, Transport};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::super::{ProbeContext, ProbeKind};

    /// A one-connection-at-a-time server that sends `greeting`, then `repeat` forever (if
    /// not empty), reading and discarding whatever the client sends.
    async fn serve(greeting: &'static [u8], repeat: &'static [u8]) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let _ = s.write_all(greeting).await;
                    let mut sink = [0u8; 1024];
                    if repeat.is_empty() {
                        // hold the connection open, silent
                        while let Ok(n) = s.read(&mut sink).await {
                            if n == 0 {
                                break;
                            }
                        }
                    } else {
                        while s.write_all(repeat).await.is_ok() {}
                    }
                });
            }
        });
        addr
    }

    async fn run(kind: ProbeKind, addr: SocketAddr) -> (Service, Duration) {
        let ctx = ProbeContext {
            addr,
            deadline: tokio::time::Instant::now() + Duration::from_secs(2),
            io_timeout: Duration::from_millis(500),
            max_bytes: 64 * 1024,
            now: chrono::Utc::now(),
            server_name: None,
            snmp_communities: Vec::new(),
            pace: crate::pace::Pace::default(),
        };
        let mut s = Service::port_only(
            addr.port(),
            Transport::Tcp,
            PortState::Open,
            PortReason::SynAck,
        );
        let t = std::time::Instant::now();
        super::super::run(kind, &ctx, &mut s).await;
        (s, t.elapsed())
    }

    fn kinds(s: &Service) -> Vec<ProbeErrorKind> {
        s.probe_errors.iter().map(|e| e.kind).collect()
    }

    #[tokio::test]
    async fn ssh_endless_lines_and_silence() {
        let (s, t) = run(ProbeKind::Ssh, serve(b"", b"not ssh\r\n").await).await;
        assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
        assert_eq!((s.facts.ssh.is_none(), s.protocol.is_none()), (true, true));
        assert!(t < Duration::from_secs(2));
        let (s, _) = run(ProbeKind::Ssh, serve(b"", b"").await).await;
        assert_eq!(kinds(&s), [ProbeErrorKind::Timeout]);
        // a valid identification, then a KEXINIT length of 2 GiB
        let (s, _) = run(
            ProbeKind::Ssh,
            serve(b"SSH-2.0-Evil_1.0\r\n\x7f\xff\xff\xff\x04\x14", b"").await,
        )
        .await;
        assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
        assert_eq!(
            s.facts.ssh.as_ref().map(|f| f.software.as_str()),
            Some("Evil_1.0")
        );
    }

    #[tokio::test]
    async fn rdp_http_server_and_silence() {
        let (s, _) = run(
            ProbeKind::Rdp,
            serve(b"HTTP/1.1 400 Bad Request\r\n\r\n", b"").await,
        )
        .await;
        assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
        assert_eq!(s.facts.rdp, None);
        let (s, t) = run(ProbeKind::Rdp, serve(b"", b"").await).await;
        assert_eq!(kinds(&s), [ProbeErrorKind::Timeout]);
        assert!(t < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn smb_oversized_and_garbage() {
        let (s, _) = run(ProbeKind::Smb, serve(b"\x00\x7f\xff\xff", b"A").await).await;
        assert_eq!(s.facts.smb, None);
        assert!(
            kinds(&s)
                .iter()
                .all(|k| *k == ProbeErrorKind::InvalidMessage),
            "{:?}",
            s.probe_errors
        );
        let (s, _) = run(ProbeKind::Smb, serve(b"\x85\x00\x00\x00", b"").await).await;
        assert_eq!(s.facts.smb, None);
        assert!(!s.probe_errors.is_empty());
    }

    #[tokio::test]
    async fn ftp_refusal_and_flood() {
        let (s, _) = run(
            ProbeKind::Ftp,
            serve(b"421 Too many connections\r\n", b"").await,
        )
        .await;
        assert_eq!(kinds(&s), [ProbeErrorKind::PeerIncompatible]);
        let f = s.facts.ftp.expect("banner kept");
        assert_eq!(
            (f.banner.as_str(), f.anonymous),
            ("Too many connections", None)
        );
        let (s, t) = run(ProbeKind::Ftp, serve(b"220-hello\r\n", b" more\r\n").await).await;
        assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
        assert!(t < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn telnet_flood_stops_at_the_byte_limit() {
        let (s, t) = run(
            ProbeKind::Telnet,
            serve(b"\xff\xfd\x18", b"AAAAAAAAAAAAAAAA").await,
        )
        .await;
        let f = s.facts.telnet.expect("telnet facts");
        assert_eq!(f.options, ["do terminal-type"]);
        assert_eq!(f.banner.map(|b| b.len()), Some(2048));
        assert!(t < Duration::from_secs(2));
        // a plain text service that never negotiates is not claimed as Telnet
        let (s, _) = run(ProbeKind::Telnet, serve(b"hello\r\n", b"").await).await;
        assert_eq!(s.protocol, None);
        assert_eq!(
            s.facts.telnet.and_then(|t| t.banner).as_deref(),
            Some("hello")
        );
    }

    #[tokio::test]
    async fn vnc_3_3_server_decides() {
        // RFB 3.3: the server sends one u32 type; 2 is VNC Authentication, then a challenge
        let (s, _) = run(
            ProbeKind::Vnc,
            serve(b"RFB 003.003\n\x00\x00\x00\x02", b"").await,
        )
        .await;
        let v = s.facts.vnc.expect("vnc facts");
        assert_eq!(
            (v.protocol_version.as_str(), v.no_auth),
            ("3.3", Some(false))
        );
        assert_eq!(
            v.security_types.iter().map(|t| t.code).collect::<Vec<_>>(),
            [2]
        );
        assert!(s.probe_errors.is_empty());
    }

    #[tokio::test]
    async fn rdp_server_without_hybrid_ex() {
        // answers INCONSISTENT_FLAGS to any request with HYBRID_EX, else selects TLS
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut req = [0u8; 19];
                    if s.read_exact(&mut req).await.is_err() {
                        return;
                    }
                    let requested = u32::from_le_bytes([req[15], req[16], req[17], req[18]]);
                    let (ty, value) = if requested & 8 != 0 {
                        (3u8, 4u32)
                    } else if requested & 1 != 0 {
                        (2, 1)
                    } else {
                        (3, 1)
                    };
                    let mut cc = vec![3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, ty, 0, 8, 0];
                    cc.extend_from_slice(&value.to_le_bytes());
                    let _ = s.write_all(&cc).await;
                });
            }
        });
        let (s, _) = run(ProbeKind::Rdp, addr).await;
        let r = s.facts.rdp.expect("rdp facts");
        assert_eq!(
            (
                r.standard_rdp,
                r.tls,
                r.credssp,
                r.credssp_early_auth,
                r.nla_required
            ),
            (
                Some(false),
                Some(true),
                Some(false),
                Some(false),
                Some(false)
            )
        );
        assert_eq!(
            r.negotiation_failures,
            ["INCONSISTENT_FLAGS", "SSL_REQUIRED_BY_SERVER"]
        );
    }

    /// A line-based fake server: the greeting, then one scripted reply per command prefix.
    async fn scripted(
        greeting: &'static str,
        replies: &'static [(&'static str, &'static str)],
    ) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (r, mut w) = s.into_split();
                    let mut lines = tokio::io::BufReader::new(r);
                    let _ = w.write_all(greeting.as_bytes()).await;
                    let mut line = String::new();
                    while tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut line)
                        .await
                        .is_ok_and(|n| n > 0)
                    {
                        let reply = replies
                            .iter()
                            .find(|(cmd, _)| line.starts_with(cmd))
                            .map_or("500 unknown\r\n", |(_, r)| r);
                        if w.write_all(reply.as_bytes()).await.is_err() {
                            break;
                        }
                        line.clear();
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn ftp_without_feat_refusing_anonymous_at_user() {
        let addr = scripted(
            "220-Welcome\r\n220-to the clinic NAS\r\n220 ProFTPD 1.3.5 Server ready\r\n",
            &[
                ("FEAT", "502 not implemented\r\n"),
                ("USER", "530 anonymous not allowed\r\n"),
                ("QUIT", "221 bye\r\n"),
            ],
        )
        .await;
        let (s, _) = run(ProbeKind::Ftp, addr).await;
        let f = s.facts.ftp.expect("ftp facts");
        assert_eq!(
            f.banner,
            "Welcome\nto the clinic NAS\nProFTPD 1.3.5 Server ready"
        );
        assert_eq!((f.anonymous, f.auth_tls), (Some(false), None));
        let sw = s.software.expect("software");
        assert_eq!(
            (sw.product.as_str(), sw.version.as_deref()),
            ("ProFTPD", Some("1.3.5"))
        );
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
        assert_eq!(s.facts.tls, None);
    }

    #[tokio::test]
    async fn ftp_anonymous_logged_in_at_user() {
        let addr = scripted(
            "220 ready\r\n",
            &[
                ("FEAT", "211-Features:\r\n AUTH TLS;TLS-C\r\n211 End\r\n"),
                ("USER", "230 welcome, guest\r\n"),
                ("QUIT", "221 bye\r\n"),
            ],
        )
        .await;
        let (s, _) = run(ProbeKind::Ftp, addr).await;
        let f = s.facts.ftp.expect("ftp facts");
        assert_eq!((f.anonymous, f.auth_tls), (Some(true), Some(true)));
    }

    #[tokio::test]
    async fn vnc_3_7_list_form() {
        let (s, _) = run(
            ProbeKind::Vnc,
            serve(b"RFB 003.007\n\x03\x10\x12\x13", b"").await,
        )
        .await;
        let v = s.facts.vnc.expect("vnc facts");
        assert_eq!(v.protocol_version, "3.7");
        let names: Vec<&str> = v.security_types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Tight", "TLS", "VeNCrypt"]);
        assert_eq!(v.no_auth, Some(false));
    }

    #[tokio::test]
    async fn vnc_not_rfb_and_refusal() {
        let (s, _) = run(
            ProbeKind::Vnc,
            serve(b"SSH-2.0-OpenSSH_9.2p1\r\n", b"").await,
        )
        .await;
        assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
        assert_eq!(s.facts.vnc, None);
        let (s, _) = run(
            ProbeKind::Vnc,
            serve(b"RFB 003.008\n\x00\x00\x00\x00\x04busy", b"").await,
        )
        .await;
        let v = s.facts.vnc.expect("vnc facts");
        assert_eq!(
            (v.failure_reason.as_deref(), v.no_auth),
            (Some("busy"), None)
        );
    }
}
