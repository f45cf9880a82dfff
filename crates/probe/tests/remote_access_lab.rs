//! The remote-access lab test: every remote-access probe against real daemons (xrdp,
//! freerdp-shadow-cli, samba, OpenSSH, vsftpd, inetutils telnetd, TigerVNC) in the namespace
//! `csr-lab` that `tests/labs/remote_access/lab.sh` creates and always deletes; exact facts
//! asserted.
//!
//! Root and the lab's packages needed: see `clinicscan_testlab` for when it does not run.
//! The daemons listen on the namespace's own loopback, so the outer test builds the lab and
//! re-runs this test binary inside the namespace for `inner`, which is `#[ignore]`d so that
//! it never runs on its own. `probe_one` and `record` are run by hand in the lab (see
//! `tests/labs/remote_access/README.md`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clinicscan_model::{
    FtpFacts, NtlmInfo, ProbeErrorKind, RdpFacts, Service, SmbAnonymous, SmbFacts, SmbShare,
    VncFacts, VncSecurityType,
};
use clinicscan_probe::hooks::{self, ProbeOptions};
use clinicscan_testlab::{LabSpec, run_test_in_namespace};

/// A share of an anonymous listing, as the probe reports it.
fn share(
    name: &str,
    kind: &str,
    remark: Option<String>,
    listable: Option<bool>,
    reason: Option<String>,
    entries: Option<u32>,
) -> SmbShare {
    SmbShare {
        name: name.to_string(),
        kind: kind.to_string(),
        special: false,
        remark,
        listable,
        reason,
        entries,
    }
}

/// What the null session sees on the lab's Samba with [pub] (not guest ok) and `listed`:
/// the share list, [pub] refused at the tree connect, and IPC$.
fn lab_listing(listed: Vec<SmbShare>) -> SmbAnonymous {
    let denied = Some("STATUS_ACCESS_DENIED".to_string());
    let mut shares = vec![share("pub", "disk", None, Some(false), denied, None)];
    shares.extend(listed);
    let ipc = Some("IPC Service (csr lab)".to_string());
    shares.push(SmbShare {
        special: true,
        ..share("IPC$", "ipc", ipc, None, None, None)
    });
    SmbAnonymous {
        session: Some(true),
        shares_listed: Some(true),
        reason: None,
        shares_total: Some(shares.len() as u32),
        shares,
    }
}

/// The lab's namespace (`tests/labs/remote_access/lab.sh`).
const LAB_NS: &str = "csr-lab";
/// Set for the test binary re-run inside the lab.
const INNER_ENV: &str = "CLINICSCAN_REMOTE_ACCESS_LAB_INNER";
/// The lab's run directory (daemon logs), for the test binary re-run inside the lab.
const DIR_ENV: &str = "CLINICSCAN_REMOTE_ACCESS_LAB_RUN";

