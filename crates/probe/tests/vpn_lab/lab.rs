//! The VPN / management / medical / database lab: every probe of the `vpn` set against
//! real daemons (strongSwan charon, OpenVPN, pptpd, net-snmp, DCMTK storescp and dcmqrscp,
//! PostgreSQL, MariaDB, MiniDLNA) in a network namespace that `lab.sh` creates and always
//! deletes. Root only: without root the test says so and passes vacuously.
//!
//! Compiled into the crate's unit tests (from `proto/ike.rs`) because the probes and
//! `ProbeContext` are crate-private. Run: `cargo test -p clinicscan-probe vpn_lab -- --nocapture`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use clinicscan_model::{IkeFacts, PortReason, PortState, ProbeErrorKind, Service, Transport};

use crate::proto::{ProbeContext, ProbeKind, run};

const NS_IP: &str = "10.231.147.2";
/// The second namespace: strongSwan with aggressive mode PSK allowed.
const NS_IP2: &str = "10.231.147.10";

struct Lab {
    dir: PathBuf,
    script: PathBuf,
    owned: bool,
}

impl Lab {
    fn up() -> Option<Lab> {
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("vpn_lab: not root, skipped");
            return None;
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vpn_lab/lab.sh");
        // A lab already started by hand (`lab.sh up DIR`) is reused and left running.
        if let Some(dir) = std::env::var_os("CSV_LAB_DIR") {
            return Some(Lab {
                dir: PathBuf::from(dir),
                script,
                owned: false,
            });
        }
        let dir = std::env::temp_dir().join(format!("csv-lab-{}", std::process::id()));
        let lab = Lab {
            dir,
            script,
            owned: true,
        };
        let status = Command::new("bash")
            .arg(&lab.script)
            .arg("up")
            .arg(&lab.dir)
            .status()
            .expect("run lab.sh");
        assert!(
            status.success(),
            "lab.sh up failed; see {}",
            lab.dir.display()
        );
        Some(lab)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("down")
            .arg(&self.dir)
            .status();
    }
}

fn ctx(ip: &str, port: u16) -> ProbeContext {
    ProbeContext {
        addr: SocketAddr::new(ip.parse().unwrap(), port),
        deadline: tokio::time::Instant::now() + Duration::from_secs(15),
        io_timeout: Duration::from_secs(2),
        max_bytes: 256 * 1024,
        now: chrono::Utc::now(),
        server_name: None,
        snmp_communities: vec!["public".to_string(), "csv-wrong".to_string()],
        pace: crate::pace::Pace::default(),
    }
}

async fn probe(kind: ProbeKind, port: u16, transport: Transport) -> (Service, Duration) {
    probe_at(NS_IP, kind, port, transport).await
}

async fn probe_at(
    ip: &str,
    kind: ProbeKind,
    port: u16,
    transport: Transport,
) -> (Service, Duration) {
    let (state, reason) = match transport {
        Transport::Tcp => (PortState::Open, PortReason::SynAck),
        Transport::Udp => (PortState::OpenFiltered, PortReason::NoResponse),
    };
    let mut s = Service::port_only(port, transport, state, reason);
    let t = Instant::now();
    run(kind, &ctx(ip, port), &mut s).await;
    let took = t.elapsed();
    eprintln!("vpn_lab: {kind:?} {port}/{transport:?} in {took:?}: {s:#?}");
    (s, took)
}

