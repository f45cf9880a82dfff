//! TCP port scan. With raw sockets and `--syn` the packet engine ([`crate::sweep`]) scans;
//! otherwise the connect engine here: async connects (tokio), within the scan's budget of
//! file descriptors (the global semaphore), at most a host's congestion window of them in
//! flight ([`crate::timing::Window`]: it grows on answers and halves on loss, instead of a
//! fixed number per host), paced by the host's gentle gap and the scan's rate
//! ([`crate::pace`]), with timeouts from the host's and its path's round trips and retries
//! only where evidence says a SYN or its answer may have been lost. Each attempt is
//! classified by [`crate::attempt`].

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinicscan_model::{PortReason, PortState};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::attempt::{Attempt, classify, state_of};
use crate::pace::{Pace, RatePacer, paced_connect};
use crate::rtt::{DiscoveryWait, RttBounds, RttEstimator};
use crate::sweep::{ScanRequest, Sweep};
use crate::timing::{
    DropWatch, PathKey, PathTimings, RetryPolicy, Silence, Verdict, Window, timeout_for,
};

/// Scan-wide limits, counters and learned timing.
#[derive(Debug)]
pub(crate) struct Limits {
    /// The connect scan's and the probes' budget of file descriptors.
    pub global: Arc<Semaphore>,
    /// The scan-wide rate, also held by every host's [`Pace`].
    pub rate: Option<Arc<RatePacer>>,
    /// Connections and probes started here (the packet engine counts its own).
    pub port_probes: AtomicU64,
    pub retry: RetryPolicy,
    /// Round trips and losses per network path.
    pub paths: Arc<PathTimings>,
    pub bounds: RttBounds,
    /// The packet engine, when raw sockets are allowed (discovery pings, and the port
    /// scan with `syn`).
    pub sweep: Option<Arc<Sweep>>,
    /// Port scan by SYN through the packet engine.
    pub syn: bool,
    /// How long connect pings and ARP wait (adapts to the answers seen).
    pub discovery: DiscoveryWait,
    /// This machine's count of received packets it dropped.
    pub drops: DropWatch,
}

impl Limits {
    /// Probes sent so far, by connect and by the packet engine.
    pub fn probes_sent(&self) -> u64 {
        self.port_probes.load(Ordering::Relaxed)
            + self
                .sweep
                .as_ref()
                .map_or(0, |s| s.counters().sent.load(Ordering::Relaxed))
    }
}

/// Per-host state shared by the host's tasks.
#[derive(Debug)]
pub(crate) struct HostCtx {
    pub addr: IpAddr,
    pub rtt: Mutex<RttEstimator>,
    /// Service probes of the host at once.
    pub sem: Arc<Semaphore>,
    pub pace: Pace,
    /// The ceiling of the host's congestion window (a gentle profile: 1).
    pub max_window: usize,
}

/// Service probes of one host at once, at most (a gentle profile's limit is lower).
const PROBES_PER_HOST: usize = 32;

impl HostCtx {
    /// `per_host`: the ceiling of the port scan's window, and of the service probes at once
    /// (those at most [`PROBES_PER_HOST`]).
    pub fn new(addr: IpAddr, per_host: usize, pace: Pace, bounds: RttBounds) -> Self {
        HostCtx {
            addr,
            rtt: Mutex::new(RttEstimator::new(bounds)),
            sem: Arc::new(Semaphore::new(per_host.clamp(1, PROBES_PER_HOST))),
            pace,
            max_window: per_host.max(1),
        }
    }

    /// How long a UDP probe waits for an answer before it sends again: the port scan's
    /// timeout for this host (its own and its path's round trips).
    pub fn retransmit_timeout(&self, limits: &Limits) -> Duration {
        let path = limits.paths.get(PathKey::of(self.addr)).map(|p| p.rtt);
        timeout_for(&self.estimator(), path.as_ref())
    }

    pub fn sample(&self, rtt: Duration) {
        if let Ok(mut r) = self.rtt.lock() {
            r.sample(rtt);
        }
    }

    pub fn estimator(&self) -> RttEstimator {
        self.rtt
            .lock()
            .map(|r| *r)
            .unwrap_or_else(|p| *p.into_inner())
    }

    fn replace_estimator(&self, e: RttEstimator) {
        if let Ok(mut r) = self.rtt.lock() {
            *r = e;
        }
    }
}

