//! The VPN / management / medical / database lab: every probe of the `vpn` set against
//! real daemons (strongSwan charon, OpenVPN, pptpd, net-snmp, DCMTK storescp and dcmqrscp,
//! PostgreSQL, MariaDB, MiniDLNA) in the namespaces `tests/labs/vpn/lab.sh` creates and
//! always deletes. Root and the lab's packages needed: see `clinicscan_testlab` for when it
//! does not run. Run: `cargo test -p clinicscan-probe --test vpn_lab -- --nocapture`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clinicscan_model::{IkeFacts, PortReason, PortState, ProbeErrorKind, Service, Transport};
use clinicscan_probe::hooks::{ProbeOptions, run_probe_with};
use clinicscan_testlab::LabSpec;

const NS_IP: &str = "10.231.147.2";
/// The second namespace: strongSwan with aggressive mode PSK allowed.
const NS_IP2: &str = "10.231.147.10";

/// 15 s a probe, 2 s an I/O step, 256 KiB; "csv-wrong" is a community the agent ignores.
fn options() -> ProbeOptions {
    ProbeOptions {
        budget: Duration::from_secs(15),
        io_timeout: Duration::from_secs(2),
        max_bytes: 256 * 1024,
        snmp_communities: vec!["public".to_string(), "csv-wrong".to_string()],
        ..ProbeOptions::default()
    }
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// `kind`: a probe name of `hooks::run_probe_with`; UDP ones come as open|filtered, TCP ones
/// as open, as the engine hands them over.
async fn probe(kind: &str, port: u16) -> (Service, Duration) {
    probe_at(NS_IP, kind, port).await
}

async fn probe_at(ip: &str, kind: &str, port: u16) -> (Service, Duration) {
    let t = Instant::now();
    let s = run_probe_with(&options(), kind, addr(ip, port)).await;
    let took = t.elapsed();
    eprintln!(
        "vpn_lab: {kind} {port}/{:?} in {took:?}: {s:#?}",
        s.transport
    );
    (s, took)
}

#[test]
fn vpn_lab() {
    let Some(lab) = LabSpec::script("vpn")
        .needs(&[
            "/usr/lib/ipsec/charon",
            "swanctl",
            "openvpn",
            "pptpd",
            "snmpd",
            "storescp",
            "dcmqrscp",
            "/usr/lib/postgresql/15/bin/postgres",
            "mariadbd",
        ])
        .start()
    else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        ike().await;
        openvpn().await;
        pptp().await;
        snmp().await;
        dicom().await;
        databases(lab.dir()).await;
        ssdp().await;
        udp_states().await;
    });
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn vendor_names(f: &IkeFacts) -> Vec<Option<String>> {
    f.vendor_ids.iter().map(|v| v.name.clone()).collect()
}