/// A daemon's log in the lab's run directory (`lab.sh`: `DIR/<name>.log`).
fn daemon_log(name: &str) -> String {
    let dir = std::env::var(DIR_ENV).expect("the lab's run directory");
    let file = if name.contains('/') {
        name.to_string()
    } else {
        format!("{name}.log")
    };
    std::fs::read_to_string(std::path::Path::new(&dir).join(&file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn remote_access_lab() {
    if std::env::var_os(INNER_ENV).is_some() {
        return;
    }
    let Some(lab) = LabSpec::script("remote_access")
        .needs(&[
            "/usr/sbin/xrdp",
            "/usr/sbin/smbd",
            "/usr/sbin/sshd",
            "/usr/sbin/vsftpd",
            "/usr/sbin/telnetd",
            "/usr/bin/Xvnc",
            "/usr/bin/freerdp-shadow-cli",
            "/usr/bin/Xvfb",
        ])
        .start()
    else {
        return;
    };
    let dir = lab
        .dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let inner = run_test_in_namespace(LAB_NS, "inner", &[(INNER_ENV, "1"), (DIR_ENV, &dir)]);
    drop(lab);
    match inner {
        Ok(text) => print!("{text}"),
        Err(text) => panic!("the inner lab test failed:\n{text}"),
    }
}

/// 15 s a probe, 3 s an I/O step, 256 KiB.
fn options() -> ProbeOptions {
    ProbeOptions {
        budget: Duration::from_secs(15),
        io_timeout: Duration::from_secs(3),
        max_bytes: 256 * 1024,
        ..ProbeOptions::default()
    }
}

fn lab_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One TCP probe by name (`hooks::run_probe_with`), printed.
async fn run(kind: &str, port: u16) -> Service {
    let t = Instant::now();
    let s = hooks::run_probe_with(&options(), kind, lab_addr(port)).await;
    println!("{kind} port {port}: {:?}\n{s:#?}", t.elapsed());
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
#[ignore = "run inside the lab namespace by remote_access_lab"]
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
    let x = run("rdp", 3389).await;
    assert_eq!(x.protocol.as_deref(), Some("rdp"));
    let mut negotiate = rdp(true, true, false, false, &[]);
    negotiate.encryption_methods = vec!["128-bit RC4".into()];
    negotiate.encryption_level = s("high");
    assert_eq!(x.facts.rdp, Some(negotiate));
    assert_eq!(x.facts.tls.as_ref().map(|t| t.via.as_str()), Some("rdp"));
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    let x = run("rdp", 3390).await;
    // crypt_level=low: xrdp picks 40-bit RC4 even when offered 128-bit, and refuses 56-bit
    let mut standard = rdp(true, false, false, false, &[]);
    standard.encryption_methods = vec!["40-bit RC4".into()];
    standard.encryption_level = s("low");
    assert_eq!(x.facts.rdp, Some(standard));
    assert_eq!(x.facts.tls, None, "no TLS layer to audit");
    let x = run("rdp", 3391).await;
    assert_eq!(
        x.facts.rdp,
        Some(rdp(false, true, false, false, &["SSL_REQUIRED_BY_SERVER"]))
    );
    assert_eq!(x.facts.tls.as_ref().map(|t| t.via.as_str()), Some("rdp"));
    let x = run("rdp", 3392).await;
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
    prelude_handshakes("rdp-ssl", 3389).await;
    prelude_handshakes("rdp-ssl", 3391).await;
    prelude_handshakes("rdp-hybrid", 3392).await;
    prelude_handshakes("ftp-auth-tls", 21).await;
    assert!(
        hooks::tls_prelude(&options(), "rdp-ssl", lab_addr(3390))
            .await
            .is_err(),
        "xrdp security_layer=rdp has no TLS"
    );

    // The RDP probes stop at the CredSSP NTLM challenge (never an AUTHENTICATE): what the
    // NLA server logged, for the record
    println!("shadow.log:\n{}", daemon_log("shadow"));

    // --- SMB
    let x = run("smb", 445).await;
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
            // the null session lists the shares; only [guest] lets it in
            anonymous: Some(lab_listing(vec![share(
                "guest",
                "disk",
                s("guest files"),
                Some(true),
                None,
                Some(2)
            )])),
        })
    );
    let sw = x.software.as_ref().expect("samba names itself");
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("Samba", Some("4.17.12-Debian"))
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    // SMB1 only (an old NAS): no SMB2 dialect, signing facts from the SMB1 SecurityMode;
    // the anonymous listing over SMB1 (srvsvc over SMB1, FIND_FIRST2), the same facts as
    // over SMB2: [guest] and [emr-export-2026] (three files) are listed, [pub] refused
    let x = run("smb", 1445).await;
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
            anonymous: Some(lab_listing(vec![
                share("guest", "disk", s("guest files"), Some(true), None, Some(3)),
                // longer than RAP's 12 characters: listed because srvsvc comes first
                share("emr-export-2026", "disk", None, Some(true), None, Some(3)),
            ])),
        })
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    // An older stack without extended security gets the plain null session (one
    // SESSION_SETUP_ANDX, empty account, no password): the SMB1-only Samba accepts it, and
    // the audit below holds it to the same rule
    assert_eq!(plain_null_session(1445).await, 0);
    let x = run("smb", 4445).await;
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
            // signing mandatory: Samba still lets the null session in (it cannot sign, so
            // it is not asked to); there is no share but IPC$
            anonymous: Some(SmbAnonymous {
                session: Some(true),
                shares_listed: Some(true),
                reason: None,
                shares: vec![SmbShare {
                    special: true,
                    ..share(
                        "IPC$",
                        "ipc",
                        s("IPC Service (Samba 4.17.12-Debian)"),
                        None,
                        None,
                        None
                    )
                }],
                shares_total: Some(1),
            }),
        })
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    // The only authentication the SMB probes make is the null session (empty user, no
    // password): Samba audits it (auth_audit:3 logs every one, successful or failed) as a
    // success, and nothing failed
    for log in ["smb1/log", "signed/log", "nt1/log"] {
        let text = daemon_log(log);
        for failure in ["FAILED", "LOGON_FAILURE", "NO_SUCH_USER", "WRONG_PASSWORD"] {
            assert!(!text.contains(failure), "{log} logged {failure:?}:\n{text}");
        }
        for line in text.lines().filter(|l| l.contains("Auth:")) {
            assert!(
                line.contains("user []\\[]") && line.contains("status [NT_STATUS_OK]"),
                "{log}: an authentication other than a successful null session: {line}"
            );
        }
    }
    // the SMB1 null session is audited, as a success (the loop above: no other line)
    let nt1 = daemon_log("nt1/log");
    assert!(
        nt1.lines()
            .any(|l| l.contains("Auth:") && l.contains("user []\\[]")),
        "the SMB1 anonymous session setup is not audited:\n{nt1}"
    );
    // ... and the audit does log a session setup when there is one: a true anonymous
    // (null) session, empty user and no password, as a guest-share probe would make. Samba
    // logs it as a success (`user []\[] ... status [NT_STATUS_OK]`); any user name instead
    // (smbclient -N sends the Unix user's, "guest" is no account either) is logged as
    // NT_STATUS_NO_SUCH_USER before `map to guest` lets it in
    let listed = std::process::Command::new("smbclient")
        .args([
            "-U",
            "%",
            "-N",
            "-L",
            "//127.0.0.1",
            "-p",
            "4445",
            "-m",
            "SMB3",
        ])
        .output()
        .expect("smbclient");
    println!(
        "smbclient -U % -N -L: {}",
        String::from_utf8_lossy(&listed.stdout)
    );
    let audited = daemon_log("signed/log");
    let anonymous: Vec<&str> = audited
        .lines()
        .filter(|l| l.contains("Auth:") && l.contains("user []\\[]"))
        .collect();
    for line in &anonymous {
        println!("signed/log: {line}");
    }
    assert!(
        !anonymous.is_empty()
            && anonymous
                .iter()
                .all(|l| l.contains("status [NT_STATUS_OK]")),
        "the anonymous session setup is not audited as a success:\n{audited}"
    );

    // --- SSH
    let x = run("ssh", 22).await;
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
    // OpenSSH's defaults: keys, passwords and keyboard-interactive
    assert_eq!(
        ssh.auth_methods,
        ["publickey", "password", "keyboard-interactive"],
        "{x:#?}"
    );
    assert_eq!(ssh.auth_methods_user.as_deref(), Some("root"));
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    let sw = x.software.as_ref().expect("software");
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("OpenSSH", Some("9.2p1"))
    );
    let x = run("ssh", 2222).await;
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

    // No SSH probe looked like a failed login to sshd (fail2ban's words for one); sshd -e
    // logs at INFO: the `none` request shows only as the connection's end
    for log in ["sshd", "sshd-legacy"] {
        let text = daemon_log(log);
        println!("{log}.log:\n{text}");
        for failure in [
            "Failed",
            "Invalid user",
            "authentication failure",
            "not allowed",
        ] {
            assert!(!text.contains(failure), "{log} logged {failure:?}:\n{text}");
        }
    }

    // --- FTP
    let x = run("ftp", 21).await;
    assert_eq!(
        x.facts.ftp,
        Some(FtpFacts {
            banner: "csr-lab FTP ready".into(),
            // vsftpd asks for a password with or without anonymous access: no PASS is sent
            anonymous: None,
            auth_tls: Some(true),
        })
    );
    assert_eq!(
        x.facts.tls.as_ref().map(|t| t.via.as_str()),
        Some("starttls-ftp")
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);
    let x = run("ftp", 2121).await;
    assert_eq!(
        x.facts.ftp,
        Some(FtpFacts {
            banner: "(vsFTPd 3.0.3)".into(),
            anonymous: None,
            auth_tls: Some(false),
        })
    );
    let sw = x.software.as_ref().expect("software");
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("vsFTPd", Some("3.0.3"))
    );
    assert_eq!(x.facts.tls, None);
    // No login of the probe failed: vsftpd logs a refused PASS as "FAIL LOGIN"
    for log in ["vsftpd-events", "vsftpd-closed-events"] {
        let text = daemon_log(log);
        assert!(text.contains("CONNECT"), "{log}: {text}");
        assert!(!text.contains("FAIL"), "{log}: {text}");
    }

    // --- Telnet
    let x = run("telnet", 23).await;
    assert_eq!(x.protocol.as_deref(), Some("telnet"));
    let t = x.facts.telnet.as_ref().expect("telnet facts");
    assert_eq!(t.banner, Some(format!("{host} login:")));
    assert_eq!(
        &t.options[..3],
        ["will authentication", "will encryption", "do terminal-type"]
    );
    assert!(x.probe_errors.is_empty(), "{:?}", x.probe_errors);

    // --- VNC
    let x = run("vnc", 5901).await;
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
    let x = run("vnc", 5902).await;
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
    vnc_is_never_blacklisted().await;
}