/// One connection attempt, paced and bounded: the host's pace slot is held until the SYN
/// has left, then released while the handshake completes.
pub(crate) async fn connect_once(
    limits: &Limits,
    host: &HostCtx,
    port: u16,
    timeout: Duration,
) -> (Attempt, Duration) {
    // The descriptor first, then the pace: a connection delayed by a busy budget after its
    // slot would otherwise land right before the next one, closer than the pace.
    let _permit = limits.global.acquire().await;
    let addr = SocketAddr::new(host.addr, port);
    let connecting = paced_connect(&host.pace, addr).await;
    limits.port_probes.fetch_add(1, Ordering::Relaxed);
    let start = Instant::now();
    let outcome = match connecting {
        Err(e) => classify(&e),
        Ok(c) => match tokio::time::timeout(timeout, c.finish()).await {
            Err(_) => Attempt::Timeout,
            Ok(Ok(stream)) => {
                // Close with RST: no TIME_WAIT pile-up on big scans, nothing sent to the
                // service.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                Attempt::Open
            }
            Ok(Err(e)) => classify(&e),
        },
    };
    (outcome, start.elapsed())
}

/// The result of scanning one port.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PortResult {
    pub state: PortState,
    pub reason: PortReason,
    pub latency: Option<Duration>,
    /// The last attempt failed for a local reason (reported as a notice).
    pub local_error: Option<io::ErrorKind>,
    /// Filtered, but this machine dropped received packets while the last attempt waited:
    /// the answer may have been one of them (reported as a notice).
    pub replies_dropped: bool,
}

/// A host's port states, counted as they come in (closed ports are counted, not kept,
/// unless asked for: a full-range scan of a subnet must not hold 65,535 records a host).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortTally {
    pub open: u32,
    pub closed: u32,
    pub filtered: u32,
    /// The first local error (EMFILE...), reported as a notice.
    pub local_error: Option<io::ErrorKind>,
    /// Ports reported filtered whose answer may have been dropped by this machine.
    pub replies_dropped: u32,
}

impl PortTally {
    /// Counts one port in `state`.
    pub fn count(&mut self, state: PortState) {
        match state {
            PortState::Open => self.open += 1,
            PortState::Closed => self.closed += 1,
            PortState::Filtered | PortState::OpenFiltered => self.filtered += 1,
        }
    }

    /// Adds the counts of another share of the same host's ports.
    pub fn merge(&mut self, other: &PortTally) {
        self.open += other.open;
        self.closed += other.closed;
        self.filtered += other.filtered;
        if self.local_error.is_none() {
            self.local_error = other.local_error;
        }
        self.replies_dropped += other.replies_dropped;
    }

    fn add(&mut self, r: &PortResult) {
        self.count(r.state);
        if self.local_error.is_none() {
            self.local_error = r.local_error;
        }
        self.replies_dropped += u32::from(r.replies_dropped);
    }
}

/// Scans `ports` on one host; `known` results (from discovery pings) are reused instead of
/// probing again. Returns the open ports (every port with `keep_all`) in the order given,
/// and the count of every state.
pub(crate) async fn scan_tcp(
    limits: Arc<Limits>,
    host: Arc<HostCtx>,
    ports: Arc<[u16]>,
    known: &[(u16, PortResult)],
    keep_all: bool,
) -> (Vec<(u16, PortResult)>, PortTally) {
    if limits.syn
        && let Some(sweep) = &limits.sweep
    {
        let request = ScanRequest {
            addr: host.addr,
            ports: ports.clone(),
            known: known.to_vec(),
            keep_all,
            max_window: if host.pace.is_gentle() {
                host.max_window
            } else {
                usize::MAX
            },
            gentle: host.pace.host().cloned(),
            ping_rtt: host.estimator().srtt(),
            reply: tokio::sync::oneshot::channel().0,
        };
        if let Some(outcome) = sweep.scan(request).await {
            host.replace_estimator(outcome.rtt);
            return (outcome.ports, outcome.tally);
        }
    }
    connect_scan(&limits, &host, &ports, known, keep_all).await
}

/// Attempts that failed for a local reason (EMFILE under load ...) before the port is
/// reported filtered with the error.
const LOCAL_RETRIES: u32 = 5;

