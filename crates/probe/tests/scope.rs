//! Scope enforcement, proven by packet counters at a router the scanner must go through.
//!
//! Root only (skipped with a printed reason otherwise). The test builds three network
//! namespaces joined by veth pairs, with no route to any real network:
//!
//! ```text
//!  csx-<id>-s (scanner)        csx-<id>-r (router)              csx-<id>-t (target)
//!  10.88.0.1/30 <-- veth --> 10.88.0.2/30                      10.88.9.2/30
//!  IPv6 off                   10.88.9.1/30   <-- veth -->      on lo: 10.88.1.10 .20 .130 .200
//!  routes 10.88.0.0/16, 8.0.0.0/8                                     10.88.2.10 .60 .100 .220
//!    via the router           nftables (prerouting, from the     tcp/80 listens (socat)
//!                             scanner's veth): counter for
//!                             daddr in scope, counter for daddr
//!                             out of scope, set of every daddr
//!                             seen (with per-address counters),
//!                             counter for any IPv6
//! ```
//!
//! Scan: targets `10.88.1.0/24`, `10.88.2.0/24`, `csx-ok.test` (→ 10.88.1.20) and
//! `csx-excluded.test` (→ 10.88.2.100); exclusions `10.88.1.128/25` (CIDR) and
//! `10.88.2.50-10.88.2.200` (range). Names come from `/etc/netns/<scanner>/hosts`
//! (bind-mounted over /etc/hosts by `ip netns exec`); `resolv.conf` there names a server
//! the scanner has no route to, so no lookup can leave the namespace.
//!
//! In scope: 10.88.1.0-127, 10.88.2.0-49, 10.88.2.201-255. The router must count zero
//! packets to anything else, and packets to each live in-scope host. A public target
//! (literal, and by a name that resolves to one) must be refused before any packet: the
//! counters are read after that attempt and must all be zero.
//!
//! The scans run inside the scanner namespace by re-executing this test binary there
//! (`inner_*` tests, active only with `CSX_SCOPE` set), as `tests/engine.rs` does.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clinicscan_probe::{ScanConfig, ScanError, Timing, scan};

fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Live hosts in scope, and live hosts that must never see a packet.
const LIVE_IN_SCOPE: [&str; 4] = ["10.88.1.10", "10.88.1.20", "10.88.2.10", "10.88.2.220"];
const LIVE_OUT_OF_SCOPE: [&str; 4] = ["10.88.1.130", "10.88.1.200", "10.88.2.60", "10.88.2.100"];

struct Lab {
    id: String,
    scanner: String,
    router: String,
    target: String,
    children: Vec<Child>,
    netns_etc: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.scanner, &self.router, &self.target] {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(&self.netns_etc);
    }
}

