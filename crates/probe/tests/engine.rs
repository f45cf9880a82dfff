//! Engine integration tests against hosts the test creates.
//!
//! `port_states_lab` (root; see `clinicscan_testlab` for when it does not run) starts
//! `tests/labs/port_states/lab.sh`: a scanner and a target namespace joined by one veth pair
//! and nothing else, the target showing every port state, routed hosts behind it and IPv6
//! (the picture is in the script). It then re-runs this test binary inside the scanner
//! namespace, once per `inner_*` scenario, with `CSE_LAB` set; the `inner_*` tests do nothing
//! without it. The lab is removed on drop, also when an assertion fails.

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use clinicscan_model::{HostReason, HostState, PortReason, PortState, Transport};
use clinicscan_probe::{ScanConfig, ScanError, ScanEvent, Timing, scan, scan_until};
use clinicscan_testlab::{LabSpec, run_test_in_namespace};

/// The lab's scanner namespace (`tests/labs/port_states/lab.sh`).
const SCANNER_NS: &str = "cse-scanner";

#[test]
fn port_states_lab() {
    if in_lab() {
        return; // we are the inner process
    }
    let Some(lab) = LabSpec::script("port_states")
        .needs(&["ip", "nft", "socat", "ss"])
        .start()
    else {
        return;
    };
    let mut failures = Vec::new();
    for name in [
        "inner_port_states",
        "inner_unprivileged_tcp_ping",
        "inner_names",
        "inner_slash16_is_lazy",
        "inner_cancel_gives_partial_observation",
        "inner_syn_scan",
        "inner_syn_scan_every_port",
        "inner_split_scan_keeps_the_rate",
        "inner_gentle_profile_and_do_not_touch",
        "inner_slash24_clinic_list",
        "inner_routed_hosts_and_ipv6",
    ] {
        match run_test_in_namespace(SCANNER_NS, name, &[("CSE_LAB", "1")]) {
            Ok(text) => {
                for line in text.lines().filter_map(|l| l.split_once("cse:")) {
                    eprintln!("{name}:{}", line.1);
                }
            }
            Err(text) => failures.push(format!("{name}:\n{text}")),
        }
    }
    compare_with_nmap();
    drop(lab);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn in_lab() -> bool {
    std::env::var_os("CSE_LAB").is_some()
}

fn lab_config(targets: &[&str]) -> ScanConfig {
    ScanConfig {
        targets: targets.iter().map(|s| s.to_string()).collect(),
        ports: "80,81,82,83,22".into(),
        reverse_dns: false,
        report_closed: true,
        report_down: true,
        service_probes: false,
        timing: Timing {
            discovery_timeout: Duration::from_millis(600),
            discovery_min: Duration::from_millis(300),
            ..Timing::default()
        },
        ..ScanConfig::default()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn states(h: &clinicscan_model::Host) -> Vec<(u16, PortState, PortReason)> {
    h.services
        .iter()
        .filter(|s| s.transport == Transport::Tcp)
        .map(|s| (s.port, s.state, s.reason))
        .collect()
}

const EXPECTED: [(u16, PortState, PortReason); 5] = [
    (22, PortState::Open, PortReason::SynAck),
    (80, PortState::Open, PortReason::SynAck),
    (81, PortState::Filtered, PortReason::NoResponse),
    (82, PortState::Filtered, PortReason::IcmpUnreachable),
    (83, PortState::Closed, PortReason::Reset),
];

#[tokio::test]
async fn inner_port_states() {
    if !in_lab() {
        return;
    }
    let cfg = lab_config(&["10.250.0.2-3", "10.250.3.4"]);
    let events = std::sync::Mutex::new(Vec::new());
    let obs = scan(&cfg, |e| events.lock().unwrap().push(e))
        .await
        .unwrap();
    assert!(obs.scan.finished.is_some());
    assert_eq!(obs.scan.vantage.addresses, vec![ip("10.250.0.1")]);
    assert_eq!(obs.scan.options.targets, vec!["10.250.0.2-3", "10.250.3.4"]);
    assert_eq!(obs.scan.options.ports, "80,81,82,83,22");
    assert_eq!(obs.scan.stats.addresses_considered, 3);
    assert_eq!(obs.scan.stats.hosts_up, 2);
    assert_eq!(obs.hosts.len(), 3, "down host reported (report_down)");
    let t = &obs.hosts[0];
    assert_eq!(t.address, ip("10.250.0.2"));
    assert_eq!(t.status.state, HostState::Up);
    assert_eq!(t.status.reason, HostReason::ArpResponse);
    assert!(
        t.mac.as_deref().is_some_and(|m| m.len() == 17),
        "{:?}",
        t.mac
    );
    assert_eq!(states(t), EXPECTED);
    assert_eq!(t.port_summary.open, 2);
    assert_eq!(t.port_summary.closed, 1);
    assert_eq!(t.port_summary.filtered, 2);
    let s80 = t.services.iter().find(|s| s.port == 80).unwrap();
    assert_eq!(s80.port_name.as_deref(), Some("http"));
    assert!(s80.latency_ms.is_some());
    let dead = &obs.hosts[1];
    assert_eq!(dead.address, ip("10.250.0.3"));
    assert_eq!(dead.status.state, HostState::Down);
    assert_eq!(dead.status.reason, HostReason::NoResponse);
    assert!(dead.services.is_empty(), "dead hosts are not port-scanned");
    assert_eq!(states(&obs.hosts[2]), EXPECTED);
    let ev = events.lock().unwrap();
    assert!(matches!(
        ev.first(),
        Some(ScanEvent::Started {
            addresses: 3,
            tcp_ports: 5,
            ..
        })
    ));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, ScanEvent::HostDone { .. }))
            .count(),
        3
    );
    assert!(matches!(
        ev.last(),
        Some(ScanEvent::Finished { cancelled: false })
    ));
    // the Observation serialises to the schema's JSON
    let json = serde_json::to_string(&obs).unwrap();
    assert!(json.contains("\"icmp-unreachable\""));
    println!(
        "cse: {} port probes in {} ms",
        obs.scan.stats.port_probes, obs.scan.stats.elapsed_ms
    );
}