/// TigerVNC black-marks every connection from an address until one authenticates, and
/// refuses the address after five ("Too many security failures", `BlacklistThreshold`).
/// Against `None` the probe completes a viewer's handshake, which clears the marks: ten
/// probes in a row all see the server as it is. Against a password-only server nothing can
/// clear them: the sixth connection is refused, and the probe says so with the server's
/// words and no facts.
async fn vnc_is_never_blacklisted() {
    for round in 1..=10 {
        let x = hooks::run_probe_with(&options(), "vnc", lab_addr(5901)).await;
        let vnc = x.facts.vnc.as_ref().expect("vnc facts");
        assert_eq!(vnc.no_auth, Some(true), "probe {round}: {x:#?}");
        assert!(x.probe_errors.is_empty(), "probe {round}: {x:#?}");
    }
    let log = daemon_log("xvnc-none");
    assert!(
        !log.contains("Blacklisted") && !log.contains("Authentication error"),
        "TigerVNC counted the probes as failures:\n{log}"
    );
    println!("vnc 5901: ten probes, no_auth = true every time; Xvnc logged no failure");

    let mut refused = None;
    for round in 2..=8 {
        let x = hooks::run_probe_with(&options(), "vnc", lab_addr(5902)).await;
        if let Some(e) = x
            .probe_errors
            .iter()
            .find(|e| e.kind == ProbeErrorKind::RefusedByPeer)
        {
            assert_eq!(e.detail, "Too many security failures");
            assert_eq!(x.facts.vnc, None, "a refusal teaches nothing: {x:#?}");
            assert_eq!(x.protocol.as_deref(), Some("vnc"));
            refused = Some(round);
            break;
        }
        assert_eq!(x.facts.vnc.and_then(|v| v.no_auth), Some(false));
    }
    // the lab's readiness check connected once too: the refusal comes at the fifth or
    // sixth of the test's connections
    let round = refused.expect("TigerVNC's blacklist (threshold 5) refused no connection");
    assert!((5..=6).contains(&round), "refused at connection {round}");
    println!("vnc 5902: password-only TigerVNC refused connection {round}: RefusedByPeer");
}