async fn ike() {
    let strongswan_vids = vec![
        Some("strongSwan".to_string()),
        Some("XAUTH".to_string()),
        Some("Dead Peer Detection v1.0".to_string()),
    ];
    for port in [500, 4500] {
        let (s, took) = probe("ike", port).await;
        assert_eq!(
            (s.state, s.reason),
            (PortState::Open, PortReason::UdpResponse)
        );
        assert_eq!(s.protocol.as_deref(), Some("ike"));
        assert_eq!(
            s.software.as_ref().map(|x| x.product.as_str()),
            Some("strongSwan")
        );
        let f = s.facts.ike.expect("ike facts");
        assert_eq!(f.v1, Some(true));
        assert_eq!(f.v2, Some(true));
        assert_eq!(
            f.v1_transform.as_deref(),
            Some("AES-CBC-256/SHA2-256/MODP2048/PSK")
        );
        assert_eq!(
            f.v2_transform.as_deref(),
            Some("AES-CBC-256/HMAC-SHA2-256-128/PRF-HMAC-SHA2-256/ECP256")
        );
        // The first IKE_SA_INIT carries a MODP2048 KE; the responder asks for ECP256.
        assert!(
            f.notifications.contains(&"INVALID_KE_PAYLOAD".to_string()),
            "{f:?}"
        );
        // The configured fallback 3des-sha1-modp1024 is found by the weak-only proposal.
        assert_eq!(f.weak_parameters, strs(&["3DES", "DH group 2 (MODP1024)"]));
        // Aggressive mode PSK is refused by default ("disabled for security reasons").
        assert_eq!(f.v1_aggressive_psk, Some(false));
        assert!(
            f.notifications
                .contains(&"AUTHENTICATION_FAILED".to_string()),
            "{f:?}"
        );
        assert!(
            f.notifications
                .contains(&"MULTIPLE_AUTH_SUPPORTED".to_string()),
            "{f:?}"
        );
        assert_eq!(vendor_names(&f), strongswan_vids);
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    // A responder that allows aggressive mode with PSK, IKEv1 only.
    let (s, _) = probe_at(NS_IP2, "ike", 500).await;
    let f = s.facts.ike.expect("ike facts");
    assert_eq!(f.v1, Some(true));
    assert_eq!(f.v1_aggressive_psk, Some(true));
    assert_eq!(
        f.v1_transform.as_deref(),
        Some("AES-CBC-128/SHA1/MODP1024/PSK")
    );
    assert_eq!(f.weak_parameters, strs(&["DH group 2 (MODP1024)"]));
    assert_eq!(f.v2, Some(false));
    assert_eq!(f.v2_transform, None);
    assert_eq!(f.notifications, strs(&["NO_PROPOSAL_CHOSEN"]));
    assert_eq!(vendor_names(&f), strongswan_vids);
}

async fn openvpn() {
    for (kind, transport) in [
        ("openvpn-udp", Transport::Udp),
        ("openvpn-tcp", Transport::Tcp),
    ] {
        let (s, _) = probe(kind, 1194).await;
        assert_eq!(s.transport, transport);
        assert_eq!(s.state, PortState::Open);
        assert_eq!(s.protocol.as_deref(), Some("openvpn"));
        let f = s.facts.openvpn.expect("openvpn facts");
        assert_eq!(f.responded, Some(true));
        assert_eq!(f.opcode.as_deref(), Some("P_CONTROL_HARD_RESET_SERVER_V2"));
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
    }
    // tls-auth: the server drops the unauthenticated reset. Unknown, not absent.
    let (s, _) = probe("openvpn-udp", 1195).await;
    assert_eq!(
        (s.state, s.reason),
        (PortState::OpenFiltered, PortReason::NoResponse)
    );
    assert_eq!(s.protocol, None);
    let f = s.facts.openvpn.expect("openvpn facts");
    assert_eq!((f.responded, f.opcode), (None, None));
    assert_eq!(s.probe_errors.len(), 1);
    assert_eq!(s.probe_errors[0].kind, ProbeErrorKind::NoReply);
}

async fn pptp() {
    let (s, _) = probe("pptp", 1723).await;
    assert_eq!(s.protocol.as_deref(), Some("pptp"));
    let f = s.facts.pptp.expect("pptp facts");
    assert_eq!(f.result_code, 1);
    assert_eq!(f.protocol_version.as_deref(), Some("1.0"));
    assert_eq!(f.firmware, Some(1));
    assert_eq!(f.hostname.as_deref(), Some("local"));
    assert_eq!(f.vendor.as_deref(), Some("linux"));
    assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
}

async fn snmp() {
    let (s, took) = probe("snmp", 161).await;
    assert_eq!(
        (s.state, s.reason),
        (PortState::Open, PortReason::UdpResponse)
    );
    assert_eq!(s.protocol.as_deref(), Some("snmp"));
    let f = s.facts.snmp.expect("snmp facts");
    // "csv-wrong" is silently ignored by the agent.
    assert_eq!(f.communities_accepted, strs(&["public"]));
    assert_eq!(f.versions, strs(&["v1", "v2c", "v3"]));
    assert_eq!(f.sys_descr.as_deref(), Some("clinicscan lab snmpd"));
    assert_eq!(f.sys_name.as_deref(), Some("csv-snmp"));
    assert_eq!(f.sys_object_id.as_deref(), Some("1.3.6.1.4.1.8072.3.2.10"));
    // net-snmp on Linux has no device 1 and no Printer-MIB: not a printer, nor a non-printer
    assert_eq!((f.printer, f.printer_name.as_deref()), (None, None));
    let e = f.engine.expect("engine");
    assert!(e.engine_id.starts_with("80001f8880"), "{}", e.engine_id);
    assert_eq!(e.enterprise, Some(8072));
    assert_eq!(e.boots, Some(1));
    assert!(e.time.is_some());
    // One shared wait for the communities that never answer.
    assert!(took < Duration::from_millis(2500), "{took:?}");

    // With only communities that answer, the probe ends as soon as everything did.
    let only_public = ProbeOptions {
        snmp_communities: strs(&["public"]),
        ..options()
    };
    let t = Instant::now();
    let s = run_probe_with(&only_public, "snmp", addr(NS_IP, 161)).await;
    let took = t.elapsed();
    eprintln!("vpn_lab: Snmp 161 (public only) in {took:?}");
    let f = s.facts.snmp.expect("snmp facts");
    assert_eq!(f.versions, strs(&["v1", "v2c", "v3"]));
    assert!(took < Duration::from_millis(500), "{took:?}");
}

async fn dicom() {
    let (s, _) = probe("dicom", 11112).await;
    assert_eq!(s.protocol.as_deref(), Some("dicom"));
    let f = s.facts.dicom.expect("dicom facts");
    assert_eq!(
        (f.calling_ae.as_str(), f.called_ae.as_str()),
        ("CLINICSCAN", "ANY-SCP")
    );
    assert_eq!(f.association, "accepted");
    assert_eq!(f.accepts_unknown_ae, Some(true));
    assert_eq!(f.verification_accepted, Some(true));
    assert_eq!(f.echo_status, Some(0));
    assert_eq!(
        f.implementation_class_uid.as_deref(),
        Some("1.2.276.0.7230010.3.0.3.6.7")
    );
    assert_eq!(f.implementation_version.as_deref(), Some("OFFIS_DCMTK_367"));
    assert_eq!(f.max_pdu_length, Some(16_384));
    assert_eq!(f.reject_reason, None);
    assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);

    // dcmqrscp with one configured peer: the made-up calling AE is rejected. DCMTK uses the
    // "called AE" reason for it, so whether unknown AEs are refused stays unknown.
    let (s, _) = probe("dicom", 11113).await;
    let f = s.facts.dicom.expect("dicom facts");
    assert_eq!(f.association, "rejected");
    assert_eq!(
        f.reject_reason.as_deref(),
        Some("rejected-permanent; service-user; called-AE-title-not-recognized")
    );
    assert_eq!(f.accepts_unknown_ae, None);
    assert_eq!(f.echo_status, None);
}

