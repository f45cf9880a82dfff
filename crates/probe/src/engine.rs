//! The orchestrator: plan → resolve names → stream addresses → per host (discovery, port
//! scan, service probes, names) → one [`Observation`].
//!
//! Hosts are scanned concurrently (at most `max_hosts` at a time: addresses are pulled
//! from the lazy iterator only when a slot frees), ports concurrently within a host (at
//! most `max_per_host`), and every connection takes a permit of the global limit. Memory
//! stays proportional to the hosts in flight and the hosts found up.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clinicscan_model::{
    Host, HostName, HostReason, HostState, HostStatus, NameSource, Notice, NoticeKind, Observation,
    PortReason, PortState, PortSummary, ScanKind, ScanMeta, ScanOptions, ScanStats, Service,
    ToolInfo, Transport, Vantage,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::{ScanPlan, plan};
use crate::discovery::{Discovery, RawTools, discover};
use crate::dns::Dns;
use crate::netinfo::{NetInfo, arp_cache, hostname, source_for};
use crate::oui;
use crate::pace::{Pace, Pacer};
use crate::portscan::{HostCtx, Limits, scan_tcp};
use crate::raw::{ArpPinger, IcmpPinger};
use crate::rtt::DiscoveryWait;
use crate::services::{ProbeSettings, port_name, probe_tcp, probe_udp};
use crate::syn::SynScanner;
use crate::targets::{AddressIter, AddressSet, Interval, NamesByAddress, TargetSpec};
use crate::{ScanError, ScanPlan as _Plan};

/// Progress of a running scan, for a progress bar. Events are delivered from the scan's
/// own task, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ScanEvent {
    /// The scan is about to send its first packet.
    Started {
        /// Addresses to scan (after exclusions, names resolved).
        addresses: u64,
        /// TCP ports per host.
        tcp_ports: usize,
        /// UDP ports per host.
        udp_ports: usize,
    },
    /// Something the user must know (also recorded in the Observation).
    Notice(Notice),
    /// One address is done.
    HostDone {
        /// The address.
        address: IpAddr,
        /// Whether it was up.
        up: bool,
        /// Open ports found.
        open_ports: u32,
    },
    /// Periodic counters (about four times a second).
    Progress {
        /// Addresses finished.
        addresses_done: u64,
        /// Hosts found up so far.
        hosts_up: u64,
        /// Connection attempts / packets sent so far.
        port_probes: u64,
    },
    /// The scan ended (`cancelled`: stopped early; the Observation is partial).
    Finished {
        /// Whether the scan was stopped before the end.
        cancelled: bool,
    },
}

/// Runs a scan to the end. See [`scan_until`].
pub async fn scan<F: Fn(ScanEvent)>(
    config: &crate::ScanConfig,
    progress: F,
) -> Result<Observation, ScanError> {
    scan_until(config, progress, std::future::pending()).await
}

