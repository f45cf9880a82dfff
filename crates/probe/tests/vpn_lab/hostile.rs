//! Hostile and broken peers on 127.0.0.1 (no root needed): silence, an immediate close,
//! garbage, an endless stream, a length field just under the limits — every probe must end
//! by its deadline with a `ProbeError` and no guessed facts. Also drives the MSSQL and SSDP
//! probes end to end with the fixture replies, since no SQL Server can run here.
//!
//! Compiled into the crate's unit tests from `proto/ike.rs`, like `lab.rs`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clinicscan_model::{PortReason, PortState, ProbeErrorKind, Service, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use crate::proto::{ProbeContext, ProbeKind, run};

#[derive(Clone)]
enum Peer {
    /// Accepts and never sends.
    Silent,
    /// Accepts and closes at once.
    Close,
    /// Sends these bytes, then reads until the client goes.
    Send(Vec<u8>),
    /// Sends these bytes, then 'A' without end (bounded at 8 MiB).
    SendThenFlood(Vec<u8>),
}

fn ctx(addr: SocketAddr) -> ProbeContext {
    ProbeContext {
        addr,
        deadline: tokio::time::Instant::now() + Duration::from_secs(3),
        io_timeout: Duration::from_millis(300),
        max_bytes: 16 * 1024,
        now: chrono::Utc::now(),
        server_name: None,
        snmp_communities: vec!["public".to_string()],
        pace: crate::pace::Pace::default(),
    }
}