async fn databases(lab_dir: Option<&std::path::Path>) {
    // 5432: pg_hba.conf trusts everyone (a login without a password); 5433: SCRAM over TLS
    for (port, ssl, method) in [(5432, false, "trust"), (5433, true, "scram-sha-256")] {
        let (s, _) = probe("postgres", port).await;
        assert_eq!(s.protocol.as_deref(), Some("postgresql"));
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
        let pg = s.facts.postgres.expect("pg");
        assert_eq!(pg.ssl_supported, Some(ssl));
        assert_eq!(pg.auth_over_tls, Some(ssl));
        assert_eq!(pg.auth_method.as_deref(), Some(method));
        assert_eq!(pg.startup_error, None);
        if ssl {
            assert!(pg.sasl_mechanisms.contains(&"SCRAM-SHA-256".to_string()));
        }
    }
    // Neither the trust login nor the unanswered SCRAM request is a failure in the log
    let dir = lab_dir.expect("the vpn lab's run directory");
    for port in [5432, 5433] {
        let log = std::fs::read_to_string(dir.join(format!("pg/{port}.log"))).expect("pg log");
        for failure in ["FATAL", "authentication failed", "does not exist"] {
            assert!(
                !log.contains(failure),
                "postgres {port} logged {failure:?}:\n{log}"
            );
        }
    }
    for (port, tls) in [(3306, false), (3307, true)] {
        let (s, _) = probe("mysql", port).await;
        let sw = s.software.expect("software");
        assert_eq!(
            (sw.product.as_str(), sw.version.as_deref()),
            ("MariaDB", Some("10.11.19"))
        );
        let f = s.facts.mysql.expect("mysql");
        assert_eq!(f.protocol, Some(10));
        assert_eq!(
            f.version.as_deref(),
            Some("5.5.5-10.11.19-MariaDB-0+deb12u1")
        );
        assert_eq!(f.tls_supported, Some(tls));
        assert_eq!(f.auth_plugin.as_deref(), Some("mysql_native_password"));
        assert_eq!(f.host_blocked, Some(false));
    }
    let (s, _) = probe("mysql", 3308).await;
    let f = s.facts.mysql.expect("mysql");
    assert_eq!(f.host_blocked, Some(true));
    assert_eq!((f.version, f.tls_supported), (None, None));
    assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
}

async fn ssdp() {
    // MiniDLNA binds its SSDP socket to the multicast group only: a unicast M-SEARCH gets
    // ICMP port unreachable, which is what the network shows.
    let (s, _) = probe("ssdp", 1900).await;
    assert_eq!(
        (s.state, s.reason),
        (PortState::Closed, PortReason::PortUnreachable)
    );
    assert_eq!(s.facts.upnp, None);
}

async fn udp_states() {
    for (kind, port) in [("snmp", 162), ("ike", 501), ("openvpn-udp", 1196)] {
        let (s, took) = probe(kind, port).await;
        assert_eq!(s.transport, Transport::Udp);
        assert_eq!(
            (s.state, s.reason),
            (PortState::Closed, PortReason::PortUnreachable)
        );
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
}