/// Each TLS prelude (`hooks::tls_prelude`) leaves a stream on which a real TLS handshake
/// succeeds: what RDP and FTP hand the TLS audit.
async fn prelude_handshakes(prelude: &str, port: u16) {
    let addr = lab_addr(port);
    let stream = hooks::tls_prelude(&options(), prelude, addr)
        .await
        .expect("prelude");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(hooks::accept_any_tls_config()));
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, stream))
        .await
        .expect("handshake in time")
        .expect("TLS handshake after the prelude");
    let (_, conn) = tls.get_ref();
    assert!(conn.peer_certificates().is_some_and(|c| !c.is_empty()));
    println!(
        "prelude {prelude} on port {port}: TLS {:?}",
        conn.protocol_version()
    );
}

/// The status of the plain null session (`smb1::null_session_setup`) on `port`, after an
/// SMB1 negotiate that does not ask for extended security.
async fn plain_null_session(port: u16) -> u32 {
    use clinicscan_wire::{smb, smb1};
    let mut c = Recording::connect(port).await;
    let mut negotiate = smb::smb1_negotiate();
    negotiate[4 + 11] &= !0x08; // FLAGS2_EXTENDED_SECURITY
    c.send(&negotiate).await;
    let m = c.take(smb::message_complete).await.expect("negotiate");
    let neg = smb::parse_smb1_negotiate(&m).expect("SMB1 negotiate");
    assert!(neg.accepted && !neg.extended_security, "{neg:?}");
    c.send(&smb1::null_session_setup(smb1::Ids {
        mid: 1,
        ..Default::default()
    }))
    .await;
    let n = c.read_framed(smb::message_complete).await.expect("setup");
    smb::parse_smb1_session_setup(&c.buf[..n])
        .expect("SMB1 session setup")
        .status
}

