//! The orchestrator: plan → resolve names → stream addresses → discovery → per live host
//! (port scan, service probes, names) → one [`Observation`].
//!
//! Two stages run side by side. Discovery takes addresses from the lazy iterator: with raw
//! sockets thousands at once through the packet engine ([`crate::sweep`]: a ping is a few
//! packets and an entry in its tables, no task), otherwise (ARP on the local link, connect
//! pings) one task each, at most `max_hosts`. Live hosts then get a task each, at most
//! `max_hosts` at a time; within a host the port scan keeps a congestion window of probes
//! in flight ([`crate::timing`]), and every connection takes a permit of the global budget.
//! Memory stays proportional to the addresses in flight and the hosts found up.

use std::collections::{HashMap, HashSet, VecDeque};
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
use crate::discovery::{Discovery, discover};
use crate::dns::Dns;
use crate::netinfo::{NetInfo, arp_cache, hostname, source_for};
use crate::order::Spread;
use crate::oui;
use crate::pace::{Pace, RatePacer};
use crate::portscan::{HostCtx, Limits, scan_tcp};
use crate::raw::ArpPinger;
use crate::rtt::DiscoveryWait;
use crate::services::{ProbeSettings, port_name, probe_tcp, probe_udp};
use crate::sweep::{PingRequest, PingResult, Sweep, SweepConfig};
use crate::targets::{AddressIter, AddressSet, Interval, NamesByAddress, TargetSpec};
use crate::timing::{DropWatch, PathTimings, RetryPolicy};

