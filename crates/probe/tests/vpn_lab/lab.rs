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

use clinicscan_model::{PortReason, PortState, ProbeErrorKind, Service, Transport};

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
        connection_gap: Duration::ZERO,
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

async fn ike() {
    probe(ProbeKind::Ike, 500, Transport::Udp).await;
    probe(ProbeKind::Ike, 4500, Transport::Udp).await;
    probe_at(NS_IP2, ProbeKind::Ike, 500, Transport::Udp).await;
}
async fn openvpn() {
    probe(ProbeKind::OpenVpnUdp, 1194, Transport::Udp).await;
    probe(ProbeKind::OpenVpnTcp, 1194, Transport::Tcp).await;
    probe(ProbeKind::OpenVpnUdp, 1195, Transport::Udp).await;
}
async fn pptp() {
    probe(ProbeKind::Pptp, 1723, Transport::Tcp).await;
}
async fn snmp() {
    probe(ProbeKind::Snmp, 161, Transport::Udp).await;
}
async fn dicom() {
    probe(ProbeKind::Dicom, 11112, Transport::Tcp).await;
    probe(ProbeKind::Dicom, 11113, Transport::Tcp).await;
}
async fn databases() {
    probe(ProbeKind::Postgres, 5432, Transport::Tcp).await;
    probe(ProbeKind::Postgres, 5433, Transport::Tcp).await;
    probe(ProbeKind::Mysql, 3306, Transport::Tcp).await;
    probe(ProbeKind::Mysql, 3307, Transport::Tcp).await;
    probe(ProbeKind::Mysql, 3308, Transport::Tcp).await;
}
async fn ssdp() {
    probe(ProbeKind::Ssdp, 1900, Transport::Udp).await;
}
async fn udp_states() {
    probe(ProbeKind::Snmp, 162, Transport::Udp).await;
    probe(ProbeKind::Ike, 501, Transport::Udp).await;
}
