//! Hostile and broken peers of the remote-access probes (RDP, SMB, SSH, FTP, Telnet, VNC) on
//! 127.0.0.1 (no root needed): every probe ends by its deadline with an error fact, never a
//! hang, a panic or a guess; and servers that answer in unusual but valid ways are read
//! right. The remote-access lab (`crates/probe/tests/remote_access_lab.rs`) has the real
//! daemons.
use std::net::SocketAddr;
use std::time::Duration;

use clinicscan_model::{ProbeErrorKind, Service};
use clinicscan_probe::hooks::{ProbeOptions, run_probe_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// One probe (a TCP probe name of `hooks::run_probe_with`): 2 s, 500 ms an I/O step, 64 KiB.
async fn run(kind: &str, addr: SocketAddr) -> (Service, Duration) {
    let options = ProbeOptions {
        budget: Duration::from_secs(2),
        io_timeout: Duration::from_millis(500),
        max_bytes: 64 * 1024,
        ..ProbeOptions::default()
    };
    let t = std::time::Instant::now();
    let s = run_probe_with(&options, kind, addr).await;
    (s, t.elapsed())
}

fn kinds(s: &Service) -> Vec<ProbeErrorKind> {
    s.probe_errors.iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn ssh_endless_lines_and_silence() {
    let (s, t) = run("ssh", serve(b"", b"not ssh\r\n").await).await;
    assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
    assert_eq!((s.facts.ssh.is_none(), s.protocol.is_none()), (true, true));
    assert!(t < Duration::from_secs(2));
    let (s, _) = run("ssh", serve(b"", b"").await).await;
    assert_eq!(kinds(&s), [ProbeErrorKind::Timeout]);
    // a valid identification, then a KEXINIT length of 2 GiB
    let (s, _) = run(
        "ssh",
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
    let (s, _) = run("rdp", serve(b"HTTP/1.1 400 Bad Request\r\n\r\n", b"").await).await;
    assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
    assert_eq!(s.facts.rdp, None);
    let (s, t) = run("rdp", serve(b"", b"").await).await;
    assert_eq!(kinds(&s), [ProbeErrorKind::Timeout]);
    assert!(t < Duration::from_secs(2));
}

#[tokio::test]
async fn smb_oversized_and_garbage() {
    let (s, _) = run("smb", serve(b"\x00\x7f\xff\xff", b"A").await).await;
    assert_eq!(s.facts.smb, None);
    assert!(
        kinds(&s)
            .iter()
            .all(|k| *k == ProbeErrorKind::InvalidMessage),
        "{:?}",
        s.probe_errors
    );
    let (s, _) = run("smb", serve(b"\x85\x00\x00\x00", b"").await).await;
    assert_eq!(s.facts.smb, None);
    assert!(!s.probe_errors.is_empty());
}

#[tokio::test]
async fn ftp_refusal_and_flood() {
    let (s, _) = run("ftp", serve(b"421 Too many connections\r\n", b"").await).await;
    assert_eq!(kinds(&s), [ProbeErrorKind::PeerIncompatible]);
    let f = s.facts.ftp.expect("banner kept");
    assert_eq!(
        (f.banner.as_str(), f.anonymous),
        ("Too many connections", None)
    );
    let (s, t) = run("ftp", serve(b"220-hello\r\n", b" more\r\n").await).await;
    assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
    assert!(t < Duration::from_secs(2));
}

#[tokio::test]
async fn telnet_flood_stops_at_the_byte_limit() {
    let (s, t) = run("telnet", serve(b"\xff\xfd\x18", b"AAAAAAAAAAAAAAAA").await).await;
    let f = s.facts.telnet.expect("telnet facts");
    assert_eq!(f.options, ["do terminal-type"]);
    assert_eq!(f.banner.map(|b| b.len()), Some(2048));
    assert!(t < Duration::from_secs(2));
    // a plain text service that never negotiates is not claimed as Telnet
    let (s, _) = run("telnet", serve(b"hello\r\n", b"").await).await;
    assert_eq!(s.protocol, None);
    assert_eq!(
        s.facts.telnet.and_then(|t| t.banner).as_deref(),
        Some("hello")
    );
}

#[tokio::test]
async fn vnc_3_3_server_decides() {
    // RFB 3.3: the server sends one u32 type; 2 is VNC Authentication, then a challenge
    let (s, _) = run("vnc", serve(b"RFB 003.003\n\x00\x00\x00\x02", b"").await).await;
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
    let (s, _) = run("rdp", addr).await;
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
    replies: Vec<(&'static str, &'static str)>,
) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let replies = replies.clone();
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

/// The FTP probe against a scripted server that answers FEAT, USER and QUIT.
async fn ftp_against(greeting: &'static str, feat: &'static str, user: &'static str) -> Service {
    let replies = vec![("FEAT", feat), ("USER", user), ("QUIT", "221 bye\r\n")];
    run("ftp", scripted(greeting, replies).await).await.0
}

#[tokio::test]
async fn ftp_without_feat_refusing_anonymous_at_user() {
    let s = ftp_against(
        "220-Welcome\r\n220-to the clinic NAS\r\n220 ProFTPD 1.3.5 Server ready\r\n",
        "502 not implemented\r\n",
        "530 anonymous not allowed\r\n",
    )
    .await;
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
    let s = ftp_against(
        "220 ready\r\n",
        "211-Features:\r\n AUTH TLS;TLS-C\r\n211 End\r\n",
        "230 welcome, guest\r\n",
    )
    .await;
    let f = s.facts.ftp.expect("ftp facts");
    assert_eq!((f.anonymous, f.auth_tls), (Some(true), Some(true)));
}

#[tokio::test]
async fn vnc_3_7_list_form() {
    let (s, _) = run("vnc", serve(b"RFB 003.007\n\x03\x10\x12\x13", b"").await).await;
    let v = s.facts.vnc.expect("vnc facts");
    assert_eq!(v.protocol_version, "3.7");
    let names: Vec<&str> = v.security_types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Tight", "TLS", "VeNCrypt"]);
    assert_eq!(v.no_auth, Some(false));
}

#[tokio::test]
async fn vnc_not_rfb_and_refusal() {
    let (s, _) = run("vnc", serve(b"SSH-2.0-OpenSSH_9.2p1\r\n", b"").await).await;
    assert_eq!(kinds(&s), [ProbeErrorKind::InvalidMessage]);
    assert_eq!(s.facts.vnc, None);
    let (s, _) = run(
        "vnc",
        serve(b"RFB 003.008\n\x00\x00\x00\x00\x04busy", b"").await,
    )
    .await;
    let v = s.facts.vnc.expect("vnc facts");
    assert_eq!(
        (v.failure_reason.as_deref(), v.no_auth),
        (Some("busy"), None)
    );
}