/// The connect engine: one host's ports, at most its window of connects in flight.
async fn connect_scan(
    limits: &Arc<Limits>,
    host: &Arc<HostCtx>,
    ports: &[u16],
    known: &[(u16, PortResult)],
    keep_all: bool,
) -> (Vec<(u16, PortResult)>, PortTally) {
    let path = PathKey::of(host.addr);
    let learned = limits.paths.get(path).map_or(0.0, |p| p.window);
    let mut window = Window::new(learned, host.max_window);
    let mut tally = PortTally::default();
    let mut kept: Vec<(usize, u16, PortResult)> = Vec::new();
    let skip: HashSet<u16> = known.iter().map(|k| k.0).collect();
    let index = |port: u16| ports.iter().position(|&p| p == port).unwrap_or(usize::MAX);
    for &(port, r) in known {
        tally.add(&r);
        if keep_all || r.state == PortState::Open {
            kept.push((index(port), port, r));
        }
    }
    // (port, tries so far, local failures so far)
    let mut again: VecDeque<(u16, u32, u32)> = VecDeque::new();
    let mut next = 0;
    let mut losses = 0u64;
    let mut samples_used = 0u32;
    let mut set: JoinSet<(u16, u32, u32, u64, Attempt, Duration)> = JoinSet::new();
    // for the debug log
    let started = Instant::now();
    let (mut timeouts, mut resent) = (0u32, 0u32);
    loop {
        while set.len() < window.allowed() {
            let (port, tries, local) = match again.pop_front() {
                Some(a) => a,
                None => {
                    // by position: a list with a port twice must not send `next` back
                    let Some(off) = ports[next..].iter().position(|p| !skip.contains(p)) else {
                        break;
                    };
                    let p = ports[next + off];
                    next += off + 1;
                    (p, 0, 0)
                }
            };
            let estimate = host.estimator();
            let path_rtt = limits.paths.get(path).map(|p| p.rtt);
            let timeout = timeout_for(&estimate, path_rtt.as_ref())
                .saturating_mul(1 << tries.min(4))
                .min(limits.bounds.max.max(limits.bounds.initial));
            resent += u32::from(tries > 0);
            let (l, h) = (limits.clone(), host.clone());
            set.spawn(async move {
                if local > 0 {
                    // a local resource ran out: give it time
                    tokio::time::sleep(Duration::from_millis(50 << local)).await;
                }
                let drops = l.drops.current();
                let (a, elapsed) = connect_once(&l, &h, port, timeout).await;
                (port, tries + 1, local, drops, a, elapsed)
            });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let Ok((port, tries, local, drops_before, attempt, elapsed)) = done else {
            continue;
        };
        let result = |attempt: &Attempt, latency| {
            let (state, reason) = state_of(attempt);
            PortResult {
                state,
                reason,
                latency,
                local_error: match attempt {
                    Attempt::Local(e) => Some(e.kind()),
                    _ => None,
                },
                replies_dropped: false,
            }
        };
        let mut record = |r: PortResult| {
            tally.add(&r);
            if keep_all || r.state == PortState::Open {
                kept.push((index(port), port, r));
            }
        };
        match attempt {
            Attempt::Open | Attempt::Closed | Attempt::Unreachable => {
                if !matches!(attempt, Attempt::Unreachable) {
                    host.sample(elapsed);
                    limits.paths.sample(path, elapsed);
                }
                if tries > 1 {
                    // answered only when asked again: the first SYN or its answer was lost
                    losses += 1;
                    limits.paths.loss(path);
                    let now = Instant::now();
                    window.shrink_for((now - elapsed).into_std(), now.into_std());
                } else if window.grow() && losses == 0 {
                    limits.paths.reached(path, window.size());
                }
                record(result(&attempt, Some(elapsed)));
            }
            Attempt::Local(_) if local < LOCAL_RETRIES => {
                window.shrink();
                again.push_back((port, tries - 1, local + 1));
            }
            Attempt::Local(_) => record(result(&attempt, None)),
            Attempt::Timeout => {
                timeouts += 1;
                let dropped = limits.drops.current() != drops_before;
                let path_stats = limits.paths.get(path);
                let path_losses = path_stats.map_or(0, |p| p.losses);
                tracing::trace!(host = %host.addr, port, tries, waited_ms = elapsed.as_millis() as u64, dropped, path_losses, window = window.size() as u64, "connect: wait ran out");
                if dropped {
                    let now = Instant::now();
                    window.shrink_for((now - elapsed).into_std(), now.into_std());
                } else if losses == 0
                    && path_losses == 0
                    && window.grow_silent(path_stats.map_or(0.0, |p| p.window))
                {
                    // a silent port is its firewall's doing, not the network's
                    limits.paths.reached(path, window.size());
                }
                let verdict = limits.retry.decide(Silence {
                    tries,
                    dropped,
                    host_losses: losses,
                    path_losses,
                    samples_used,
                });
                match verdict {
                    Verdict::Retry { sample } => {
                        samples_used += u32::from(sample);
                        again.push_back((port, tries, 0));
                    }
                    Verdict::Silent => {
                        let mut r = result(&attempt, None);
                        r.replies_dropped = dropped;
                        record(r);
                    }
                }
            }
        }
    }
    if losses == 0 {
        limits.paths.reached(path, window.size());
    }
    tracing::debug!(
        host = %host.addr,
        ms = started.elapsed().as_millis() as u64,
        window = window.size() as u64,
        srtt_us = host.estimator().srtt().map_or(0, |d| d.as_micros() as u64),
        timeouts,
        resent,
        losses,
        "connect: port scan done"
    );
    kept.sort_unstable_by_key(|k| k.0);
    (kept.into_iter().map(|(_, p, r)| (p, r)).collect(), tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Arc<Limits> {
        Arc::new(Limits {
            global: Arc::new(Semaphore::new(8)),
            rate: None,
            port_probes: AtomicU64::new(0),
            retry: RetryPolicy::default(),
            paths: Arc::new(PathTimings::new(RttBounds::default())),
            bounds: RttBounds::default(),
            sweep: None,
            syn: false,
            discovery: DiscoveryWait::new(Duration::from_millis(500), Duration::from_millis(100)),
            drops: DropWatch::default(),
        })
    }

    #[tokio::test]
    async fn loopback_open_and_closed() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = l.local_addr().unwrap().port();
        // a port that was just free: bind and drop
        let closed = {
            let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            t.local_addr().unwrap().port()
        };
        let limits = limits();
        let host = Arc::new(HostCtx::new(
            "127.0.0.1".parse().unwrap(),
            4,
            Pace::default(),
            RttBounds::default(),
        ));
        let ports: Arc<[u16]> = Arc::from(vec![open, closed]);
        let (r, tally) = scan_tcp(limits.clone(), host.clone(), ports, &[], true).await;
        assert_eq!(
            (tally.open, tally.closed, tally.filtered, tally.local_error),
            (1, 1, 0, None)
        );
        assert_eq!(r[0].0, open);
        assert_eq!(
            (r[0].1.state, r[0].1.reason),
            (PortState::Open, PortReason::SynAck)
        );
        assert_eq!(
            (r[1].1.state, r[1].1.reason),
            (PortState::Closed, PortReason::Reset)
        );
        assert_eq!(limits.probes_sent(), 2);
        assert!(host.estimator().srtt().is_some());
        // Without keep_all only the open port is kept; the closed one is only counted.
        let ports: Arc<[u16]> = Arc::from(vec![closed, open]);
        let (r, tally) = scan_tcp(limits.clone(), host.clone(), ports, &[], false).await;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, open);
        assert_eq!((tally.open, tally.closed), (1, 1));
    }

    /// Many closed ports answer at once: the window grows past its start, and a port known
    /// from discovery is not asked again.
    #[tokio::test]
    async fn the_window_grows_on_answers_and_known_ports_are_reused() {
        let limits = limits();
        let host = Arc::new(HostCtx::new(
            "127.0.0.1".parse().unwrap(),
            1024,
            Pace::default(),
            RttBounds::default(),
        ));
        // 200 distinct free ports: held while collected, closed before the scan
        let held: Vec<std::net::TcpListener> = (0..200)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let free: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        drop(held);
        let known = vec![(
            free[0],
            PortResult {
                state: PortState::Open,
                reason: PortReason::SynAck,
                latency: None,
                local_error: None,
                replies_dropped: false,
            },
        )];
        let ports: Arc<[u16]> = Arc::from(free.clone());
        let (r, tally) = scan_tcp(limits.clone(), host, ports, &known, false).await;
        assert_eq!(r, known, "the known port is reported as discovery found it");
        assert_eq!((tally.open, tally.closed), (1, 199));
        assert_eq!(limits.probes_sent(), 199);
        let learned = limits
            .paths
            .get(PathKey::of("127.0.0.1".parse().unwrap()))
            .unwrap();
        assert!(learned.window > 32.0 + 100.0, "{}", learned.window);
    }
}
