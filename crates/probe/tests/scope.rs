//! Scope enforcement, proven by packet counters at a router the scanner must go through.
//!
//! `scope_at_the_router` (root; see `clinicscan_testlab` for when it does not run) starts
//! `tests/labs/counting_router/lab.sh`: a scanner, a router counting every packet from the
//! scanner by destination (nftables), and a target namespace with live hosts in and out of
//! scope (the picture is in the script).
//!
//! Scan: targets `10.88.1.0/24`, `10.88.2.0/24`, `csx-ok.test` (→ 10.88.1.20) and
//! `csx-excluded.test` (→ 10.88.2.100); exclusions `10.88.1.128/25` (CIDR) and
//! `10.88.2.50-10.88.2.200` (range). Names come from the lab's `/etc/netns/csx-scanner/hosts`;
//! no lookup can leave the namespace.
//!
//! In scope: 10.88.1.0-127, 10.88.2.0-49, 10.88.2.201-255. The router must count zero
//! packets to anything else, and packets to each live in-scope host. A public target
//! (literal, and by a name that resolves to one) must be refused before any packet: the
//! counters are read after that attempt and must all be zero.
//!
//! The scans run inside the scanner namespace by re-executing this test binary there
//! (`inner_*` tests, active only with `CSX_SCOPE` set), as `tests/engine.rs` does.

use std::process::Command;
use std::time::Duration;

use clinicscan_probe::{ScanConfig, ScanError, Timing, scan};
use clinicscan_testlab::{LabSpec, run_test_in_namespace};

/// The lab's namespaces (`tests/labs/counting_router/lab.sh`).
const SCANNER_NS: &str = "csx-scanner";
const ROUTER_NS: &str = "csx-router";

/// The lab's live hosts in scope (those out of scope, which must never see a packet, are
/// 10.88.1.130, 10.88.1.200, 10.88.2.60 and 10.88.2.100).
const LIVE_IN_SCOPE: [&str; 4] = ["10.88.1.10", "10.88.1.20", "10.88.2.10", "10.88.2.220"];

/// What the router saw from the scanner.
#[derive(Debug, Default)]
struct Counts {
    in_scope: u64,
    out_of_scope: u64,
    ipv6: u64,
    /// Every destination with its packet count.
    seen: Vec<(String, u64)>,
}

/// `nft list ARGS...` in the router namespace.
fn nft_list(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ROUTER_NS, "nft", "list"])
        .args(args)
        .output()
        .map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "nft list {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The router's counters now.
fn counts() -> Result<Counts, String> {
    let get = |family: &str, table: &str, name: &str| -> Result<u64, String> {
        let text = nft_list(&["counter", family, table, name])?;
        packets(&text).ok_or_else(|| format!("no packets in {text}"))
    };
    Ok(Counts {
        in_scope: get("ip", "csx", "inscope")?,
        out_of_scope: get("ip", "csx", "outscope")?,
        ipv6: get("ip6", "csx6", "v6")?,
        seen: seen_elements(&nft_list(&["set", "ip", "csx", "seen"])?),
    })
}