#[test]
fn vpn_lab() {
    let Some(_lab) = Lab::up() else { return };
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
        databases().await;
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
        let (s, took) = probe(ProbeKind::Ike, port, Transport::Udp).await;
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
    let (s, _) = probe_at(NS_IP2, ProbeKind::Ike, 500, Transport::Udp).await;
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
        (ProbeKind::OpenVpnUdp, Transport::Udp),
        (ProbeKind::OpenVpnTcp, Transport::Tcp),
    ] {
        let (s, _) = probe(kind, 1194, transport).await;
        assert_eq!(s.state, PortState::Open);
        assert_eq!(s.protocol.as_deref(), Some("openvpn"));
        let f = s.facts.openvpn.expect("openvpn facts");
        assert_eq!(f.responded, Some(true));
        assert_eq!(f.opcode.as_deref(), Some("P_CONTROL_HARD_RESET_SERVER_V2"));
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
    }
    // tls-auth: the server drops the unauthenticated reset. Unknown, not absent.
    let (s, _) = probe(ProbeKind::OpenVpnUdp, 1195, Transport::Udp).await;
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
    let (s, _) = probe(ProbeKind::Pptp, 1723, Transport::Tcp).await;
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
    let (s, took) = probe(ProbeKind::Snmp, 161, Transport::Udp).await;
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
    let e = f.engine.expect("engine");
    assert!(e.engine_id.starts_with("80001f8880"), "{}", e.engine_id);
    assert_eq!(e.enterprise, Some(8072));
    assert_eq!(e.boots, Some(1));
    assert!(e.time.is_some());
    // One shared wait for the communities that never answer.
    assert!(took < Duration::from_millis(2500), "{took:?}");

    // With only communities that answer, the probe ends as soon as everything did.
    let mut only_public = ctx(NS_IP, 161);
    only_public.snmp_communities = strs(&["public"]);
    let mut s = Service::port_only(
        161,
        Transport::Udp,
        PortState::OpenFiltered,
        PortReason::NoResponse,
    );
    let t = Instant::now();
    run(ProbeKind::Snmp, &only_public, &mut s).await;
    let took = t.elapsed();
    eprintln!("vpn_lab: Snmp 161 (public only) in {took:?}");
    let f = s.facts.snmp.expect("snmp facts");
    assert_eq!(f.versions, strs(&["v1", "v2c", "v3"]));
    assert!(took < Duration::from_millis(500), "{took:?}");
}

async fn dicom() {
    let (s, _) = probe(ProbeKind::Dicom, 11112, Transport::Tcp).await;
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
    let (s, _) = probe(ProbeKind::Dicom, 11113, Transport::Tcp).await;
    let f = s.facts.dicom.expect("dicom facts");
    assert_eq!(f.association, "rejected");
    assert_eq!(
        f.reject_reason.as_deref(),
        Some("rejected-permanent; service-user; called-AE-title-not-recognized")
    );
    assert_eq!(f.accepts_unknown_ae, None);
    assert_eq!(f.echo_status, None);
}

async fn databases() {
    for (port, ssl) in [(5432, false), (5433, true)] {
        let (s, _) = probe(ProbeKind::Postgres, port, Transport::Tcp).await;
        assert_eq!(s.protocol.as_deref(), Some("postgresql"));
        assert_eq!(s.facts.postgres.expect("pg").ssl_supported, Some(ssl));
    }
    for (port, tls) in [(3306, false), (3307, true)] {
        let (s, _) = probe(ProbeKind::Mysql, port, Transport::Tcp).await;
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
    let (s, _) = probe(ProbeKind::Mysql, 3308, Transport::Tcp).await;
    let f = s.facts.mysql.expect("mysql");
    assert_eq!(f.host_blocked, Some(true));
    assert_eq!((f.version, f.tls_supported), (None, None));
    assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
}

async fn ssdp() {
    // MiniDLNA binds its SSDP socket to the multicast group only: a unicast M-SEARCH gets
    // ICMP port unreachable, which is what the network shows.
    let (s, _) = probe(ProbeKind::Ssdp, 1900, Transport::Udp).await;
    assert_eq!(
        (s.state, s.reason),
        (PortState::Closed, PortReason::PortUnreachable)
    );
    assert_eq!(s.facts.upnp, None);
}

async fn udp_states() {
    for (kind, port) in [
        (ProbeKind::Snmp, 162),
        (ProbeKind::Ike, 501),
        (ProbeKind::OpenVpnUdp, 1196),
    ] {
        let (s, took) = probe(kind, port, Transport::Udp).await;
        assert_eq!(
            (s.state, s.reason),
            (PortState::Closed, PortReason::PortUnreachable)
        );
        assert!(s.probe_errors.is_empty(), "{:?}", s.probe_errors);
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
}