async fn tcp_peer(peer: Peer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let peer = peer.clone();
            tokio::spawn(async move {
                match peer {
                    Peer::Silent => tokio::time::sleep(Duration::from_secs(5)).await,
                    Peer::Close => {}
                    Peer::Send(b) => {
                        let _ = s.write_all(&b).await;
                        let mut sink = [0u8; 1024];
                        while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
                    }
                    Peer::SendThenFlood(b) => {
                        let _ = s.write_all(&b).await;
                        let chunk = [b'A'; 4096];
                        for _ in 0..2048 {
                            if s.write_all(&chunk).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A UDP peer answering every datagram with `reply` (or never, when `None`).
async fn udp_peer(reply: Option<Vec<u8>>) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 9000];
        for _ in 0..64 {
            let Ok((_, from)) = sock.recv_from(&mut buf).await else {
                break;
            };
            if let Some(r) = &reply {
                let _ = sock.send_to(r, from).await;
            }
        }
    });
    addr
}

async fn probe(kind: ProbeKind, addr: SocketAddr, transport: Transport) -> Service {
    let (state, reason) = match transport {
        Transport::Tcp => (PortState::Open, PortReason::SynAck),
        Transport::Udp => (PortState::OpenFiltered, PortReason::NoResponse),
    };
    let mut s = Service::port_only(addr.port(), transport, state, reason);
    let t = Instant::now();
    run(kind, &ctx(addr), &mut s).await;
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{kind:?} took {:?}",
        t.elapsed()
    );
    s
}

fn no_facts(s: &Service) -> bool {
    let f = &s.facts;
    f.mysql.is_none()
        && f.postgres.is_none()
        && f.mssql.is_none()
        && f.pptp.is_none()
        && f.dicom.is_none()
        && f.ike.is_none()
        && f.snmp.is_none()
        && f.upnp.is_none()
        && s.protocol.is_none()
        && s.software.is_none()
}

const TCP_KINDS: [ProbeKind; 5] = [
    ProbeKind::Mysql,
    ProbeKind::Postgres,
    ProbeKind::Mssql,
    ProbeKind::Pptp,
    ProbeKind::Dicom,
];

fn kinds(s: &Service) -> Vec<ProbeErrorKind> {
    s.probe_errors.iter().map(|e| e.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_probes_end_on_silence_close_and_garbage() {
    let cases = [
        (Peer::Silent, ProbeErrorKind::Timeout),
        (Peer::Close, ProbeErrorKind::ConnectionClosed),
        (Peer::Send(vec![0xff; 300]), ProbeErrorKind::InvalidMessage),
        (
            Peer::SendThenFlood(Vec::new()),
            ProbeErrorKind::InvalidMessage,
        ),
    ];
    for (peer, expected) in cases {
        let addr = tcp_peer(peer).await;
        for kind in TCP_KINDS {
            let s = probe(kind, addr, Transport::Tcp).await;
            assert_eq!(kinds(&s), vec![expected], "{kind:?}: {:?}", s.probe_errors);
            assert!(no_facts(&s), "{kind:?}: {s:?}");
        }
        // OpenVPN over TCP: silence or a close is what tls-auth looks like: unknown.
        let s = probe(ProbeKind::OpenVpnTcp, addr, Transport::Tcp).await;
        if expected == ProbeErrorKind::InvalidMessage {
            assert_eq!(kinds(&s), vec![expected]);
            assert_eq!(s.facts.openvpn, None);
        } else {
            assert_eq!(kinds(&s), vec![ProbeErrorKind::NoReply]);
            assert_eq!(s.facts.openvpn.and_then(|f| f.responded), None);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_length_just_inside_the_limits_cannot_exceed_the_byte_budget() {
    // A DICOM PDU header announcing 60000 bytes, then an endless stream.
    let addr = tcp_peer(Peer::SendThenFlood(vec![2, 0, 0, 0, 0xea, 0x60])).await;
    let s = probe(ProbeKind::Dicom, addr, Transport::Tcp).await;
    assert_eq!(kinds(&s), vec![ProbeErrorKind::TooLarge]);
    assert!(no_facts(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mssql_probe_reads_prelogin_responses() {
    let dir = format!("{}/../../fixtures/mssql", env!("CARGO_MANIFEST_DIR"));
    let cases = [
        (
            "csv-2019-encrypt-off.bin",
            "15.0.2000",
            "off",
            false,
            "Microsoft SQL Server 2019",
        ),
        (
            "csv-2022-encrypt-req.bin",
            "16.0.1000",
            "required",
            true,
            "Microsoft SQL Server 2022",
        ),
        (
            "csv-2008r2-encrypt-not-sup.bin",
            "10.50.1600",
            "not-supported",
            false,
            "Microsoft SQL Server 2008",
        ),
    ];
    for (file, version, encryption, forced, product) in cases {
        let bytes = std::fs::read(format!("{dir}/{file}")).unwrap();
        let addr = tcp_peer(Peer::Send(bytes)).await;
        let s = probe(ProbeKind::Mssql, addr, Transport::Tcp).await;
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
        assert_eq!(s.protocol.as_deref(), Some("mssql"));
        assert_eq!(s.software.map(|x| x.product), Some(product.to_string()));
        let f = s.facts.mssql.unwrap();
        assert_eq!(f.version.as_deref(), Some(version));
        assert_eq!(f.encryption, encryption);
        assert_eq!(f.encryption_forced, Some(forced));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssdp_probe_reads_a_unicast_reply() {
    let path = format!(
        "{}/../../fixtures/ssdp/csv-minidlna-response.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let addr = udp_peer(Some(std::fs::read(path).unwrap())).await;
    let s = probe(ProbeKind::Ssdp, addr, Transport::Udp).await;
    assert_eq!(
        (s.state, s.reason),
        (PortState::Open, PortReason::UdpResponse)
    );
    let f = s.facts.upnp.unwrap();
    assert_eq!(
        f.server.as_deref(),
        Some("Debian DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0")
    );
    assert_eq!(
        f.location.as_deref(),
        Some("http://10.231.147.2:8200/rootDesc.xml")
    );
    assert_eq!(
        f.usn.as_deref(),
        Some("uuid:4d696e69-444c-164e-9d41-000000c5a1ab::upnp:rootdevice")
    );
    assert_eq!(f.st.as_deref(), Some("upnp:rootdevice"));
}

const UDP_KINDS: [ProbeKind; 4] = [
    ProbeKind::Ike,
    ProbeKind::Snmp,
    ProbeKind::Ssdp,
    ProbeKind::OpenVpnUdp,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_probes_on_a_garbage_answering_peer_say_open_but_unproven() {
    let addr = udp_peer(Some(vec![0xff; 40])).await;
    for kind in UDP_KINDS {
        let s = probe(kind, addr, Transport::Udp).await;
        assert_eq!(
            (s.state, s.reason),
            (PortState::Open, PortReason::UdpResponse),
            "{kind:?}"
        );
        assert!(no_facts(&s), "{kind:?}: {s:?}");
        assert_eq!(s.facts.openvpn, None);
        assert!(
            kinds(&s).contains(&ProbeErrorKind::InvalidMessage),
            "{kind:?}: {s:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_probes_on_a_silent_peer_stay_open_filtered_with_unknown_facts() {
    let addr = udp_peer(None).await;
    for kind in UDP_KINDS {
        let s = probe(kind, addr, Transport::Udp).await;
        assert_eq!(
            (s.state, s.reason),
            (PortState::OpenFiltered, PortReason::NoResponse)
        );
        assert_eq!(kinds(&s), vec![ProbeErrorKind::NoReply], "{kind:?}");
        match kind {
            ProbeKind::Ike => {
                let f = s.facts.ike.unwrap();
                assert_eq!((f.v1, f.v2, f.v1_aggressive_psk), (None, None, None));
            }
            ProbeKind::OpenVpnUdp => assert_eq!(s.facts.openvpn.unwrap().responded, None),
            _ => assert!(no_facts(&s)),
        }
    }
}
