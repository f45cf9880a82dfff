//! Timing learned across the scan, shared by the connect and the SYN engines.
//!
//! - **Round trips per network path.** Every answer of the scan (a ping, a SYN-ACK, an RST)
//!   is a sample of its host's round trip and of its path's: the hosts of one /24 (IPv4) or
//!   /64 (IPv6), which in a clinic sit behind the same router and switch. A host with few
//!   answers of its own — one that answered ping and drops every TCP port — is probed with
//!   timeouts from its ping and its neighbours' answers ([`timeout_for`]), as nmap's group
//!   timing does, instead of waiting out a fixed floor.
//! - **A congestion window per host** ([`Window`]): how many probes may await an answer.
//!   It grows on answers (doubling per round trip, then one per window), and also on
//!   silence while nothing says packets were lost: a port that answers nothing is its
//!   firewall's doing, not the network's. It halves on evidence of loss.
//! - **Evidence of loss**, which alone earns a silent port more attempts ([`RetryPolicy`]):
//!   an answer that came only to a retransmission (its first try was lost), packets this
//!   machine dropped while the probe waited (the raw socket's receive buffer, the kernel's
//!   input backlog), and a sample of silent ports each host gets asked twice so that loss
//!   on a quiet path is found at all.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::rtt::{RttBounds, RttEstimator};

/// The network path of an address: its /24 (IPv4) or /64 (IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PathKey(u64);

impl PathKey {
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => PathKey(u64::from(u32::from(a) >> 8)),
            IpAddr::V6(a) => PathKey((u128::from(a) >> 64) as u64 | 1 << 63),
        }
    }
}

/// What the scan learned about one path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PathStats {
    /// Round trips of every answer from the path.
    pub rtt: RttEstimator,
    /// Answers that came only for a retransmission: packets the path lost.
    pub losses: u64,
    /// The largest window a host of the path reached without loss: where the next host
    /// of the path starts.
    pub window: f64,
}

/// Per-path statistics of the whole scan.
#[derive(Debug)]
pub(crate) struct PathTimings {
    bounds: RttBounds,
    paths: Mutex<HashMap<PathKey, PathStats>>,
}

/// A scan spreads over at most this many paths' statistics (a /8 has 65,536 /24s); past it
/// the table starts again (a path then learns anew, which is only slower).
const MAX_PATHS: usize = 4096;

impl PathTimings {
    pub fn new(bounds: RttBounds) -> Self {
        PathTimings {
            bounds,
            paths: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, key: PathKey, f: impl FnOnce(&mut PathStats) -> R) -> Option<R> {
        let mut m = self.paths.lock().ok()?;
        if m.len() >= MAX_PATHS && !m.contains_key(&key) {
            m.clear();
        }
        let bounds = self.bounds;
        let stats = m.entry(key).or_insert_with(|| PathStats {
            rtt: RttEstimator::new(bounds),
            losses: 0,
            window: 0.0,
        });
        Some(f(stats))
    }

    /// One answer's round trip from a host of `key`'s path.
    pub fn sample(&self, key: PathKey, rtt: Duration) {
        self.with(key, |p| p.rtt.sample(rtt));
    }

    /// A packet to the path was lost (an answer came only for a retransmission).
    pub fn loss(&self, key: PathKey) {
        self.with(key, |p| p.losses += 1);
    }

    /// A host of the path reached `window` with no loss of its own (told as it grows, so a
    /// host that starts meanwhile starts there).
    pub fn reached(&self, key: PathKey, window: f64) {
        self.with(key, |p| p.window = p.window.max(window));
    }

    /// The path's statistics so far.
    pub fn get(&self, key: PathKey) -> Option<PathStats> {
        self.with(key, |p| *p)
    }
}

/// The timeout of a probe to a host: its own estimate once it has answered anything (its
/// ping counts: a host that answered ping and drops every TCP port is probed with its ping's
/// round trip, not a fixed wait), else its path's (the neighbours' answers), else the initial
/// timeout; within the bounds.
pub(crate) fn timeout_for(host: &RttEstimator, path: Option<&RttEstimator>) -> Duration {
    if host.srtt().is_some() {
        return host.timeout();
    }
    match path.filter(|p| p.srtt().is_some()) {
        Some(p) => p.timeout(),
        None => host.timeout(),
    }
}

/// The round trips of discovery answers per path, and what an address on a path that has
/// not answered yet waits: the median of the paths' timeouts. A median, not one estimate
/// over every answer: a few hosts that answer 400 ms late on one path must not make every
/// address of every other path wait that long (their own path waits for them; an answer
/// that comes after an address was given up still counts).
#[derive(Debug)]
pub(crate) struct DiscoveryPaths {
    bounds: RttBounds,
    paths: HashMap<PathKey, RttEstimator>,
    typical: Option<Duration>,
    /// A sample came since `typical` was computed.
    stale: bool,
    /// Not computed again before then (a /8 with thousands of answering paths).
    next_update: Instant,
}

impl DiscoveryPaths {
    pub fn new(bounds: RttBounds) -> Self {
        DiscoveryPaths {
            bounds,
            paths: HashMap::new(),
            typical: None,
            stale: false,
            next_update: Instant::now(),
        }
    }