/// Runs a scan until it ends or `stop` completes (pass `tokio::signal::ctrl_c()` mapped to
/// `()`); a stopped scan returns the hosts finished so far, with `finished: None`.
///
/// Errors only before any packet is sent: a malformed target, port list or setting, a
/// target outside the scope (also a name that resolves outside it).
pub async fn scan_until<F, S>(
    config: &crate::ScanConfig,
    progress: F,
    stop: S,
) -> Result<Observation, ScanError>
where
    F: Fn(ScanEvent),
    S: Future<Output = ()>,
{
    let started = Utc::now();
    let clock = tokio::time::Instant::now();
    let plan = plan(config)?;
    let notices = Notices::default();

    // Names: resolve, check scope (refuse), check exclusions (drop, with a notice).
    let timing = config.timing;
    let needs_dns = plan.names().next().is_some() || config.reverse_dns;
    let dns = if needs_dns {
        match Dns::system(timing.dns_timeout) {
            Ok(d) => Some(d),
            Err(e) => {
                notices.push(
                    NoticeKind::DnsUnavailable,
                    format!("no DNS resolver: {e}"),
                    None,
                );
                None
            }
        }
    } else {
        None
    };
    let (targets, names) = resolve_names(&plan, dns.as_ref(), &notices).await?;

    let net = NetInfo::read();
    // Privileged tools: open once, fall back with a notice.
    let mut icmp = None;
    let mut arp = None;
    if config.discovery && !config.unprivileged {
        match IcmpPinger::open() {
            Ok(p) => {
                icmp = Some(p);
                arp = Some(ArpPinger::default());
            }
            Err(e) => notices.push(
                NoticeKind::NoPrivilege,
                format!(
                    "ICMP echo and ARP need raw sockets (root or CAP_NET_RAW): {e}; \
                     discovery uses TCP pings only"
                ),
                None,
            ),
        }
    }
    let mut scan_kind = ScanKind::Connect;
    let mut syn = None;
    if config.syn && config.unprivileged {
        notices.push(
            NoticeKind::SynFallback,
            "SYN scan was asked for with unprivileged mode; using TCP connect".into(),
            None,
        );
    } else if config.syn {
        match SynScanner::open() {
            Ok(s) => {
                syn = Some(Arc::new(s));
                scan_kind = ScanKind::Syn;
            }
            Err(e) => notices.push(
                NoticeKind::SynFallback,
                format!("SYN scan needs raw sockets ({e}); using TCP connect instead"),
                None,
            ),
        }
    }

    // Discovery pings are raw SYNs whenever raw sockets are allowed, also in a connect
    // scan (as nmap's are): a dead address then costs packets, not file descriptors.
    let ping_syn = if !config.discovery || config.unprivileged {
        None
    } else {
        syn.clone()
            .or_else(|| SynScanner::open().ok().map(Arc::new))
    };
    let limits = Arc::new(Limits {
        global: Arc::new(Semaphore::new(config.max_concurrency)),
        rate: config.rate.map(|r| Arc::new(Pacer::per_second(r))),
        port_probes: AtomicU64::new(0),
        retries: timing.retries,
        syn,
        ping_syn,
        discovery: DiscoveryWait::new(timing.discovery_timeout, timing.discovery_min),
    });
    let engine = Arc::new(Engine {
        plan,
        targets,
        names,
        net,
        icmp,
        arp,
        arp_broken: AtomicBool::new(false),
        dns: if config.reverse_dns { dns } else { None },
        limits,
        notices,
        now: started,
        oui_missing_noted: AtomicBool::new(false),
    });

    let mut meta = ScanMeta {
        id: uuid::Uuid::new_v4().to_string(),
        started,
        finished: None,
        tool: ToolInfo {
            name: "clinicscan".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        vantage: vantage(&engine.targets, config.zone.clone()),
        options: ScanOptions {
            targets: config
                .targets
                .iter()
                .cloned()
                .chain(
                    config
                        .target_files
                        .iter()
                        .map(|f| format!("@{}", f.display())),
                )
                .collect(),
            exclude: config
                .exclude
                .iter()
                .cloned()
                .chain(
                    config
                        .exclude_files
                        .iter()
                        .map(|f| format!("@{}", f.display())),
                )
                .collect(),
            ports: engine.plan.ports.spec.clone(),
            scan_kind,
            discovery: config.discovery,
            service_probes: config.service_probes,
            allow_public: config.allow_public,
            max_concurrency: u32::try_from(config.max_concurrency).unwrap_or(u32::MAX),
            max_per_host: u32::try_from(config.max_per_host).unwrap_or(u32::MAX),
        },
        stats: ScanStats::default(),
        notices: Vec::new(),
    };

    let total = AddressIter::new(&engine.targets, &engine.plan.exclude)
        .filter(|a| !engine.plan.do_not_touch.contains(*a))
        .count() as u64;
    progress(ScanEvent::Started {
        addresses: total,
        tcp_ports: engine.plan.ports.tcp.len(),
        udp_ports: engine.plan.ports.udp.len(),
    });
    let mut emitted = 0;
    emitted = engine.notices.emit_new(emitted, &progress);

    let mut hosts: Vec<Host> = Vec::new();
    let mut addrs = AddressIter::new(&engine.targets, &engine.plan.exclude);
    let mut set: JoinSet<(IpAddr, Option<Host>, bool)> = JoinSet::new();
    let mut exhausted = false;
    let mut considered = 0u64;
    let mut done = 0u64;
    let mut up = 0u64;
    let mut dnt_hits = 0u64;
    let mut cancelled = false;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tokio::pin!(stop);
    loop {
        while !exhausted && set.len() < config.max_hosts {
            let Some(addr) = addrs.next() else {
                exhausted = true;
                break;
            };
            if engine.plan.do_not_touch.contains(addr) {
                dnt_hits += 1;
                continue;
            }
            // Defence in depth: the plan checked every interval already.
            if engine
                .plan
                .scope
                .check_address(addr, &addr.to_string())
                .is_err()
            {
                continue;
            }
            considered += 1;
            let e = engine.clone();
            set.spawn(async move {
                let (host, is_up) = scan_host(e, addr).await;
                (addr, host, is_up)
            });
        }
        if set.is_empty() && exhausted {
            break;
        }
        tokio::select! {
            biased;
            () = &mut stop => {
                cancelled = true;
                set.abort_all();
                break;
            }
            r = set.join_next() => match r {
                Some(Ok((address, host, is_up))) => {
                    done += 1;
                    let open_ports = host.as_ref().map_or(0, |h| h.port_summary.open);
                    if is_up {
                        up += 1;
                    }
                    if let Some(h) = host {
                        hosts.push(h);
                    }
                    progress(ScanEvent::HostDone { address, up: is_up, open_ports });
                }
                Some(Err(e)) => {
                    done += 1;
                    if e.is_panic() {
                        engine.notices.push(NoticeKind::InternalError, "a host task failed".into(), None);
                    }
                }
                None => {}
            },
            _ = tick.tick() => {
                progress(ScanEvent::Progress {
                    addresses_done: done,
                    hosts_up: up,
                    port_probes: engine.limits.port_probes.load(Ordering::Relaxed),
                });
            }
        }
        emitted = engine.notices.emit_new(emitted, &progress);
    }
    if dnt_hits > 0 {
        engine.notices.push(
            NoticeKind::DoNotTouch,
            format!(
                "{dnt_hits} target addresses are on the do-not-touch list; nothing was sent to them"
            ),
            None,
        );
    }
    if cancelled {
        engine.notices.push(
            NoticeKind::Cancelled,
            format!("scan stopped after {done} of {total} addresses; results are partial"),
            None,
        );
    }
    engine.notices.emit_new(emitted, &progress);

    hosts.sort_by_key(|h| h.address);
    meta.stats = ScanStats {
        addresses_considered: considered,
        hosts_up: up,
        port_probes: engine.limits.port_probes.load(Ordering::Relaxed),
        elapsed_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    meta.notices = engine.notices.take();
    if !cancelled {
        meta.finished = Some(Utc::now());
    }
    progress(ScanEvent::Finished { cancelled });
    let mut obs = Observation::new(meta);
    obs.hosts = hosts;
    obs.egress = if cancelled {
        Vec::new()
    } else {
        crate::egress::attempt_all(&engine.plan).await
    };
    Ok(obs)
}

/// Notices collected from every task, deduplicated by (kind, subject).
#[derive(Debug, Default)]
struct Notices(Mutex<Vec<Notice>>);

impl Notices {
    fn push(&self, kind: NoticeKind, message: String, subject: Option<String>) {
        if let Ok(mut v) = self.0.lock()
            && !v.iter().any(|n| n.kind == kind && n.subject == subject)
        {
            v.push(Notice {
                kind,
                message,
                subject,
            });
        }
    }

    fn emit_new<F: Fn(ScanEvent)>(&self, from: usize, progress: &F) -> usize {
        let new: Vec<Notice> = match self.0.lock() {
            Ok(v) => v.get(from..).unwrap_or_default().to_vec(),
            Err(_) => return from,
        };
        let n = new.len();
        for notice in new {
            progress(ScanEvent::Notice(notice));
        }
        from + n
    }

    fn take(&self) -> Vec<Notice> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

struct Engine {
    plan: ScanPlan,
    targets: AddressSet,
    names: NamesByAddress,
    net: NetInfo,
    icmp: Option<IcmpPinger>,
    arp: Option<ArpPinger>,
    arp_broken: AtomicBool,
    dns: Option<Dns>,
    limits: Arc<Limits>,
    notices: Notices,
    now: DateTime<Utc>,
    oui_missing_noted: AtomicBool,
}

async fn resolve_names(
    plan: &_Plan,
    dns: Option<&Dns>,
    notices: &Notices,
) -> Result<(AddressSet, NamesByAddress), ScanError> {
    let mut intervals: Vec<Interval> = plan.include.intervals().to_vec();
    let mut names = NamesByAddress::new();
    for t in &plan.names {
        let TargetSpec::Name(name) = &t.spec else {
            continue;
        };
        let Some(dns) = dns else {
            notices.push(
                NoticeKind::UnresolvedName,
                format!("{name} was not scanned: no resolver"),
                Some(name.clone()),
            );
            continue;
        };
        match dns.lookup(name).await {
            Err(e) => notices.push(
                NoticeKind::UnresolvedName,
                format!("{name} did not resolve ({e}); the scan goes on without it"),
                Some(name.clone()),
            ),
            Ok(addrs) => {
                for a in addrs {
                    plan.scope.check_address(a, &format!("{name} ({a})"))?;
                    if plan.exclude.contains(a) || plan.do_not_touch.contains(a) {
                        notices.push(
                            NoticeKind::NameExcluded,
                            format!(
                                "{name} resolves to {a}, which is excluded; nothing is sent to it"
                            ),
                            Some(name.clone()),
                        );
                        continue;
                    }
                    intervals.push(Interval::single(a));
                    let e = names.entry(a).or_default();
                    if !e.contains(name) {
                        e.push(name.clone());
                    }
                }
            }
        }
    }
    Ok((AddressSet::from_intervals(intervals), names))
}

/// The scanner's own addresses toward the first address of `targets` (addresses or
/// CIDRs; anything else is skipped), before any scan: where a site's zones place it, so the
/// egress attempts of its zone can be planned. Sends nothing.
pub fn vantage_toward(targets: &[String]) -> Vantage {
    let intervals = targets
        .iter()
        .filter_map(|t| match crate::targets::parse_target(t) {
            Ok(crate::targets::TargetSpec::Interval(iv)) => Some(iv),
            _ => None,
        })
        .collect();
    vantage(&AddressSet::from_intervals(intervals), None)
}

fn vantage(targets: &AddressSet, zone: Option<String>) -> Vantage {
    let mut addresses = Vec::new();
    for v6 in [false, true] {
        if let Some(iv) = targets.intervals().iter().find(|i| i.v6 == v6)
            && let Some(src) = source_for(iv.first_addr())
            && !addresses.contains(&src)
        {
            addresses.push(src);
        }
    }
    Vantage {
        addresses,
        hostname: hostname(),
        zone,
    }
}

/// Scans one address; the Host (when it is to be reported) and whether it was up.
async fn scan_host(e: Arc<Engine>, addr: IpAddr) -> (Option<Host>, bool) {
    let config = &e.plan.config;
    let profile = e
        .plan
        .profiles
        .iter()
        .find(|(_, set)| set.contains(addr))
        .map(|(p, _)| p);
    let per_host = profile
        .and_then(|p| p.max_per_host)
        .unwrap_or(config.max_per_host);
    let gap = profile.map_or(Duration::ZERO, |p| p.connection_gap);
    let service_probes = profile
        .and_then(|p| p.service_probes)
        .unwrap_or(config.service_probes);
    let hc = Arc::new(HostCtx::new(
        addr,
        per_host,
        Pace::new(gap, e.limits.rate.clone()),
        config.timing.rtt,
    ));

    let discovery = if !config.discovery {
        Discovery::Up {
            reason: HostReason::UserSet,
            detail: None,
            rtt: None,
            mac: None,
            ports: Vec::new(),
        }
    } else if e.net.is_local(addr) {
        Discovery::Up {
            reason: HostReason::Localhost,
            detail: None,
            rtt: None,
            mac: None,
            ports: Vec::new(),
        }
    } else {
        let arp = match (addr, &e.arp) {
            (IpAddr::V4(v4), Some(arp)) if !e.arp_broken.load(Ordering::Relaxed) => {
                e.net.onlink_v4(v4).map(|(iface, own)| (arp, iface, own))
            }
            _ => None,
        };
        let raw = RawTools {
            icmp: e.icmp.as_ref(),
            arp,
        };
        match discover(&e.limits, &hc, raw).await {
            Ok(d) => d,
            Err(err) => {
                e.arp_broken.store(true, Ordering::Relaxed);
                e.notices.push(
                    NoticeKind::ArpFallback,
                    format!("ARP failed ({err}); discovery uses ICMP and TCP pings"),
                    None,
                );
                let raw = RawTools {
                    icmp: e.icmp.as_ref(),
                    arp: None,
                };
                discover(&e.limits, &hc, raw)
                    .await
                    .unwrap_or(Discovery::Down(HostReason::NoResponse))
            }
        }
    };

    let (reason, detail, rtt, mut mac, known) = match discovery {
        Discovery::Down(reason) => {
            let host = config.report_down.then(|| Host {
                address: addr,
                status: HostStatus {
                    state: HostState::Down,
                    reason,
                    detail: None,
                },
                mac: None,
                vendor: None,
                names: Vec::new(),
                rtt_ms: None,
                services: Vec::new(),
                port_summary: PortSummary::default(),
            });
            return (host, false);
        }
        Discovery::Up {
            reason,
            detail,
            rtt,
            mac,
            ports,
        } => (reason, detail, rtt, mac, ports),
    };
    if let Some(rtt) = rtt {
        hc.sample(rtt);
    }

    // TCP ports
    let (tcp, mut tally) = scan_tcp(
        e.limits.clone(),
        hc.clone(),
        &e.plan.ports.tcp,
        &known,
        config.report_closed,
    )
    .await;
    if let Some(kind) = tally.local_error {
        e.notices.push(
            NoticeKind::LocalError,
            format!(
                "some connections failed for a local reason ({kind}); \
                 those ports are reported filtered"
            ),
            None,
        );
    }
    if tally.replies_dropped > 0 {
        e.notices.push(
            NoticeKind::RepliesDropped,
            format!(
                "{} port(s) got no answer while this machine dropped incoming replies \
                 (receive buffer full); they are reported filtered but may be open or closed: \
                 scan this host again with a lower --max-rate",
                tally.replies_dropped
            ),
            Some(addr.to_string()),
        );
    }
    let mut services: Vec<Service> = tcp
        .into_iter()
        .map(|(port, r)| {
            let mut s = Service::port_only(port, Transport::Tcp, r.state, r.reason);
            s.latency_ms = r.latency.map(|d| d.as_secs_f64() * 1000.0);
            s.port_name = port_name(port, Transport::Tcp);
            s
        })
        .collect();

    let settings = Arc::new(ProbeSettings {
        probe_timeout: config.timing.probe_timeout,
        max_bytes: config.timing.probe_max_bytes,
        io_timeout: hc.estimator().io_timeout(),
        banner_wait: config.timing.banner_wait,
        now: e.now,
        server_name: e.names.get(&addr).and_then(|n| n.first().cloned()),
        snmp_communities: config.snmp_communities.clone(),
        pace: hc.pace.clone(),
    });

    // Service probes on open TCP ports, and UDP ports (their probe is their scan).
    tracing::debug!(host = %addr, open = services.iter().filter(|s| s.state == PortState::Open).count(), udp = e.plan.ports.udp.len(), probes = service_probes, "port scan done; service probes next");
    let mut set: JoinSet<Service> = JoinSet::new();
    let mut keep = Vec::new();
    for s in services.drain(..) {
        if service_probes && s.state == PortState::Open {
            let (settings, hc, limits) = (settings.clone(), hc.clone(), e.limits.clone());
            set.spawn(async move {
                let mut s = s;
                let _h = hc.sem.clone().acquire_owned().await;
                let _g = limits.global.clone().acquire_owned().await;
                // Every connection the probe opens keeps the host's pace (its context
                // carries it; see `proto::io::connect_to`).
                probe_tcp(&settings, SocketAddr::new(hc.addr, s.port), &mut s).await;
                s
            });
        } else {
            keep.push(s);
        }
    }
    for &port in &e.plan.ports.udp {
        let (settings, hc, limits) = (settings.clone(), hc.clone(), e.limits.clone());
        set.spawn(async move {
            let _h = hc.sem.clone().acquire_owned().await;
            let _g = limits.global.clone().acquire_owned().await;
            limits.pace(&hc).await;
            probe_udp(&settings, SocketAddr::new(hc.addr, port)).await
        });
    }
    while let Some(r) = set.join_next().await {
        if let Ok(s) = r {
            keep.push(s);
        }
    }
    let mut services = keep;
    services.sort_by_key(|s| (s.transport, s.port));

    for s in services.iter().filter(|s| s.transport == Transport::Udp) {
        tally.count(s.state);
    }
    let udp_scanned = u32::try_from(e.plan.ports.udp.len()).unwrap_or(u32::MAX);
    let summary = PortSummary {
        scanned: u32::try_from(e.plan.ports.tcp.len())
            .unwrap_or(u32::MAX)
            .saturating_add(udp_scanned),
        open: tally.open,
        closed: tally.closed,
        filtered: tally.filtered,
    };
    if !config.report_closed {
        services.retain(|s| s.state == PortState::Open);
    }

    // Names
    let mut names: Vec<HostName> = e
        .names
        .get(&addr)
        .into_iter()
        .flatten()
        .map(|n| HostName {
            name: n.clone(),
            source: NameSource::Target,
        })
        .collect();
    if let Some(dns) = &e.dns {
        let mut seen: HashSet<String> = names.iter().map(|n| n.name.to_lowercase()).collect();
        for n in dns.reverse(addr).await {
            if seen.insert(n.to_lowercase()) {
                names.push(HostName {
                    name: n,
                    source: NameSource::Ptr,
                });
            }
        }
    }

    // MAC: from ARP, else the kernel's neighbour cache (filled by our connections).
    if mac.is_none()
        && let IpAddr::V4(v4) = addr
        && e.net.onlink_v4(v4).is_some()
    {
        mac = arp_cache().remove(&v4);
    }
    let vendor = mac.as_deref().and_then(|m| match oui::system_table() {
        Some(t) => t.vendor(m).map(str::to_string),
        None => {
            if !e.oui_missing_noted.swap(true, Ordering::Relaxed) {
                e.notices.push(
                    NoticeKind::OuiMissing,
                    format!(
                        "{} is missing (Debian package ieee-data); MAC vendors are not named",
                        oui::OUI_CSV
                    ),
                    None,
                );
            }
            None
        }
    });

    let rtt_ms = hc
        .estimator()
        .srtt()
        .map(|d| (d.as_secs_f64() * 1e6).round() / 1000.0);
    let _ = PortReason::NoResponse;
    let host = Host {
        address: addr,
        status: HostStatus {
            state: HostState::Up,
            reason,
            detail,
        },
        mac,
        vendor,
        names,
        rtt_ms,
        services,
        port_summary: summary,
    };
    (Some(host), true)
}