/// Runs one probe, for side-by-side timing with nmap inside the lab namespace
/// (`compare-nmap.sh`): `CLINICSCAN_LAB_PROBE=rdp:3389 ip netns exec csr-lab <test binary>
/// probe_one --exact --ignored --nocapture`.
#[tokio::test]
#[ignore = "runs one probe by hand inside the lab namespace"]
async fn probe_one() {
    let Ok(spec) = std::env::var("CLINICSCAN_LAB_PROBE") else {
        return;
    };
    let (kind, port) = spec.split_once(':').expect("kind:port");
    assert!(
        ["rdp", "smb", "ssh", "ftp", "telnet", "vnc"].contains(&kind),
        "unknown probe {kind}"
    );
    run(kind, port.parse().expect("port")).await;
}

// ---------------------------------------------------------------- fixture recording

/// One connection of the recording client: 3 s a step, 1 MiB in all.
struct Recording<S> {
    stream: S,
    buf: Vec<u8>,
    left: usize,
}

const STEP: Duration = Duration::from_secs(3);

impl Recording<tokio::net::TcpStream> {
    async fn connect(port: u16) -> Self {
        let stream = tokio::time::timeout(STEP, tokio::net::TcpStream::connect(lab_addr(port)))
            .await
            .expect("connect in time")
            .expect("connect");
        Recording {
            stream,
            buf: Vec::new(),
            left: 1 << 20,
        }
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Recording<S> {
    async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        tokio::time::timeout(STEP, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write");
    }

    /// One read into `buf`; an error on a timeout, a close or the 1 MiB limit.
    async fn read_some(&mut self) -> Result<usize, String> {
        use tokio::io::AsyncReadExt;
        if self.left == 0 {
            return Err("1 MiB read".to_string());
        }
        let mut chunk = [0u8; 4096];
        let want = chunk.len().min(self.left);
        match tokio::time::timeout(STEP, self.stream.read(&mut chunk[..want])).await {
            Err(_) => Err("timed out".to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(0)) => Err("closed".to_string()),
            Ok(Ok(n)) => {
                self.left -= n;
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
        }
    }

    /// Reads until the wire module's framing function `complete` finds a whole message in
    /// `buf`; its length.
    async fn read_framed<E>(
        &mut self,
        complete: fn(&[u8]) -> Result<Option<usize>, E>,
    ) -> Result<usize, String> {
        loop {
            match complete(&self.buf) {
                Ok(Some(n)) => return Ok(n),
                Ok(None) => {}
                Err(_) => return Err("not a message of this protocol".to_string()),
            }
            self.read_some().await?;
        }
    }

    /// The next whole message (as `complete` frames it), taken out of the buffer.
    async fn take<E>(
        &mut self,
        complete: fn(&[u8]) -> Result<Option<usize>, E>,
    ) -> Result<Vec<u8>, String> {
        let n = self.read_framed(complete).await?;
        Ok(self.buf.drain(..n).collect())
    }
}

/// The SMB2 anonymous share listing against the lab's [guest] (listable) and [pub] (not
/// guest ok), each answer as received (`CLINICSCAN_RECORD=smb-shares`: only these).
async fn record_smb_shares(save: &impl Fn(&str, &str, &[u8])) {
    use clinicscan_wire::{ntlm, smb, smb2, srvsvc};
    let mut c = Recording::connect(445).await;
    let mut ids = smb2::Ids::default();
    macro_rules! ask {
        ($req:expr, $name:expr) => {{
            c.send(&$req).await;
            ids.message_id += 1;
            let name: String = $name.into();
            // an interim STATUS_PENDING answer (Samba's to a pipe IOCTL) is skipped
            let m = loop {
                let m = c.take(smb::message_complete).await.expect("an answer");
                if !smb2::parse_response(&m).expect("SMB2").is_interim() {
                    break m;
                }
            };
            if !name.is_empty() {
                save("smb", &name, &m);
            }
            m
        }};
    }
    ask!(smb::smb2_negotiate(&smb::DIALECTS), "");
    let m = ask!(
        smb2::session_setup(&ntlm::spnego_init(&ntlm::negotiate()), ids),
        ""
    );
    ids.session_id = smb2::parse_session_setup(&m).expect("leg 1").session_id;
    let blob = ntlm::spnego_response(&ntlm::anonymous_authenticate());
    ask!(
        smb2::session_setup(&blob, ids),
        "samba-smb1-smb2-session-setup-anonymous.bin"
    );
    let m = ask!(
        smb2::tree_connect(r"\\127.0.0.1\IPC$", ids),
        "samba-smb1-smb2-tree-connect-ipc.bin"
    );
    ids.tree_id = smb2::parse_tree_connect(&m).expect("tree").tree_id;
    let m = ask!(
        smb2::open_pipe("srvsvc", ids),
        "samba-smb1-smb2-create-srvsvc.bin"
    );
    let pipe = smb2::parse_create(&m).expect("create").expect("pipe");
    ask!(
        smb2::pipe_transceive(pipe, &srvsvc::bind(1), 16384, ids),
        "samba-smb1-smb2-ioctl-bind-ack.bin"
    );
    ask!(
        smb2::pipe_transceive(
            pipe,
            &srvsvc::net_share_enum_all(r"\\127.0.0.1", 2),
            16384,
            ids
        ),
        "samba-smb1-smb2-ioctl-share-enum.bin"
    );
    ask!(smb2::close(pipe, ids), "");
    ask!(smb2::tree_disconnect(ids), "");
    for share in ["guest", "pub"] {
        let m = ask!(
            smb2::tree_connect(&format!(r"\\127.0.0.1\{share}"), ids),
            format!("samba-smb1-smb2-tree-connect-{share}.bin")
        );
        let t = smb2::parse_tree_connect(&m).expect("tree");
        if t.status != 0 {
            continue;
        }
        ids.tree_id = t.tree_id;
        let m = ask!(
            smb2::open_share_root(ids),
            format!("samba-smb1-smb2-create-root-{share}.bin")
        );
        let dir = smb2::parse_create(&m).expect("create").expect("root");
        ask!(
            smb2::query_directory(dir, 16384, ids),
            format!("samba-smb1-smb2-query-directory-{share}.bin")
        );
        ask!(smb2::close(dir, ids), "");
        ask!(smb2::tree_disconnect(ids), "");
    }
    let _ = ask!(smb2::logoff(ids), "");
    let _ = ids;
}

/// The SMB1 anonymous share listing against the SMB1-only server's [guest] and
/// [emr-export-2026] (listable) and [pub] (not guest ok), by srvsvc and by RAP, each answer
/// as received (`CLINICSCAN_RECORD=smb1-shares`: only these).
async fn record_smb1_shares(save: &impl Fn(&str, &str, &[u8])) {
    use clinicscan_wire::{ntlm, smb, smb1, srvsvc};
    let mut c = Recording::connect(1445).await;
    let mut ids = smb1::Ids::default();
    macro_rules! ask {
        ($req:expr, $name:expr) => {{
            c.send(&$req).await;
            ids.mid += 1;
            let name: String = $name.into();
            let m = c.take(smb::message_complete).await.expect("an answer");
            if !name.is_empty() {
                save("smb", &name, &m);
            }
            m
        }};
    }
    let m = ask!(smb::smb1_negotiate(), "");
    let buffer = smb::parse_smb1_negotiate(&m)
        .expect("negotiate")
        .max_buffer_size;
    println!("SMB1 MaxBufferSize {buffer}");
    ids.mid = 1;
    let m = ask!(
        smb1::session_setup(&ntlm::spnego_init(&ntlm::negotiate()), ids),
        ""
    );
    ids.uid = smb::smb1_uid(&m).expect("uid");
    ask!(
        smb1::session_setup(&ntlm::spnego_response(&ntlm::anonymous_authenticate()), ids),
        "samba-nt1-smb1-session-setup-anonymous.bin"
    );
    let m = ask!(
        smb1::tree_connect(r"\\127.0.0.1\IPC$", ids),
        "samba-nt1-smb1-tree-connect-ipc.bin"
    );
    ids.tid = smb1::parse_status(&m, smb1::TREE_CONNECT_ANDX)
        .expect("tree")
        .1;
    let m = ask!(
        smb1::open_pipe(r"\srvsvc", ids),
        "samba-nt1-smb1-open-srvsvc.bin"
    );
    let fid = smb1::parse_open(&m).expect("open").expect("pipe");
    ask!(
        smb1::transact_pipe(fid, &srvsvc::bind(1), 16 * 1024, ids),
        "samba-nt1-smb1-transact-bind-ack.bin"
    );
    ask!(
        smb1::transact_pipe(
            fid,
            &srvsvc::net_share_enum_all(r"\\127.0.0.1", 2),
            16 * 1024,
            ids
        ),
        "samba-nt1-smb1-transact-share-enum.bin"
    );
    ask!(smb1::close(fid, ids), "");
    // RAP: names of at most 12 characters ([emr-export-2026] is left out)
    ask!(
        smb1::rap_share_enum(16 * 1024, ids),
        "samba-nt1-smb1-rap-share-enum.bin"
    );
    ask!(smb1::tree_disconnect(ids), "");
    for share in ["guest", "pub", "emr-export-2026"] {
        let m = ask!(
            smb1::tree_connect(&format!(r"\\127.0.0.1\{share}"), ids),
            format!("samba-nt1-smb1-tree-connect-{share}.bin")
        );
        let (status, tid) = smb1::parse_status(&m, smb1::TREE_CONNECT_ANDX).expect("tree");
        if status != 0 {
            continue;
        }
        ids.tid = tid;
        ask!(
            smb1::find_first_top(512, 16 * 1024, ids),
            format!("samba-nt1-smb1-find-first-{share}.bin")
        );
        ask!(smb1::tree_disconnect(ids), "");
    }
    ids.tid = 0;
    let _ = ask!(smb1::logoff(ids), "");

    // A client that does not ask for extended security: the negotiate without it, and the
    // null session (empty account, no password) such a server gets
    c = Recording::connect(1445).await;
    ids = smb1::Ids {
        mid: ids.mid,
        ..Default::default()
    };
    let mut negotiate = smb::smb1_negotiate();
    negotiate[4 + 11] &= !0x08; // FLAGS2_EXTENDED_SECURITY
    let m = ask!(negotiate, "samba-nt1-smb1-negotiate-plain.bin");
    assert!(
        !smb::parse_smb1_negotiate(&m)
            .expect("negotiate")
            .extended_security
    );
    ask!(
        smb1::null_session_setup(ids),
        "samba-nt1-smb1-session-setup-null.bin"
    );
    let _ = ids;
}

/// Records the real daemons' bytes into `fixtures/` (run by hand inside the lab namespace:
/// `CLINICSCAN_RECORD=1 ip netns exec csr-lab <test binary> record --exact --ignored`;
/// `CLINICSCAN_RECORD=rdp`: only the RDP files).
#[tokio::test]
#[ignore = "records fixtures by hand inside the lab namespace"]
async fn record() {
    use clinicscan_wire::{ftp, ntlm, rdp, smb, ssh, telnet};

    if std::env::var_os("CLINICSCAN_RECORD").is_none() {
        return;
    }
    let root = clinicscan_testlab::workspace().join("fixtures");
    let save = |dir: &str, name: &str, bytes: &[u8]| {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).expect("fixture dir");
        std::fs::write(d.join(name), bytes).expect("write fixture");
        println!("recorded {dir}/{name} ({} bytes)", bytes.len());
    };
    if std::env::var("CLINICSCAN_RECORD").as_deref() == Ok("smb-shares") {
        record_smb_shares(&save).await;
        return;
    }
    if std::env::var("CLINICSCAN_RECORD").as_deref() == Ok("smb1-shares") {
        record_smb1_shares(&save).await;
        return;
    }

    // One request, the framed answer; a refusal by close is recorded as it arrived.
    async fn ask<E>(
        port: u16,
        request: &[u8],
        complete: fn(&[u8]) -> Result<Option<usize>, E>,
    ) -> Vec<u8> {
        let mut c = Recording::connect(port).await;
        c.send(request).await;
        if let Ok(n) = c.read_framed(complete).await {
            c.buf.truncate(n);
        }
        c.buf
    }

    // RDP standard security: the MCS Connect Response to an offer of every method
    for (port, label) in [(3389, "xrdp-negotiate-high"), (3390, "xrdp-rdp-low")] {
        let mut c = Recording::connect(port).await;
        c.send(&rdp::connection_request(rdp::PROTOCOL_RDP)).await;
        c.take(rdp::tpkt_complete).await.expect("cc");
        c.send(&rdp::mcs_connect_initial(rdp::ENCRYPTION_ALL, 0))
            .await;
        let n = c.read_framed(rdp::tpkt_complete).await.expect("mcs");
        save(
            "rdp",
            &format!("{label}-mcs-connect-response.bin"),
            &c.buf[..n],
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
        let mut c = Recording::connect(3392).await;
        c.send(&rdp::connection_request(rdp::PROTOCOL_HYBRID)).await;
        let _ = c.read_framed(rdp::tpkt_complete).await;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(hooks::accept_any_tls_config()));
        let name = rustls::pki_types::ServerName::IpAddress(lab_addr(3392).ip().into());
        let tls = connector.connect(name, c.stream).await.expect("tls");
        let mut c = Recording {
            stream: tls,
            buf: Vec::new(),
            left: c.left,
        };
        c.send(&rdp::ts_request(&ntlm::negotiate())).await;
        let n = c.read_framed(rdp::der_complete).await.expect("tsrequest");
        save(
            "ntlm",
            "freerdp-credssp-tsrequest-challenge.bin",
            &c.buf[..n],
        );
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
        let mut c = Recording::connect(port).await;
        c.send(&smb::smb2_negotiate(&smb::DIALECTS)).await;
        c.take(smb::message_complete).await.expect("neg");
        let blob = ntlm::spnego_init(&ntlm::negotiate());
        c.send(&smb::smb2_session_setup(&blob, 1)).await;
        let n = c.read_framed(smb::message_complete).await.expect("ss");
        save(
            "smb",
            &format!("{label}-smb2-session-setup.bin"),
            &c.buf[..n],
        );
    }
    {
        let mut c = Recording::connect(445).await;
        c.send(&smb::smb1_negotiate()).await;
        let m = c.take(smb::message_complete).await.expect("neg");
        let uid = smb::smb1_uid(&m).unwrap_or(0);
        let blob = ntlm::spnego_init(&ntlm::negotiate());
        c.send(&smb::smb1_session_setup(&blob, uid)).await;
        let n = c.read_framed(smb::message_complete).await.expect("ss");
        save("smb", "samba-smb1-smb1-session-setup.bin", &c.buf[..n]);
    }
    record_smb_shares(&save).await;
    record_smb1_shares(&save).await;

    // SSH: identification and KEXINIT as sent
    for (port, label) in [(22, "openssh-default"), (2222, "openssh-legacy")] {
        let mut c = Recording::connect(port).await;
        c.send(ssh::CLIENT_IDENT).await;
        let n = c.read_framed(ssh::ident_complete).await.expect("ident");
        // read until the KEXINIT packet is whole
        loop {
            if let Ok(Some(k)) = ssh::packet_complete(&c.buf[n..]) {
                c.buf.truncate(n + k);
                break;
            }
            c.read_some().await.expect("kexinit");
        }
        save("ssh", &format!("{label}.bin"), &c.buf);
    }

    // FTP: the whole server side of greeting, FEAT, USER, PASS, QUIT
    for (port, label) in [(21, "vsftpd-anonymous"), (2121, "vsftpd-no-anonymous")] {
        let mut c = Recording::connect(port).await;
        let mut all = Vec::new();
        for cmd in [
            None,
            Some("FEAT"),
            Some("USER anonymous"),
            Some("PASS clinicscan@example.invalid"),
            Some("QUIT"),
        ] {
            if let Some(cmd) = cmd {
                c.send(format!("{cmd}\r\n").as_bytes()).await;
            }
            match c.read_framed(ftp::reply_complete).await {
                Ok(n) => all.extend(c.buf.drain(..n)),
                Err(_) => break,
            }
        }
        save("ftp", &format!("{label}.bin"), &all);
    }

    // Telnet: everything the server sent while we refused every option
    {
        let mut c = Recording::connect(23).await;
        let mut all = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(_)) = tokio::time::timeout_at(until, c.read_some()).await {
            let sc = telnet::scan(&c.buf);
            all.extend_from_slice(&c.buf[..sc.consumed]);
            c.buf.drain(..sc.consumed);
            if !sc.reply.is_empty() {
                c.send(&sc.reply).await;
            }
        }
        save("telnet", "inetutils-telnetd.bin", &all);
    }

    // VNC: version, then the security types after our 3.8 reply
    for (port, label) in [(5901, "tigervnc-none"), (5902, "tigervnc-vncauth")] {
        let mut c = Recording::connect(port).await;
        while c.buf.len() < 12 {
            c.read_some().await.expect("version");
        }
        c.send(b"RFB 003.008\n").await;
        let until = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Ok(_)) = tokio::time::timeout_at(until, c.read_some()).await {}
        save("vnc", &format!("{label}.bin"), &c.buf);
    }
}