/// `packets N` from `nft list counter` output.
fn packets(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "packets" {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// `10.88.1.10 counter packets 3 bytes 180` elements from `nft list set` output.
fn seen_elements(text: &str) -> Vec<(String, u64)> {
    let Some(start) = text.find("elements = {") else {
        return Vec::new();
    };
    let body = &text[start + "elements = {".len()..];
    let body = &body[..body.find('}').unwrap_or(body.len())];
    body.split(',')
        .filter_map(|e| {
            let addr = e.split_whitespace().next()?.to_string();
            Some((addr, packets(e).unwrap_or(0)))
        })
        .collect()
}

fn in_scope(addr: &str) -> bool {
    let Ok(ip) = addr.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let [a, b, c, d] = ip.octets();
    (a, b) == (10, 88) && ((c == 1 && d < 128) || (c == 2 && !(50..=200).contains(&d)))
}

#[test]
fn scope_at_the_router() {
    if in_lab() {
        return; // we are the inner process
    }
    let Some(lab) = LabSpec::script("counting_router")
        .needs(&["ip", "nft", "socat", "ss", "sysctl"])
        .start()
    else {
        return;
    };
    let run_inner = |name: &str| run_test_in_namespace(SCANNER_NS, name, &[("CSX_SCOPE", "1")]);

    // 1. public targets are refused before any packet
    if let Err(text) = run_inner("inner_public_refused") {
        panic!("inner_public_refused:\n{text}");
    }
    let c = counts().expect("counters");
    assert_eq!(
        (c.in_scope, c.out_of_scope, c.ipv6),
        (0, 0, 0),
        "packets after a refused scan: {c:?}"
    );
    assert!(c.seen.is_empty(), "{c:?}");

    // 2. the scoped scans: connect scan with service probes, then raw SYN + UDP probes
    for name in ["inner_scoped_scan", "inner_scoped_syn_udp_scan"] {
        let text = match run_inner(name) {
            Ok(t) => t,
            Err(t) => panic!("{name}:\n{t}"),
        };
        for line in text.lines().filter_map(|l| l.split_once("csx:")) {
            eprintln!("{name}:{}", line.1);
        }
    }
    let c = counts().expect("counters");
    eprintln!(
        "router: {} packets in scope to {} addresses, {} out of scope, {} IPv6",
        c.in_scope,
        c.seen.len(),
        c.out_of_scope,
        c.ipv6
    );
    let outside: Vec<&(String, u64)> = c.seen.iter().filter(|(a, _)| !in_scope(a)).collect();
    assert_eq!(c.out_of_scope, 0, "packets outside scope: {outside:?}");
    assert!(outside.is_empty(), "{outside:?}");
    assert_eq!(c.ipv6, 0);
    for live in LIVE_IN_SCOPE {
        let got = c.seen.iter().find(|(a, _)| a == live).map_or(0, |e| e.1);
        assert!(got > 0, "no packet reached {live}: {:?}", c.seen);
    }
    // discovery reached every in-scope host address (see `inner_scoped_scan`), only those
    assert_eq!(c.seen.len(), 230, "{:?}", c.seen);
    assert!(c.in_scope > 230, "{c:?}");
    drop(lab);
}

fn in_lab() -> bool {
    std::env::var_os("CSX_SCOPE").is_some()
}

fn fast_timing() -> Timing {
    Timing {
        discovery_timeout: Duration::from_millis(500),
        discovery_min: Duration::from_millis(300),
        dns_timeout: Duration::from_millis(500),
        probe_timeout: Duration::from_secs(2),
        ..Timing::default()
    }
}

#[tokio::test]
async fn inner_public_refused() {
    if !in_lab() {
        return;
    }
    for target in ["8.8.8.8", "csx-public.test", "10.88.1.0/24,8.8.8.0/30"] {
        let cfg = ScanConfig {
            targets: target.split(',').map(str::to_string).collect(),
            ports: "80".into(),
            reverse_dns: false,
            timing: fast_timing(),
            ..ScanConfig::default()
        };
        match scan(&cfg, |_| {}).await {
            Err(ScanError::Scope(e)) => assert!(e.to_string().contains("8.8.8."), "{e}"),
            other => panic!("{target}: {other:?}"),
        }
    }
}

fn scoped_config() -> ScanConfig {
    ScanConfig {
        targets: vec![
            "10.88.1.0/24".into(),
            "10.88.2.0/24".into(),
            "csx-ok.test".into(),
            "csx-excluded.test".into(),
        ],
        exclude: vec!["10.88.1.128/25".into(), "10.88.2.50-10.88.2.200".into()],
        ports: "80,443".into(),
        reverse_dns: false,
        service_probes: true,
        max_hosts: 256,
        timing: fast_timing(),
        ..ScanConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_scoped_scan() {
    if !in_lab() {
        return;
    }
    check_scoped(scoped_config()).await;
}

/// The raw-socket paths (ARP/ICMP discovery, SYN scan) and UDP probes honour the same scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_scoped_syn_udp_scan() {
    if !in_lab() {
        return;
    }
    let mut cfg = scoped_config();
    cfg.syn = true;
    cfg.ports = "T:80,443,U:161,500".into();
    check_scoped(cfg).await;
}

async fn check_scoped(cfg: ScanConfig) {
    let obs = scan(&cfg, |_| {}).await.expect("scan");
    assert_eq!(
        obs.scan.options.scan_kind,
        if cfg.syn {
            clinicscan_model::ScanKind::Syn
        } else {
            clinicscan_model::ScanKind::Connect
        }
    );
    let up: Vec<String> = obs.hosts.iter().map(|h| h.address.to_string()).collect();
    assert_eq!(up, LIVE_IN_SCOPE, "{:?}", obs.scan.notices);
    for h in &obs.hosts {
        let open: Vec<u16> = h
            .services
            .iter()
            .filter(|s| s.transport == clinicscan_model::Transport::Tcp)
            .filter(|s| s.state == clinicscan_model::PortState::Open)
            .map(|s| s.port)
            .collect();
        assert_eq!(open, vec![80], "{}", h.address);
    }
    assert!(
        obs.scan.notices.iter().any(|n| n.kind == "name-excluded"
            && n.subject.as_deref() == Some("csx-excluded.test")),
        "{:?}",
        obs.scan.notices
    );
    // 128 + 50 + 55 in scope, less the network and broadcast addresses of the /24 targets
    // (10.88.1.0, 10.88.2.0, 10.88.2.255), which a CIDR target does not include
    assert_eq!(obs.scan.stats.addresses_considered, 230);
    println!(
        "csx: {} addresses considered, {} up, {} port probes, {} ms",
        obs.scan.stats.addresses_considered,
        obs.hosts.len(),
        obs.scan.stats.port_probes,
        obs.scan.stats.elapsed_ms
    );
}