/// Addresses the packet engine pings at once. Bounded by the last router, not by us: every
/// address pinged on a router's own subnet takes an entry in its neighbour (ARP) table
/// until it resolves or fails (about 3 s for a dead one), and a full table drops the
/// packets to live hosts too (Linux's default ceiling is 1,024 entries for the whole
/// machine, `gc_thresh3`; the lab's routers share it). 4,096 at once lost every host of the
/// last /24 of a six-/24 scan now and then. 512 addresses given up after 50-100 ms each
/// are still 5,000 addresses a second. An entry outlives its ping (about 3 s), so this
/// bound alone does not keep a fast sweep within the table: the addresses' order does
/// (`order::Spread`: a router's subnets are met a few addresses at a time).
const PINGS_IN_FLIGHT: usize = 512;
/// Live hosts found and not yet started (discovery pauses while this many wait).
const UP_WAITING: usize = 1024;
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
    let paths = Arc::new(PathTimings::new(timing.rtt));
    let rate = config.rate.map(|r| Arc::new(RatePacer::per_second(r)));
    // Raw packets (ARP, ICMP echo, SYN): opened once, with a notice when not allowed.
    let raw_wanted = !config.unprivileged && (config.discovery || config.syn);
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<PingResult>();
    let mut sweep = None;
    let mut arp = None;
    if raw_wanted {
        let opened = Sweep::open(SweepConfig {
            rate: rate.clone(),
            paths: paths.clone(),
            bounds: timing.rtt,
            retry: retry_policy(timing.retries),
            discovery_wait: timing.discovery_timeout,
            pings: ping_tx,
        });
        match opened {
            Ok(s) => {
                sweep = Some(Arc::new(s));
                if config.discovery {
                    arp = Some(ArpPinger::default());
                }
            }
            Err(e) => notices.push(
                NoticeKind::NoPrivilege,
                format!(
                    "ICMP echo, ARP and SYN packets need raw sockets (root or CAP_NET_RAW): \
                     {e}; discovery uses TCP connects only"
                ),
                None,
            ),
        }
    } else {
        drop(ping_tx);
    }
    let mut scan_kind = ScanKind::Connect;
    if config.syn && config.unprivileged {
        notices.push(
            NoticeKind::SynFallback,
            "SYN scan was asked for with unprivileged mode; using TCP connect".into(),
            None,
        );
    } else if config.syn {
        if sweep.is_some() {
            scan_kind = ScanKind::Syn;
        } else {
            notices.push(
                NoticeKind::SynFallback,
                "SYN scan needs raw sockets; using TCP connect instead".into(),
                None,
            );
        }
    }
    let limits = Arc::new(Limits {
        global: Arc::new(Semaphore::new(connect_budget(config.max_concurrency))),
        rate,
        port_probes: AtomicU64::new(0),
        retry: retry_policy(timing.retries),
        paths,
        bounds: timing.rtt,
        sweep: sweep.clone(),
        syn: scan_kind == ScanKind::Syn,
        discovery: DiscoveryWait::new(timing.discovery_timeout, timing.discovery_min),
        drops: DropWatch::default(),
    });
    let tcp_ports: Arc<[u16]> = Arc::from(plan.ports.tcp.clone());
    let engine = Arc::new(Engine {
        plan,
        targets,
        names,
        net,
        arp,
        arp_broken: AtomicBool::new(false),
        dns: if config.reverse_dns { dns } else { None },
        limits,
        notices,
        now: started,
        oui_missing_noted: AtomicBool::new(false),
        tcp_ports,
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
    // Spread across the target's /24s: a router's own subnets are met a few addresses at a
    // time, not as bursts that fill its neighbour table (see `order`).
    let mut addrs = Spread::new(&engine.targets, &engine.plan.exclude);
    // Discovery: addresses with the packet engine, tasks otherwise.
    let mut pinging: HashMap<IpAddr, Arc<HostCtx>> = HashMap::new();
    let mut discovering: JoinSet<(Arc<HostCtx>, Discovery)> = JoinSet::new();
    let mut up_waiting: VecDeque<(Arc<HostCtx>, Discovery)> = VecDeque::new();
    let mut set: JoinSet<(IpAddr, Option<Host>, bool)> = JoinSet::new();
    // Addresses given up: a late answer may still come until then (the last one decides
    // how long the scan listens after everything else is done).
    let mut listen_until = clock;
    let mut late_up: HashSet<IpAddr> = HashSet::new();
    let mut exhausted = false;
    let mut considered = 0u64;
    let mut done = 0u64;
    let mut up = 0u64;
    let mut dnt_hits = 0u64;
    let mut cancelled = false;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tokio::pin!(stop);
    loop {
        while !exhausted
            && pinging.len() < PINGS_IN_FLIGHT
            && discovering.len() < config.max_hosts
            && up_waiting.len() < UP_WAITING
        {
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
            let hc = engine.host_ctx(addr);
            match engine.route(addr) {
                Route::Given(reason) => up_waiting.push_back((hc, Discovery::given(reason))),
                Route::Sweep(sweep) => {
                    let request = PingRequest {
                        addr,
                        echo: true,
                        gentle: hc.pace.host().cloned(),
                    };
                    if sweep.ping(request) {
                        pinging.insert(addr, hc);
                    } else {
                        let e = engine.clone();
                        discovering.spawn(async move {
                            let d = e.discover(&hc, false).await;
                            (hc, d)
                        });
                    }
                }
                Route::Task { arp } => {
                    let e = engine.clone();
                    discovering.spawn(async move {
                        let d = e.discover(&hc, arp).await;
                        (hc, d)
                    });
                }
            }
        }
        while set.len() < config.max_hosts
            && let Some((hc, discovery)) = up_waiting.pop_front()
        {
            let e = engine.clone();
            set.spawn(async move {
                let addr = hc.addr;
                let (host, is_up) = scan_host(e, hc, discovery).await;
                (addr, host, is_up)
            });
        }
        let discovery_idle = exhausted && pinging.is_empty() && discovering.is_empty();
        if discovery_idle && up_waiting.is_empty() && set.is_empty() {
            // Everything is done but a late answer may still come for an address given up:
            // listen until each had the whole discovery wait.
            let now = tokio::time::Instant::now();
            if now >= listen_until || engine.limits.sweep.is_none() {
                break;
            }
            tokio::select! {
                biased;
                () = &mut stop => {
                    cancelled = true;
                    break;
                }
                r = ping_rx.recv() => match r {
                    Some(r) => {
                        if let Some(d) = late_answer(&r, &mut late_up) {
                            up_waiting.push_back((engine.host_ctx(r.addr), d));
                        }
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(listen_until) => {}
            }
            continue;
        }
        let down = |addr: IpAddr, reason: HostReason, hosts: &mut Vec<Host>| {
            if config.report_down {
                hosts.push(down_host(addr, reason));
            }
            progress(ScanEvent::HostDone {
                address: addr,
                up: false,
                open_ports: 0,
            });
        };
        tokio::select! {
            biased;
            () = &mut stop => {
                cancelled = true;
                set.abort_all();
                discovering.abort_all();
                break;
            }
            r = ping_rx.recv(), if !pinging.is_empty() || engine.limits.sweep.is_some() => {
                let Some(r) = r else { continue };
                match pinging.remove(&r.addr) {
                    Some(hc) => match Discovery::from_ping(r.answer) {
                        Discovery::Down(reason) => {
                            // a late answer counts for the whole discovery wait after the
                            // address was given up (its last ping may have left just before)
                            if reason == HostReason::NoResponse {
                                let now = tokio::time::Instant::now();
                                listen_until = listen_until.max(now + timing.discovery_timeout);
                            }
                            done += 1;
                            down(r.addr, reason, &mut hosts);
                        }
                        d => up_waiting.push_back((hc, d)),
                    },
                    None => {
                        if let Some(d) = late_answer(&r, &mut late_up) {
                            // its down record (if any) gives way to the host's
                            hosts.retain(|h| h.address != r.addr);
                            up_waiting.push_back((engine.host_ctx(r.addr), d));
                        }
                    }
                }
            }
            r = discovering.join_next(), if !discovering.is_empty() => match r {
                Some(Ok((hc, Discovery::Down(reason)))) => {
                    done += 1;
                    down(hc.addr, reason, &mut hosts);
                }
                Some(Ok((hc, d))) => up_waiting.push_back((hc, d)),
                Some(Err(e)) => {
                    done += 1;
                    if e.is_panic() {
                        engine.notices.push(NoticeKind::InternalError, "a discovery task failed".into(), None);
                    }
                }
                None => {}
            },
            r = set.join_next(), if !set.is_empty() => match r {
                Some(Ok((address, host, is_up))) => {
                    if !late_up.contains(&address) {
                        done += 1;
                    }
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
                    port_probes: engine.limits.probes_sent(),
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
        port_probes: engine.limits.probes_sent(),
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
    arp: Option<ArpPinger>,
    arp_broken: AtomicBool,
    dns: Option<Dns>,
    limits: Arc<Limits>,
    notices: Notices,
    now: DateTime<Utc>,
    oui_missing_noted: AtomicBool,
    /// The TCP ports, shared by every host's scan.
    tcp_ports: Arc<[u16]>,
}

/// How an address is discovered.
enum Route {
    /// Up without a packet (discovery off, our own address).
    Given(HostReason),
    /// Pinged by the packet engine.
    Sweep(Arc<Sweep>),
    /// A task: ARP on the local link (`arp`), else TCP connects.
    Task { arp: bool },
}

impl Engine {
    /// The profile that applies to `addr` (the first that matches).
    fn profile(&self, addr: IpAddr) -> Option<&crate::HostProfile> {
        self.plan
            .profiles
            .iter()
            .find(|(_, set)| set.contains(addr))
            .map(|(p, _)| p)
    }

    /// A host's context: its window's ceiling and pace (a gentle profile's), its estimate.
    fn host_ctx(&self, addr: IpAddr) -> Arc<HostCtx> {
        let config = &self.plan.config;
        let profile = self.profile(addr);
        let per_host = profile
            .and_then(|p| p.max_per_host)
            .unwrap_or(config.max_per_host);
        let gap = profile.map_or(Duration::ZERO, |p| p.connection_gap);
        Arc::new(HostCtx::new(
            addr,
            per_host,
            Pace::new(gap, self.limits.rate.clone()),
            config.timing.rtt,
        ))
    }

    fn route(&self, addr: IpAddr) -> Route {
        let config = &self.plan.config;
        if !config.discovery {
            return Route::Given(HostReason::UserSet);
        }
        if self.net.is_local(addr) {
            return Route::Given(HostReason::Localhost);
        }
        let onlink = matches!(addr, IpAddr::V4(v4) if self.arp.is_some()
            && !self.arp_broken.load(Ordering::Relaxed)
            && self.net.onlink_v4(v4).is_some());
        if onlink {
            return Route::Task { arp: true };
        }
        match &self.limits.sweep {
            Some(s) if s.supports(addr) => Route::Sweep(s.clone()),
            _ => Route::Task { arp: false },
        }
    }

    /// Discovers one address by ARP or connects; ARP that fails turns itself off with a
    /// notice, and the address is pinged the other way.
    async fn discover(&self, hc: &Arc<HostCtx>, arp: bool) -> Discovery {
        let on_link = match (hc.addr, &self.arp) {
            (IpAddr::V4(v4), Some(a)) if arp && !self.arp_broken.load(Ordering::Relaxed) => {
                self.net.onlink_v4(v4).map(|(iface, own)| (a, iface, own))
            }
            _ => None,
        };
        match discover(&self.limits, hc, on_link).await {
            Ok(d) => d,
            Err(err) => {
                self.arp_broken.store(true, Ordering::Relaxed);
                self.notices.push(
                    NoticeKind::ArpFallback,
                    format!("ARP failed ({err}); discovery uses ICMP and TCP pings"),
                    None,
                );
                discover(&self.limits, hc, None)
                    .await
                    .unwrap_or(Discovery::Down(HostReason::NoResponse))
            }
        }
    }
}

/// The record of an address found down (kept only with `report_down`).
fn down_host(address: IpAddr, reason: HostReason) -> Host {
    Host {
        address,
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
    }
}

/// A late answer for an address already given up, once per address: up after all.
fn late_answer(r: &PingResult, seen: &mut HashSet<IpAddr>) -> Option<Discovery> {
    match r.answer {
        crate::sweep::PingAnswer::Late { .. } if seen.insert(r.addr) => {
            Some(Discovery::from_ping(r.answer))
        }
        _ => None,
    }
}

/// `--retries` as the engines' retry policy.
fn retry_policy(retries: u32) -> RetryPolicy {
    RetryPolicy {
        retries,
        ..RetryPolicy::default()
    }
}

/// The connect scan's budget of file descriptors: what was asked, within what the process
/// may open (raised to its hard limit when needed), less a reserve for everything else.
fn connect_budget(asked: usize) -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const RESERVE: u64 = 128;
    let want = asked as u64 + RESERVE;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return asked;
    };
    let mut limit = soft;
    if soft < want && setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard).is_ok() {
        limit = want.min(hard);
    }
    asked.min(limit.saturating_sub(RESERVE).max(1) as usize)
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

/// Scans one live host; the Host (when it is to be reported) and whether it was up.
async fn scan_host(e: Arc<Engine>, hc: Arc<HostCtx>, discovery: Discovery) -> (Option<Host>, bool) {
    let config = &e.plan.config;
    let addr = hc.addr;
    let service_probes = e
        .profile(addr)
        .and_then(|p| p.service_probes)
        .unwrap_or(config.service_probes);
    let (reason, detail, rtt, mut mac, known) = match discovery {
        Discovery::Down(reason) => {
            return (config.report_down.then(|| down_host(addr, reason)), false);
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
        e.tcp_ports.clone(),
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
                 (its receive buffers were full); they are reported filtered but may be open \
                 or closed: scan this host again with a lower --max-rate",
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
        retransmit: hc.retransmit_timeout(&e.limits),
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
            // Every datagram the probe sends keeps the host's pace (`proto::io::udp_send`).
            limits.port_probes.fetch_add(1, Ordering::Relaxed);
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
