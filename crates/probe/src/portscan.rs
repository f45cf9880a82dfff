//! TCP port scan by connect: async (tokio), bounded by a global and a per-host semaphore,
//! paced by an optional global rate and a per-host gap ([`crate::pace`]), with timeouts from
//! the host's measured RTT and bounded retries for ports that do not answer. Each attempt is
//! classified by [`crate::attempt`]; with raw sockets the SYN scanner ([`crate::syn`])
//! answers in the same terms.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinicscan_model::{PortReason, PortState};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::attempt::{Attempt, classify, state_of};
use crate::pace::{Pace, Pacer};
use crate::rtt::{RttBounds, RttEstimator};

/// Scan-wide limits and counters.
#[derive(Debug)]
pub(crate) struct Limits {
    pub global: Arc<Semaphore>,
    /// The scan-wide rate, also held by every host's [`Pace`].
    pub rate: Option<Arc<Pacer>>,
    pub port_probes: AtomicU64,
    pub retries: u32,
    /// Raw SYN probing instead of connect, when privileged and asked for.
    pub syn: Option<Arc<crate::syn::SynScanner>>,
    /// Raw SYN discovery pings, whenever privileged (also in a connect scan).
    pub ping_syn: Option<Arc<crate::syn::SynScanner>>,
    /// How long discovery waits for an answer (adapts to the answers seen).
    pub discovery: crate::rtt::DiscoveryWait,
}