#[tokio::test]
async fn inner_unprivileged_tcp_ping() {
    if !in_lab() {
        return;
    }
    // ICMP is dropped by the target; without raw sockets only TCP pings find it.
    let mut cfg = lab_config(&["10.250.0.2-3"]);
    cfg.unprivileged = true;
    cfg.syn = true;
    let obs = scan(&cfg, |_| {}).await.unwrap();
    let kinds: Vec<&str> = obs.scan.notices.iter().map(|n| n.kind.as_str()).collect();
    assert!(kinds.contains(&"syn-fallback"), "{kinds:?}");
    assert_eq!(
        obs.scan.options.scan_kind,
        clinicscan_model::ScanKind::Connect
    );
    let t = &obs.hosts[0];
    assert_eq!(t.status.state, HostState::Up);
    assert!(
        matches!(t.status.reason, HostReason::TcpSynAck | HostReason::TcpRst),
        "{:?}",
        t.status
    );
    assert_eq!(states(t), EXPECTED);
    // the kernel learnt the MAC while connecting
    assert!(t.mac.is_some());
    let dead = &obs.hosts[1];
    assert_eq!(dead.status.state, HostState::Down);
    assert!(dead.services.is_empty());
}

#[tokio::test]
async fn inner_names() {
    if !in_lab() {
        return;
    }
    let mut cfg = lab_config(&[
        "cse-target.test",
        "cse-excluded.test",
        "cse-nowhere.invalid",
        "10.250.3.4",
    ]);
    cfg.exclude = vec!["10.250.0.3".into()];
    cfg.reverse_dns = true;
    cfg.timing.dns_timeout = Duration::from_millis(500);
    let obs = scan(&cfg, |_| {}).await.unwrap();
    assert_eq!(obs.hosts.len(), 2, "{:?}", obs.scan.notices);
    // reverse DNS (answered from the namespace's hosts file)
    assert_eq!(
        obs.hosts[1].names,
        vec![clinicscan_model::HostName {
            name: "cse-second.test".into(),
            source: clinicscan_model::NameSource::Ptr
        }]
    );
    let h = &obs.hosts[0];
    assert_eq!(h.address, ip("10.250.0.2"));
    assert_eq!(h.names[0].name, "cse-target.test");
    assert_eq!(h.names[0].source, clinicscan_model::NameSource::Target);
    println!("cse: names {:?}", h.names);
    let n = &obs.scan.notices;
    assert!(
        n.iter().any(|n| n.kind == "name-excluded" && n.subject.as_deref() == Some("cse-excluded.test")),
        "{n:?}"
    );
    assert!(
        n.iter()
            .any(|n| n.kind == "unresolved-name"
                && n.subject.as_deref() == Some("cse-nowhere.invalid")),
        "{n:?}"
    );
    // a name that resolves to public address space is refused before any packet
    let cfg = lab_config(&["cse-public.test"]);
    match scan(&cfg, |_| {}).await {
        Err(ScanError::Scope(e)) => assert!(e.text.contains("8.8.8.8"), "{e}"),
        other => panic!("{other:?}"),
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_slash16_is_lazy() {
    if !in_lab() {
        return;
    }
    let before = rss_kib("VmRSS:");
    let mut cfg = lab_config(&["10.250.0.0/16"]);
    cfg.exclude = vec!["10.250.0.1".into()];
    cfg.report_down = false;
    cfg.report_closed = false;
    cfg.ports = "80,22".into();
    cfg.max_hosts = 2048;
    cfg.timing.discovery_timeout = Duration::from_millis(400);
    let start = Instant::now();
    let obs = scan(&cfg, |_| {}).await.unwrap();
    let elapsed = start.elapsed();
    let peak = rss_kib("VmHWM:");
    let up: Vec<String> = obs.hosts.iter().map(|h| h.address.to_string()).collect();
    assert_eq!(up, vec!["10.250.0.2", "10.250.3.4"]);
    assert_eq!(
        obs.scan.stats.addresses_considered, 65_533,
        "all but our own address"
    );
    println!(
        "cse: /16 scanned in {:.1} s; RSS before {} KiB, peak {} KiB (+{} KiB)",
        elapsed.as_secs_f64(),
        before,
        peak,
        peak.saturating_sub(before)
    );
    assert!(
        peak.saturating_sub(before) < 96 * 1024,
        "peak RSS grew by {} KiB",
        peak - before
    );
}

#[tokio::test]
async fn inner_cancel_gives_partial_observation() {
    if !in_lab() {
        return;
    }
    let mut cfg = lab_config(&["10.250.0.0/16"]);
    cfg.exclude = vec!["10.250.0.1".into()];
    cfg.report_down = false;
    let stop = tokio::time::sleep(Duration::from_millis(700));
    let obs = scan_until(&cfg, |_| {}, stop).await.unwrap();
    assert!(obs.scan.finished.is_none());
    assert!(obs.scan.notices.iter().any(|n| n.kind == "cancelled"));
    assert!(obs.scan.stats.addresses_considered < 65_533);
}

#[tokio::test]
async fn inner_syn_scan() {
    if !in_lab() {
        return;
    }
    let mut cfg = lab_config(&["10.250.0.2-3"]);
    cfg.syn = true;
    let obs = scan(&cfg, |_| {}).await.unwrap();
    // the lab runs as root: raw sockets are there, no fallback
    assert!(obs.scan.notices.is_empty(), "{:?}", obs.scan.notices);
    assert_eq!(obs.scan.options.scan_kind, clinicscan_model::ScanKind::Syn);
    println!(
        "cse: SYN scan: {} probes in {} ms",
        obs.scan.stats.port_probes, obs.scan.stats.elapsed_ms
    );
    assert_eq!(states(&obs.hosts[0]), EXPECTED);
    assert_eq!(obs.hosts[1].status.state, HostState::Down);
}

/// Every port of one host: big enough that the engine splits it across its threads (on a
/// machine with more than one core); the shares' results come back whole and in order.
#[tokio::test]
async fn inner_syn_scan_every_port() {
    if !in_lab() {
        return;
    }
    let mut cfg = lab_config(&["10.250.0.2"]);
    cfg.ports = "1-65535".into();
    cfg.syn = true;
    let obs = scan(&cfg, |_| {}).await.unwrap();
    assert!(obs.scan.notices.is_empty(), "{:?}", obs.scan.notices);
    println!(
        "cse: SYN scan of every port: {} probes in {} ms",
        obs.scan.stats.port_probes, obs.scan.stats.elapsed_ms
    );
    let all = states(&obs.hosts[0]);
    let ports: Vec<u16> = all.iter().map(|s| s.0).collect();
    assert_eq!(ports, (1..=65_535).collect::<Vec<u16>>());
    let named: Vec<_> = all
        .iter()
        .copied()
        .filter(|s| EXPECTED.iter().any(|e| e.0 == s.0))
        .collect();
    let mut expected = EXPECTED.to_vec();
    expected.sort_by_key(|e| e.0);
    assert_eq!(named, expected);
    let rest: Vec<_> = all
        .iter()
        .filter(|s| !EXPECTED.iter().any(|e| e.0 == s.0))
        .filter(|s| (s.1, s.2) != (PortState::Closed, PortReason::Reset))
        .collect();
    assert!(rest.is_empty(), "{rest:?}");
}

/// A split scan's engines share the scan's rate: 20,000 SYNs at 10,000 a second take two
/// seconds however many threads send them.
#[tokio::test]
async fn inner_split_scan_keeps_the_rate() {
    if !in_lab() {
        return;
    }
    let mut cfg = lab_config(&["10.250.0.2"]);
    cfg.ports = "1-20000".into();
    cfg.syn = true;
    cfg.rate = Some(10_000);
    let started = Instant::now();
    let obs = scan(&cfg, |_| {}).await.unwrap();
    let elapsed = started.elapsed();
    println!(
        "cse: 20,000 ports at 10,000/s: {} probes in {elapsed:?}",
        obs.scan.stats.port_probes
    );
    assert!(obs.scan.stats.port_probes >= 20_000);
    // the pacer hands out at most 10 ms of slots at once when idle
    assert!(elapsed >= Duration::from_millis(1_980), "{elapsed:?}");
    let open: Vec<u16> = states(&obs.hosts[0])
        .iter()
        .filter(|s| s.1 == PortState::Open)
        .map(|s| s.0)
        .collect();
    assert_eq!(open, [22, 80]);
}

/// Loopback in whatever namespace the test runs in: a listener we own is open; the
/// scope refuses a public target without sending anything.
#[tokio::test]
async fn loopback_listener_and_scope() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let cfg = ScanConfig {
        targets: vec!["127.0.0.1".into()],
        ports: port.to_string(),
        reverse_dns: false,
        service_probes: false,
        ..ScanConfig::default()
    };
    let obs = scan(&cfg, |_| {}).await.unwrap();
    assert_eq!(obs.schema, clinicscan_model::OBSERVATION_SCHEMA);
    assert_eq!(obs.hosts.len(), 1);
    assert_eq!(obs.hosts[0].status.reason, HostReason::Localhost);
    assert_eq!(obs.hosts[0].services.len(), 1);
    assert_eq!(obs.hosts[0].services[0].state, PortState::Open);
    assert_eq!(uuid_version(&obs.scan.id), Some('4'));

    let cfg = ScanConfig {
        // TEST-NET-1 (RFC 5737): public to the scope check, never routed if it broke.
        targets: vec!["192.0.2.1".into()],
        ..ScanConfig::default()
    };
    assert!(matches!(scan(&cfg, |_| {}).await, Err(ScanError::Scope(_))));
}

fn uuid_version(id: &str) -> Option<char> {
    id.chars().nth(14)
}

fn clinic_tcp_ports() -> String {
    clinicscan_probe::CLINIC_PORTS
        .iter()
        .filter(|e| e.transport == Transport::Tcp)
        .map(|e| e.port.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Prints nmap's time for the same /24 x clinic list as `inner_slash24_clinic_list`
/// (a figure, not an assertion: timings are not tests).
fn compare_with_nmap() {
    if Command::new("nmap").arg("--version").output().is_err() {
        eprintln!("nmap comparison skipped: nmap not installed");
        return;
    }
    let start = Instant::now();
    let out = Command::new("timeout")
        .args([
            "120", "ip", "netns", "exec", SCANNER_NS, "nmap", "-sT", "-T4", "-n",
        ])
        .args([
            "--exclude",
            "10.250.0.1",
            "-p",
            &clinic_tcp_ports(),
            "-oG",
            "-",
        ])
        .arg("10.250.0.0/24")
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let up = String::from_utf8_lossy(&o.stdout)
                .matches("Status: Up")
                .count();
            eprintln!(
                "nmap -sT -T4, /24 x clinic TCP list: {:.2} s ({up} hosts up)",
                start.elapsed().as_secs_f64()
            );
        }
        other => eprintln!("nmap comparison failed: {other:?}"),
    }
}

#[tokio::test]
async fn inner_gentle_profile_and_do_not_touch() {
    if !in_lab() {
        return;
    }
    let mut cfg = lab_config(&["10.250.0.2", "10.250.3.4"]);
    cfg.do_not_touch = vec!["10.250.3.0/24".into()];
    let mut gentle =
        clinicscan_probe::HostProfile::new("medical-devices", vec!["10.250.0.0/24".into()]);
    gentle.max_per_host = Some(1);
    gentle.connection_gap = Duration::from_millis(100);
    cfg.profiles = vec![gentle];
    let start = Instant::now();
    let obs = scan(&cfg, |_| {}).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(obs.hosts.len(), 1, "the do-not-touch host got nothing");
    assert_eq!(obs.hosts[0].address, ip("10.250.0.2"));
    assert_eq!(states(&obs.hosts[0]), EXPECTED);
    assert!(
        obs.scan.notices.iter().any(|n| n.kind == "do-not-touch"),
        "{:?}",
        obs.scan.notices
    );
    // 5 ports (+1 retry on the dropped one), one at a time, 100 ms apart
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    println!("cse: gentle profile: 5 ports in {} ms", elapsed.as_millis());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_slash24_clinic_list() {
    if !in_lab() {
        return;
    }
    let mut cfg = lab_config(&["10.250.0.0/24"]);
    cfg.exclude = vec!["10.250.0.1".into()];
    cfg.ports = clinic_tcp_ports();
    cfg.report_down = false;
    cfg.report_closed = false;
    cfg.max_hosts = 256;
    let start = Instant::now();
    let obs = scan(&cfg, |_| {}).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(obs.hosts.len(), 1);
    let open: Vec<u16> = obs.hosts[0].services.iter().map(|s| s.port).collect();
    assert_eq!(open, vec![22, 80]);
    println!(
        "cse: clinicscan connect, /24 x clinic TCP list ({} ports): {:.2} s",
        cfg.ports.split(',').count(),
        elapsed.as_secs_f64()
    );
}

#[tokio::test]
async fn inner_routed_hosts_and_ipv6() {
    if !in_lab() {
        return;
    }
    let cfg = lab_config(&["10.251.0.1-2", "fd77::2"]);
    let obs = scan(&cfg, |_| {}).await.unwrap();
    assert!(obs.scan.notices.is_empty(), "{:?}", obs.scan.notices);
    assert_eq!(obs.hosts.len(), 3);
    // drops ICMP: a TCP ping finds it
    let h = &obs.hosts[0];
    assert_eq!(h.address, ip("10.251.0.1"));
    assert!(
        matches!(h.status.reason, HostReason::TcpSynAck | HostReason::TcpRst),
        "{:?}",
        h.status
    );
    assert!(h.mac.is_none(), "not on-link");
    assert_eq!(states(h), EXPECTED);
    // drops all TCP: only the echo reply shows it; every port filtered
    let h = &obs.hosts[1];
    assert_eq!(h.address, ip("10.251.0.2"));
    assert_eq!(h.status.reason, HostReason::EchoReply);
    assert!(
        states(h)
            .iter()
            .all(|s| (s.1, s.2) == (PortState::Filtered, PortReason::NoResponse))
    );
    assert_eq!(h.port_summary.filtered, 5);
    // IPv6 ULA: same states, admin-prohibited as ICMPv6
    let h = &obs.hosts[2];
    assert_eq!(h.address, ip("fd77::2"));
    assert_eq!(h.status.state, HostState::Up);
    let got = states(h);
    assert_eq!(got[..3], EXPECTED[..3]);
    assert_eq!(got[4], EXPECTED[4]);
    // Only the state of :82: a lone connect() gets EACCES from the ICMPv6 admin-prohibited
    // here, but inside the scan the error does not always arrive (not understood; ICMPv6
    // error rate limiting is the suspect), so the reason may be no-response. Filtered
    // either way.
    assert_eq!(got[3].1, PortState::Filtered, "{got:?}");
    println!(
        "cse: routed + IPv6: {} ms, reasons {:?}",
        obs.scan.stats.elapsed_ms,
        obs.hosts
            .iter()
            .map(|h| h.status.reason)
            .collect::<Vec<_>>()
    );
}