fn nft(ns: &str, rules: &str) -> Result<(), String> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(rules.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// What the router saw from the scanner.
#[derive(Debug, Default)]
struct Counts {
    in_scope: u64,
    out_of_scope: u64,
    ipv6: u64,
    /// Every destination with its packet count.
    seen: Vec<(String, u64)>,
}

impl Lab {
    /// `Ok(Err(reason))`: namespaces are not available here (skip); `Err`: the lab broke.
    fn up() -> Result<Result<Lab, String>, String> {
        let id = format!("{}", std::process::id() % 100_000);
        let mut lab = Lab {
            scanner: format!("csx-{id}-s"),
            router: format!("csx-{id}-r"),
            target: format!("csx-{id}-t"),
            netns_etc: PathBuf::from(format!("/etc/netns/csx-{id}-s")),
            id,
            children: Vec::new(),
        };
        let (s, r, t) = (lab.scanner.clone(), lab.router.clone(), lab.target.clone());
        if let Err(e) = sh(&["ip", "netns", "add", &s]) {
            return Ok(Err(e));
        }
        sh(&["ip", "netns", "add", &r])?;
        sh(&["ip", "netns", "add", &t])?;
        let (sa, sb) = (format!("csx{}sa", lab.id), format!("csx{}sb", lab.id));
        let (ta, tb) = (format!("csx{}ta", lab.id), format!("csx{}tb", lab.id));
        sh(&[
            "ip", "-n", &s, "link", "add", &sa, "type", "veth", "peer", "name", &sb, "netns", &r,
        ])?;
        sh(&[
            "ip", "-n", &r, "link", "add", &ta, "type", "veth", "peer", "name", &tb, "netns", &t,
        ])?;
        sh(&[
            "ip",
            "netns",
            "exec",
            &s,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ])?;
        sh(&[
            "ip",
            "netns",
            "exec",
            &s,
            "sysctl",
            "-qw",
            "net.ipv6.conf.default.disable_ipv6=1",
        ])?;
        sh(&[
            "ip",
            "netns",
            "exec",
            &r,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ])?;
        for (ns, dev, addr) in [
            (&s, &sa, "10.88.0.1/30"),
            (&r, &sb, "10.88.0.2/30"),
            (&r, &ta, "10.88.9.1/30"),
            (&t, &tb, "10.88.9.2/30"),
        ] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev])?;
            sh(&["ip", "-n", ns, "link", "set", dev, "up"])?;
        }
        for net in ["10.88.0.0/16", "8.0.0.0/8"] {
            sh(&["ip", "-n", &s, "route", "add", net, "via", "10.88.0.2"])?;
        }
        for net in ["10.88.1.0/24", "10.88.2.0/24"] {
            sh(&["ip", "-n", &r, "route", "add", net, "via", "10.88.9.2"])?;
        }
        sh(&[
            "ip",
            "-n",
            &t,
            "route",
            "add",
            "10.88.0.0/16",
            "via",
            "10.88.9.1",
        ])?;
        for a in LIVE_IN_SCOPE.iter().chain(&LIVE_OUT_OF_SCOPE) {
            sh(&[
                "ip",
                "-n",
                &t,
                "addr",
                "add",
                &format!("{a}/32"),
                "dev",
                "lo",
            ])?;
        }
        nft(
            &r,
            &format!(
                "table ip csx {{\n\
                 counter inscope {{}}\n counter outscope {{}}\n\
                 set allowed {{ type ipv4_addr; flags interval; elements = {{ 10.88.1.0/25, \
                 10.88.2.0-10.88.2.49, 10.88.2.201-10.88.2.255 }} }}\n\
                 set seen {{ type ipv4_addr; size 65535; flags dynamic; }}\n\
                 chain pre {{ type filter hook prerouting priority -300; policy accept;\n\
                 iifname \"{sb}\" ip daddr @allowed counter name \"inscope\"\n\
                 iifname \"{sb}\" ip daddr != @allowed counter name \"outscope\"\n\
                 iifname \"{sb}\" add @seen {{ ip daddr counter }}\n }}\n}}\n\
                 table ip6 csx6 {{\n counter v6 {{}}\n\
                 chain pre {{ type filter hook prerouting priority -300; policy accept;\n\
                 iifname \"{sb}\" counter name \"v6\"\n }}\n}}\n"
            ),
        )?;
        std::fs::create_dir_all(&lab.netns_etc).map_err(|e| e.to_string())?;
        std::fs::write(
            lab.netns_etc.join("hosts"),
            "127.0.0.1 localhost\n10.88.1.20 csx-ok.test\n10.88.2.100 csx-excluded.test\n\
             8.8.8.8 csx-public.test\n",
        )
        .map_err(|e| e.to_string())?;
        // a name server the scanner has no route to: a query fails at once (ENETUNREACH)
        // without a packet, and the names above come from the hosts file
        std::fs::write(lab.netns_etc.join("resolv.conf"), "nameserver 192.0.2.53\n")
            .map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", &t, "socat"])
            .arg("TCP-LISTEN:80,fork,reuseaddr")
            .arg("SYSTEM:printf 'HTTP/1.0 200 OK\\r\\n\\r\\n'")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        lab.children.push(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if sh(&["ip", "netns", "exec", &t, "ss", "-ltnH"])?.contains(":80 ") {
                return Ok(Ok(lab));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("socat listener did not come up".into())
    }

    fn counts(&self) -> Result<Counts, String> {
        let get = |table: &str, name: &str, family: &str| -> Result<u64, String> {
            let text = sh(&[
                "ip",
                "netns",
                "exec",
                &self.router,
                "nft",
                "list",
                "counter",
                family,
                table,
                name,
            ])?;
            packets(&text).ok_or_else(|| format!("no packets in {text}"))
        };
        let set = sh(&[
            "ip",
            "netns",
            "exec",
            &self.router,
            "nft",
            "list",
            "set",
            "ip",
            "csx",
            "seen",
        ])?;
        Ok(Counts {
            in_scope: get("csx", "inscope", "ip")?,
            out_of_scope: get("csx", "outscope", "ip")?,
            ipv6: get("csx6", "v6", "ip6")?,
            seen: seen_elements(&set),
        })
    }

    /// Runs one `inner_*` test inside the scanner namespace.
    fn run_inner(&self, name: &str) -> Result<String, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let out = Command::new("ip")
            .args(["netns", "exec", &self.scanner])
            .arg(exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env("CSX_SCOPE", &self.id)
            .output()
            .map_err(|e| e.to_string())?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() && text.contains("1 passed") {
            Ok(text)
        } else {
            Err(text)
        }
    }
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
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
    if std::env::var_os("CSX_SCOPE").is_some() {
        return; // we are the inner process
    }
    if !is_root() {
        eprintln!("skipped scope_at_the_router: needs root to create network namespaces");
        return;
    }
    let lab = match Lab::up() {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            eprintln!("skipped scope_at_the_router: cannot create network namespaces: {e}");
            return;
        }
        Err(e) => panic!("cannot build the lab: {e}"),
    };

    // 1. public targets are refused before any packet
    if let Err(text) = lab.run_inner("inner_public_refused") {
        panic!("inner_public_refused:\n{text}");
    }
    let c = lab.counts().expect("counters");
    assert_eq!(
        (c.in_scope, c.out_of_scope, c.ipv6),
        (0, 0, 0),
        "packets after a refused scan: {c:?}"
    );
    assert!(c.seen.is_empty(), "{c:?}");

    // 2. the scoped scans: connect scan with service probes, then raw SYN + UDP probes
    for name in ["inner_scoped_scan", "inner_scoped_syn_udp_scan"] {
        let text = match lab.run_inner(name) {
            Ok(t) => t,
            Err(t) => panic!("{name}:\n{t}"),
        };
        for line in text.lines().filter_map(|l| l.split_once("csx:")) {
            eprintln!("{name}:{}", line.1);
        }
    }
    let c = lab.counts().expect("counters");
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