    /// One discovery answer's round trip from an address of `key`'s path.
    pub fn sample(&mut self, key: PathKey, rtt: Duration) {
        if self.paths.len() >= MAX_PATHS && !self.paths.contains_key(&key) {
            return;
        }
        let bounds = self.bounds;
        self.paths
            .entry(key)
            .or_insert_with(|| RttEstimator::new(bounds))
            .sample(rtt);
        self.stale = true;
    }

    /// The wait for an address of a path with no answer yet: the median of the answering
    /// paths' timeouts, the initial timeout before any answer.
    pub fn typical(&mut self, now: Instant) -> Duration {
        if self.stale && now >= self.next_update {
            let mut timeouts: Vec<Duration> = self.paths.values().map(|p| p.timeout()).collect();
            let mid = timeouts.len() / 2;
            self.typical = (!timeouts.is_empty()).then(|| *timeouts.select_nth_unstable(mid).1);
            self.stale = false;
            self.next_update = now + Duration::from_millis(10);
        }
        self.typical.unwrap_or(self.bounds.initial)
    }
}

/// How many probes to one host may await an answer at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    cwnd: f64,
    ssthresh: f64,
    max: f64,
    /// The size last reported by `grow`.
    told: f64,
    /// When it last halved for a loss (see [`Window::shrink_for`]).
    shrunk_at: Option<Instant>,
}

/// The window a host starts with when its path taught nothing yet (nmap -T4 starts at 10;
/// clinic devices answer a few dozen SYNs at once without trouble).
pub(crate) const INITIAL_WINDOW: f64 = 32.0;
const MIN_WINDOW: f64 = 1.0;

impl Window {
    /// A window starting at `initial` (the path's learned window, or the default), never
    /// above `max` (a gentle profile's one connection, the connect budget ...).
    pub fn new(initial: f64, max: usize) -> Self {
        let max = (max.max(1)) as f64;
        let start = if initial >= MIN_WINDOW {
            initial
        } else {
            INITIAL_WINDOW
        };
        Window {
            cwnd: start.min(max),
            ssthresh: max,
            max,
            told: start.min(max),
            shrunk_at: None,
        }
    }

    /// Probes that may be outstanding now.
    pub fn allowed(&self) -> usize {
        self.cwnd as usize
    }

    /// The window as a number (reported to the path when the host is done).
    pub fn size(&self) -> f64 {
        self.cwnd
    }

    /// An answer came (or a silence that says nothing about the network): slow start below
    /// the threshold, one more per window above it. True when the window doubled since it
    /// last said so (time to tell the path).
    pub fn grow(&mut self) -> bool {
        self.cwnd = if self.cwnd < self.ssthresh {
            self.cwnd + 1.0
        } else {
            self.cwnd + 1.0 / self.cwnd
        }
        .min(self.max);
        if self.cwnd >= 2.0 * self.told {
            self.told = self.cwnd;
            true
        } else {
            false
        }
    }

    /// A port stayed silent and nothing says a packet was lost: grow, in slow start up to
    /// what the path's hosts reached without loss. A halving for drops elsewhere on this
    /// machine (a burst of every host's first probes) otherwise left a host that answers
    /// nothing growing by one probe a window, and its silent ports took a round trip each
    /// window: the router's address on the lab's /24, 1,000 silent ports at a window of 16
    /// to 47, 3.9 s in three runs of ten where the others took 1.4 s. True as
    /// [`Window::grow`].
    pub fn grow_silent(&mut self, path_window: f64) -> bool {
        self.ssthresh = self.ssthresh.max(path_window.min(self.max));
        self.grow()
    }

    /// Evidence of loss: half the window, and grow slowly from there.
    pub fn shrink(&mut self) {
        self.ssthresh = (self.cwnd / 2.0).max(MIN_WINDOW);
        self.cwnd = self.ssthresh;
    }

    /// Evidence of loss for a probe sent at `sent`: half the window once per loss event,
    /// as TCP does. A probe sent before the last halving belongs to the event that caused
    /// it: one burst of drops times out a whole window of probes at once, and halving for
    /// each of them took the window to 1 and serialised the host (an オン資 terminal that
    /// answers on one port: 71 silent ports in 17 s instead of 3).
    pub fn shrink_for(&mut self, sent: Instant, now: Instant) {
        if self.shrunk_at.is_some_and(|at| sent < at) {
            return;
        }
        self.shrink();
        self.shrunk_at = Some(now);
    }
}