impl Limits {
    /// Waits for the host's pace and the scan's rate, and counts the probe about to go.
    pub async fn pace(&self, host: &HostCtx) {
        host.pace.wait().await;
        self.port_probes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Per-host state shared by the host's tasks.
#[derive(Debug)]
pub(crate) struct HostCtx {
    pub addr: IpAddr,
    pub rtt: Mutex<RttEstimator>,
    pub sem: Arc<Semaphore>,
    pub pace: Pace,
}

impl HostCtx {
    pub fn new(addr: IpAddr, per_host: usize, pace: Pace, bounds: RttBounds) -> Self {
        HostCtx {
            addr,
            rtt: Mutex::new(RttEstimator::new(bounds)),
            sem: Arc::new(Semaphore::new(per_host.max(1))),
            pace,
        }
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
}

/// One connection attempt (or one SYN), paced and bounded; the RTT is sampled on
/// open/closed. `attempt` counts retries of the same port (0 first).
pub(crate) async fn connect_once(
    limits: &Limits,
    host: &HostCtx,
    port: u16,
    attempt: u32,
    timeout: Duration,
) -> (Attempt, Duration) {
    // The permit first, then the pace: a connection delayed by a busy global limit after
    // its slot would otherwise land right before the next one, closer than the pace.
    let _permit = limits.global.acquire().await;
    limits.pace(host).await;
    let start = Instant::now();
    if let Some(syn) = &limits.syn {
        let a = syn.probe(host.addr, port, attempt, timeout).await;
        let elapsed = start.elapsed();
        if matches!(a, Attempt::Open | Attempt::Closed) {
            host.sample(elapsed);
        }
        return (a, elapsed);
    }
    let r = tokio::time::timeout(
        timeout,
        TcpStream::connect(SocketAddr::new(host.addr, port)),
    )
    .await;
    let elapsed = start.elapsed();
    let outcome = match r {
        Err(_) => Attempt::Timeout,
        Ok(Ok(stream)) => {
            // Trust "connected" only when the socket really has a peer and no pending error:
            // under load some network stacks (seen with gVisor) report a failed non-blocking
            // connect (host unreachable) as writable, which would invent an open port.
            let outcome = match (stream.peer_addr(), stream.take_error()) {
                (Ok(_), Ok(None)) => Attempt::Open,
                (_, Ok(Some(e))) | (Err(e), _) => match classify(&e) {
                    Attempt::Open => Attempt::Timeout,
                    other => other,
                },
                (Ok(_), Err(e)) => Attempt::Local(e),
            };
            // Close with RST: no TIME_WAIT pile-up on big scans, nothing sent to the service.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            outcome
        }
        Ok(Err(e)) => classify(&e),
    };
    if matches!(outcome, Attempt::Open | Attempt::Closed) {
        host.sample(elapsed);
    }
    (outcome, elapsed)
}

/// The result of scanning one port.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PortResult {
    pub state: PortState,
    pub reason: PortReason,
    pub latency: Option<Duration>,
    /// The last attempt failed for a local reason (reported as a notice).
    pub local_error: Option<io::ErrorKind>,
    /// Filtered, but our receive buffer dropped packets while the last attempt waited:
    /// the answer may have been one of them (reported as a notice).
    pub replies_dropped: bool,
}

/// Extra attempts for a port whose answer may have been dropped by our own receive buffer
/// (SYN scan only), each after a longer pause for the reader to catch up.
const DROP_RETRIES: u32 = 4;

/// Scans one port with retries on silence.
pub(crate) async fn scan_port(limits: &Limits, host: &HostCtx, port: u16) -> PortResult {
    let drops = || limits.syn.as_ref().map_or(0, |s| s.drops());
    let mut local_tries = 0;
    let mut drop_tries = 0;
    let mut attempt = 0;
    let (last, latency, replies_dropped) = loop {
        let timeout = host.estimator().timeout_for_attempt(attempt);
        let drops_before = drops();
        let (a, elapsed) = connect_once(limits, host, port, attempt, timeout).await;
        // Silence while the sockets dropped packets is not known to be silence.
        let dropped = drops() != drops_before;
        match a {
            Attempt::Timeout if attempt < limits.retries => attempt += 1,
            Attempt::Timeout if dropped && drop_tries < DROP_RETRIES => {
                drop_tries += 1;
                tokio::time::sleep(Duration::from_millis(50 << drop_tries)).await;
            }
            Attempt::Timeout => break (a, None, dropped),
            Attempt::Local(_) if local_tries < 5 => {
                // e.g. EMFILE under load: back off, not the port's fault
                local_tries += 1;
                tokio::time::sleep(Duration::from_millis(50 << local_tries)).await;
            }
            _ => break (a, Some(elapsed), false),
        }
    };
    let (state, reason) = state_of(&last);
    PortResult {
        state,
        reason,
        latency: if state == PortState::Filtered && reason == PortReason::NoResponse {
            None
        } else {
            latency
        },
        local_error: match &last {
            Attempt::Local(e) => Some(e.kind()),
            _ => None,
        },
        replies_dropped,
    }
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
    /// Ports reported filtered whose answer may have been dropped by our receive buffer.
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

    fn add(&mut self, r: &PortResult) {
        self.count(r.state);
        if self.local_error.is_none() {
            self.local_error = r.local_error;
        }
        self.replies_dropped += u32::from(r.replies_dropped);
    }
}

/// Scans `ports` on one host, at most the host's limit at a time; `known` results (from
/// discovery pings) are reused instead of connecting again. Returns the open ports (every
/// port with `keep_all`) in the order given, and the count of every state.
pub(crate) async fn scan_tcp(
    limits: Arc<Limits>,
    host: Arc<HostCtx>,
    ports: &[u16],
    known: &[(u16, PortResult)],
    keep_all: bool,
) -> (Vec<(u16, PortResult)>, PortTally) {
    let mut tally = PortTally::default();
    let mut kept: Vec<(usize, u16, PortResult)> = Vec::new();
    let mut record = |i: usize, port: u16, r: PortResult| {
        tally.add(&r);
        if keep_all || r.state == PortState::Open {
            kept.push((i, port, r));
        }
    };
    let mut set = JoinSet::new();
    for (i, &port) in ports.iter().enumerate() {
        if let Some(k) = known.iter().find(|k| k.0 == port) {
            record(i, port, k.1);
            continue;
        }
        // Bound the tasks in flight per host before spawning (never one task per port
        // of a 65,535-port scan at once).
        let Ok(permit) = host.sem.clone().acquire_owned().await else {
            break;
        };
        let (l, h) = (limits.clone(), host.clone());
        set.spawn(async move {
            let r = scan_port(&l, &h, port).await;
            drop(permit);
            (i, port, r)
        });
        // Reap finished tasks as we go so the set stays small.
        while let Some(Ok((i, port, r))) = set.try_join_next() {
            record(i, port, r);
        }
    }
    while let Some(res) = set.join_next().await {
        if let Ok((i, port, r)) = res {
            record(i, port, r);
        }
    }
    kept.sort_unstable_by_key(|k| k.0);
    (kept.into_iter().map(|(_, p, r)| (p, r)).collect(), tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_open_and_closed() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = l.local_addr().unwrap().port();
        // a port that was just free: bind and drop
        let closed = {
            let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            t.local_addr().unwrap().port()
        };
        let limits = Arc::new(Limits {
            global: Arc::new(Semaphore::new(8)),
            rate: None,
            port_probes: AtomicU64::new(0),
            retries: 1,
            syn: None,
            ping_syn: None,
            discovery: crate::rtt::DiscoveryWait::new(
                Duration::from_millis(500),
                Duration::from_millis(100),
            ),
        });
        let host = Arc::new(HostCtx::new(
            "127.0.0.1".parse().unwrap(),
            4,
            Pace::default(),
            RttBounds::default(),
        ));
        let (r, tally) = scan_tcp(limits.clone(), host.clone(), &[open, closed], &[], true).await;
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
        assert_eq!(limits.port_probes.load(Ordering::Relaxed), 2);
        assert!(host.estimator().srtt().is_some());
        // Without keep_all only the open port is kept; the closed one is only counted.
        let (r, tally) = scan_tcp(limits.clone(), host.clone(), &[closed, open], &[], false).await;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, open);
        assert_eq!((tally.open, tally.closed), (1, 1));
    }
}