/// When a silent port is asked again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Retries a port gets when its host or path has lost packets (`--retries`).
    pub retries: u32,
    /// More retries when this machine dropped packets while the probe waited, each after a
    /// longer pause.
    pub drop_retries: u32,
    /// Silent ports per host asked twice whatever the evidence, so that a path that loses
    /// packets shows it.
    pub samples: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 1,
            drop_retries: 4,
            samples: 8,
        }
    }
}

/// What is known when a probe's wait ran out.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Silence {
    /// Attempts made so far (1 after the first).
    pub tries: u32,
    /// This machine dropped received packets while the probe waited.
    pub dropped: bool,
    /// Losses seen on the host so far.
    pub host_losses: u64,
    /// Losses seen on the path so far.
    pub path_losses: u64,
    /// Sample retries the host has used.
    pub samples_used: u32,
}

/// What to do with a silent port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Ask again (`sample`: as one of the host's sample retries).
    Retry { sample: bool },
    /// Silent: filtered (and whether drops overlapped the last wait).
    Silent,
}

impl RetryPolicy {
    pub fn decide(&self, s: Silence) -> Verdict {
        let lossy = s.host_losses > 0 || s.path_losses > 0;
        if s.dropped && s.tries <= self.retries + self.drop_retries {
            return Verdict::Retry { sample: false };
        }
        if lossy && s.tries <= self.retries {
            return Verdict::Retry { sample: false };
        }
        if s.tries == 1 && self.retries > 0 && s.samples_used < self.samples {
            return Verdict::Retry { sample: true };
        }
        Verdict::Silent
    }
}

/// The kernel's count of received packets its input backlog dropped, over all CPUs
/// (`/proc/net/softnet_stat`): answers lost before any socket saw them, on a busy scanner
/// or in a lab of network namespaces. 0 where the file cannot be read.
pub(crate) fn backlog_drops() -> u64 {
    let Ok(mut f) = std::fs::File::open("/proc/net/softnet_stat") else {
        return 0;
    };
    let mut text = String::new();
    if f.read_to_string(&mut text).is_err() {
        return 0;
    }
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|d| u64::from_str_radix(d, 16).ok())
        .sum()
}

/// [`backlog_drops`] for many readers, read again at most every 10 ms.
#[derive(Debug, Default)]
pub(crate) struct DropWatch {
    value: AtomicU64,
    read_at: Mutex<Option<Instant>>,
}

impl DropWatch {
    pub fn current(&self) -> u64 {
        if let Ok(mut at) = self.read_at.try_lock() {
            let now = Instant::now();
            if at.is_none_or(|t| now.duration_since(t) >= Duration::from_millis(10)) {
                *at = Some(now);
                self.value.store(backlog_drops(), Ordering::Relaxed);
            }
        }
        self.value.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// After a halving, silence without loss grows the window in slow start again up to
    /// the path's level (one more a silent port: doubling a round), then one a window.
    #[test]
    fn silence_regrows_a_halved_window_in_slow_start_to_the_paths_level() {
        let t0 = Instant::now();
        let mut w = Window::new(32.0, 1024);
        w.shrink_for(t0, t0 + ms(100));
        assert_eq!(w.allowed(), 16);
        let mut plain = w;
        for _ in 0..16 {
            plain.grow();
        }
        assert_eq!(
            plain.allowed(),
            16,
            "above the threshold: one more a window"
        );
        for _ in 0..16 {
            w.grow_silent(256.0);
        }
        assert_eq!(w.allowed(), 32, "slow start: one more a silent port");
        for _ in 0..1000 {
            w.grow_silent(256.0);
        }
        assert!(
            (256..270).contains(&w.allowed()),
            "slow start ends at the path's level: {}",
            w.allowed()
        );
        let mut gentle = Window::new(1.0, 1);
        gentle.grow_silent(1024.0);
        assert_eq!(gentle.allowed(), 1, "never above the host's cap");
    }

    #[test]
    fn one_loss_event_halves_the_window_once() {
        let mut w = Window::new(64.0, 1024);
        let t0 = Instant::now();
        // a window of probes sent before the drops all time out together
        for _ in 0..8 {
            w.shrink_for(t0, t0 + ms(600));
        }
        assert_eq!(w.allowed(), 32);
        // a probe sent after the halving that is lost again is a new event
        w.shrink_for(t0 + ms(700), t0 + ms(1300));
        assert_eq!(w.allowed(), 16);
    }

    #[test]
    fn late_hosts_on_one_path_do_not_set_the_discovery_wait_of_the_others() {
        let bounds = RttBounds {
            initial: ms(250),
            min: ms(50),
            max: ms(3000),
        };
        let mut d = DiscoveryPaths::new(bounds);
        let now = Instant::now();
        assert_eq!(d.typical(now), ms(250));
        for (net, rtt) in [("10.77.20.1", 1), ("10.77.40.1", 1), ("10.77.60.1", 2)] {
            d.sample(PathKey::of(net.parse().unwrap()), ms(rtt));
        }
        // the scale segment: prompt hosts and four that answer 150-400 ms late
        let scale = PathKey::of("10.77.100.1".parse().unwrap());
        for rtt in [1, 1, 150, 250, 350, 400] {
            d.sample(scale, ms(rtt));
        }
        let later = now + ms(20);
        assert_eq!(
            d.typical(later),
            ms(50),
            "the paths that answer promptly set it"
        );
        // as many late paths as prompt ones: the wait follows them
        for net in ["10.77.1.1", "10.77.2.1", "10.77.3.1"] {
            d.sample(PathKey::of(net.parse().unwrap()), ms(400));
        }
        assert!(d.typical(later + ms(20)) >= ms(800));
    }

    #[test]
    fn a_quiet_host_takes_its_timeout_from_its_ping_and_its_path() {
        let bounds = RttBounds::default();
        let paths = PathTimings::new(bounds);
        let key = PathKey::of("10.77.100.60".parse().unwrap());
        assert_eq!(key, PathKey::of("10.77.100.10".parse().unwrap()));
        assert_ne!(key, PathKey::of("10.77.101.10".parse().unwrap()));
        let mut host = RttEstimator::new(bounds);
        assert_eq!(timeout_for(&host, None), bounds.initial, "nothing known");
        // the neighbours answered in 1-2 ms
        for i in 0..20 {
            paths.sample(key, ms(1 + i % 2));
        }
        let path = paths.get(key).unwrap().rtt;
        assert_eq!(
            timeout_for(&host, Some(&path)),
            bounds.min,
            "the path's, at the floor"
        );
        // its own ping took 60 ms: the larger of the two
        host.sample(ms(60));
        assert_eq!(timeout_for(&host, Some(&path)), ms(240));
        // a late host's own answers decide once there are enough of them
        let mut late = RttEstimator::new(bounds);
        for _ in 0..4 {
            late.sample(ms(400));
        }
        assert!(timeout_for(&late, Some(&path)) >= ms(800));
    }

    #[test]
    fn the_window_grows_on_answers_and_halves_on_loss() {
        let mut w = Window::new(0.0, 4096);
        assert_eq!(w.allowed(), INITIAL_WINDOW as usize);
        for _ in 0..32 {
            w.grow();
        }
        assert_eq!(
            w.allowed(),
            64,
            "slow start: doubled after a window of answers"
        );
        w.shrink();
        assert_eq!(w.allowed(), 32);
        // each answer adds 1/cwnd: a window's worth of answers (32, then 33) adds one
        for _ in 0..33 {
            w.grow();
        }
        assert_eq!(w.allowed(), 33, "above the threshold: one more per window");
        let gentle = Window::new(500.0, 1);
        assert_eq!(gentle.allowed(), 1, "never above the ceiling");
        let mut w = Window::new(2.0, 10);
        w.shrink();
        w.shrink();
        assert_eq!(w.allowed(), 1, "never below one");
    }

    #[test]
    fn silent_ports_are_asked_again_only_on_evidence() {
        let p = RetryPolicy::default();
        let quiet = Silence {
            tries: 1,
            samples_used: p.samples,
            ..Silence::default()
        };
        assert_eq!(
            p.decide(quiet),
            Verdict::Silent,
            "no evidence, samples used"
        );
        assert_eq!(
            p.decide(Silence {
                samples_used: 0,
                ..quiet
            }),
            Verdict::Retry { sample: true },
            "a sample"
        );
        assert_eq!(
            p.decide(Silence {
                path_losses: 1,
                ..quiet
            }),
            Verdict::Retry { sample: false },
            "the path lost packets"
        );
        assert_eq!(
            p.decide(Silence {
                tries: 2,
                path_losses: 1,
                ..quiet
            }),
            Verdict::Silent,
            "--retries 1 used"
        );
        assert_eq!(
            p.decide(Silence {
                tries: 5,
                dropped: true,
                ..quiet
            }),
            Verdict::Retry { sample: false },
            "our own drops: up to four more"
        );
        assert_eq!(
            p.decide(Silence {
                tries: 6,
                dropped: true,
                ..quiet
            }),
            Verdict::Silent
        );
        let none = RetryPolicy { retries: 0, ..p };
        assert_eq!(
            none.decide(Silence {
                samples_used: 0,
                ..quiet
            }),
            Verdict::Silent,
            "--retries 0: no samples either"
        );
    }
}
