//! The packet engine: every raw packet a privileged scan sends — SYNs of the port scan,
//! SYN and ICMP echo pings of discovery — goes out and comes back through one thread, and
//! more threads of the same engine share a scan of one host's every port (see
//! [`Sweep::scan`]: the kernel's path of each packet runs in the thread that sends it).
//!
//! masscan's shape with nmap's timing: the thread sends in batches (`sendmmsg`), reads in
//! batches (`recvmmsg`), keeps every outstanding probe's deadline in one timing wheel
//! ([`crate::wheel`]) and matches answers by content (a keyed hash of target, port and try
//! as the SYN's sequence number; our identifier and the target's address in an echo). No
//! task, timer or socket per port: a `-p-` scan of a /24 is bounded by the network and the
//! rate limit, not by the scanner's CPU. Timing is nmap's idea, learned across the scan
//! ([`crate::timing`]): each host has a congestion window and round-trip estimate, seeded by
//! its path's; silent ports are asked again only on evidence of loss.
//!
//! Discovery pings one address in two stages: an echo and SYNs to the two most telling
//! ports, then, if nothing answered within the path's round-trip estimate, SYNs to the other
//! ping ports and the echo again. A router's "no route" (ICMP network or host unreachable)
//! for two of them ends it at once. An address is given up after its wait, but an answer
//! that comes later still counts (its sequence number and echo payload say which address
//! and port it answers without any state): a host that answers late is never missed.
//!
//! Raw sockets through socket2 and nix (safe API). The kernel resets every SYN-ACK itself
//! (no socket owns the connection), so nothing reaches a service.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use clinicscan_model::{PortReason, PortState};
use clinicscan_wire::packet::{
    Quoted, SynReply, echo_reply, echo_request, ipv4_payload, tcp_reply_to, unreachable, write_syn,
};
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg,
    sendmmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use crate::attempt::{Attempt, classify, state_of};
use crate::discovery::PING_PORTS;
use crate::netinfo::source_for;
use crate::pace::{GapPacer, RatePacer};
use crate::portscan::{PortResult, PortTally};
use crate::rtt::{RttBounds, RttEstimator};
use crate::timing::{
    DiscoveryPaths, PathKey, PathTimings, RetryPolicy, Silence, Verdict, Window, backlog_drops,
    timeout_for,
};
use crate::wheel::Wheel;

/// Receive buffer of each raw socket (the kernel doubles it). A 1,000-port SYN scan of a
/// /24 answers 60,000 packets a second; at ~1 KiB of kernel memory each, the default
/// 208 KiB holds 3 ms of them, 8 MiB about a quarter of a second of the reader not running.
const RECV_BUFFER: usize = 8 << 20;
/// Packets per `sendmmsg` / `recvmmsg`.
const BATCH: usize = 64;
/// Packets sent between two looks at what came back (answers are read promptly, so their
/// round trips are measured, not our own queueing).
const ROUND: usize = 256;
/// Packets one host sends before the next host's turn.
const BURST: usize = 16;
/// Ports of one host's scan per engine, at least, before the scan is split across engines
/// (a `-p-` is; a top-1000 is not: it is not bound by the sending thread's core).
const SPLIT_PORTS: usize = 8192;
/// The most engines one scan is split across.
const MAX_LANES: usize = 4;
/// Times a ping starts over when packets were dropped while it waited.
const PING_RESTARTS: u8 = 2;
/// The try number that keys discovery SYNs (never one of a port scan's tries).
const PING_TRY: u8 = u8::MAX;
/// Source ports the engine reserves, one block: a port scan's try `t` goes from
/// `base + min(t, 5)`, discovery pings from `base + 7`. A retry, or a scan of a port a ping
/// just went to, must not reuse the earlier SYN's 4-tuple: a router's connection tracking
/// takes the second SYN as the same connection, and then holds the answer to the first as
/// invalid and drops it (nmap varies its source port per try for the same reason).
const PORT_BLOCK: u16 = 8;
const PING_PORT_OFFSET: u16 = 7;
const LAST_TRY_OFFSET: u16 = 5;
/// The longest the thread sleeps (it re-reads the kernel's drop counters at least this
/// often).
const IDLE: Duration = Duration::from_millis(50);
/// The shortest wait for a discovery answer: an address given up early still counts
/// when its answer comes late.
const PING_FLOOR: Duration = Duration::from_millis(50);
/// The wait for a discovery answer before any came back.
const PING_INITIAL: Duration = Duration::from_millis(250);

/// A port scan of one host, handed to the engine.
pub(crate) struct ScanRequest {
    pub addr: IpAddr,
    pub ports: Arc<[u16]>,
    /// Ports already known (from discovery pings): reported as given, not probed.
    pub known: Vec<(u16, PortResult)>,
    /// Keep every port's result, not only the open ones.
    pub keep_all: bool,
    /// The most probes awaiting an answer at once (a gentle profile's one connection).
    pub max_window: usize,
    /// A gentle profile's pace: one probe at a time, a gap between them.
    pub gentle: Option<Arc<GapPacer>>,
    /// The host's round trip from discovery.
    pub ping_rtt: Option<Duration>,
    pub reply: oneshot::Sender<ScanOutcome>,
}

/// What the port scan of one host found.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    /// The open ports (every port with `keep_all`), in the order asked.
    pub ports: Vec<(u16, PortResult)>,
    pub tally: PortTally,
    /// The host's round-trip estimate at the end.
    pub rtt: RttEstimator,
}

/// A discovery ping of one address.
pub(crate) struct PingRequest {
    pub addr: IpAddr,
    /// Send ICMP echo too (not only TCP SYNs).
    pub echo: bool,
    /// A gentle profile's pace.
    pub gentle: Option<Arc<GapPacer>>,
}

/// What discovery found at one address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PingAnswer {
    /// An echo reply.
    Echo { rtt: Duration },
    /// A SYN-ACK (`open`) or an RST to a SYN ping.
    Tcp {
        port: u16,
        open: bool,
        rtt: Duration,
    },
    /// Nothing in time (`no_route`: a router said no route leads there; `unreachable`: some
    /// ICMP unreachable came back).
    Down { unreachable: bool },
    /// An answer after the address was given up: up after all (`port`: the SYN ping it
    /// answered, and whether open; `rtt`: since its first ping went, an upper bound).
    Late {
        port: Option<(u16, bool)>,
        rtt: Duration,
    },
}

/// The answer for one address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PingResult {
    pub addr: IpAddr,
    pub answer: PingAnswer,
}

enum Command {
    Scan(ScanRequest, IpAddr),
    Ping(PingRequest, IpAddr),
}

/// Counters the engine shares with the scan.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Probes sent.
    pub sent: AtomicU64,
    /// Packets the raw sockets dropped for a full receive buffer.
    pub drops: AtomicU64,
}

/// What the engine needs to know of the scan.
#[derive(Clone)]
pub(crate) struct SweepConfig {
    pub rate: Option<Arc<RatePacer>>,
    pub paths: Arc<PathTimings>,
    pub bounds: RttBounds,
    pub retry: RetryPolicy,
    /// How long discovery keeps listening for an address's late answer.
    pub discovery_wait: Duration,
    /// Where ping results go.
    pub pings: tokio_mpsc::UnboundedSender<PingResult>,
}

/// The handle of the engine threads; dropping it stops them.
pub(crate) struct Sweep {
    /// The first engine: every ping and every scan that is not split.
    lane: Lane,
    /// More engines, opened on the first scan big enough to split (see [`Sweep::parts`]).
    more: OnceLock<Vec<Lane>>,
    /// For opening them.
    config: SweepConfig,
    counters: Arc<Counters>,
    has_v4: bool,
    has_v6: bool,
    sources: Mutex<HashMap<IpAddr, IpAddr>>,
}

impl std::fmt::Debug for Sweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweep").finish_non_exhaustive()
    }
}

/// One engine thread and the way to reach it; dropping it stops the thread.
struct Lane {
    commands: Option<mpsc::Sender<Command>>,
    wake: UnixDatagram,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.commands = None;
        let _ = self.wake.send(&[0]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Lane {
    fn submit(&self, command: Command) -> bool {
        let sent = self
            .commands
            .as_ref()
            .is_some_and(|c| c.send(command).is_ok());
        let _ = self.wake.send(&[0]);
        sent
    }
}

fn raw(domain: Domain, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(domain, Type::RAW.nonblocking(), Some(proto))?;
    // Raw sockets mean CAP_NET_RAW, usually root, who may pass net.core.rmem_max; else
    // the plain option gets what rmem_max allows.
    if setsockopt(&s, sockopt::RcvBufForce, &RECV_BUFFER).is_err() {
        let _ = s.set_recv_buffer_size(RECV_BUFFER);
    }
    let _ = s.set_send_buffer_size(1 << 20);
    // Without the drop count (never seen on Linux) a lost answer is a timeout, as before.
    let _ = setsockopt(&s, sockopt::RxqOvfl, &1);
    Ok(s)
}

/// A classic BPF program accepting only TCP segments to ports `first..first + count`. An
/// IPv4 raw socket sees the IP header first (its length is in the low nibble of byte 0); an
/// IPv6 one sees the TCP header only.
pub(crate) fn port_filter(first: u16, count: u16, ipv4: bool) -> Vec<SockFilter> {
    // linux/filter.h: LD/LDX/JMP/RET classes, H/B sizes, ABS/IND/MSH modes, JGE/JGT, K.
    const LDX_B_MSH: u16 = 0x01 | 0x10 | 0xa0;
    const LD_H_IND: u16 = 0x08 | 0x40;
    const LD_H_ABS: u16 = 0x08 | 0x20;
    const JGE_K: u16 = 0x05 | 0x30;
    const JGT_K: u16 = 0x05 | 0x20;
    const RET_K: u16 = 0x06;
    let last = u32::from(first) + u32::from(count.max(1)) - 1;
    let mut prog = Vec::with_capacity(6);
    if ipv4 {
        prog.push(SockFilter::new(LDX_B_MSH, 0, 0, 0)); // x = IP header length
        prog.push(SockFilter::new(LD_H_IND, 0, 0, 2)); // a = TCP destination port
    } else {
        prog.push(SockFilter::new(LD_H_ABS, 0, 0, 2));
    }
    prog.push(SockFilter::new(JGE_K, 0, 2, u32::from(first))); // below: drop
    prog.push(SockFilter::new(JGT_K, 1, 0, last)); // above: drop
    prog.push(SockFilter::new(RET_K, 0, 0, 0x0004_0000)); // keep the segment
    prog.push(SockFilter::new(RET_K, 0, 0, 0)); // drop it
    prog
}

/// Binds `PORT_BLOCK` consecutive TCP ports on both families (never listening: no other
/// program gets them while the scan's answers arrive there); the first.
fn reserve_ports() -> io::Result<(u16, Vec<Socket>)> {
    let bind = |port: u16, v6: bool| -> io::Result<Socket> {
        let (domain, addr) = if v6 {
            (Domain::IPV6, SocketAddr::from(([0u16; 8], port)))
        } else {
            (Domain::IPV4, SocketAddr::from(([0u8; 4], port)))
        };
        let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        if v6 {
            s.set_only_v6(true)?;
        }
        s.bind(&SockAddr::from(addr))?;
        Ok(s)
    };
    let mut last = io::Error::other("no block of free ports");
    for _ in 0..32 {
        let first = bind(0, false)?;
        let base = first
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .ok_or_else(|| io::Error::other("no local port"))?;
        if base > u16::MAX - PORT_BLOCK {
            continue;
        }
        let mut held = vec![first];
        let rest = (1..PORT_BLOCK).try_for_each(|i| {
            held.push(bind(base + i, false)?);
            Ok::<_, io::Error>(())
        });
        match rest {
            Ok(()) => {
                // IPv6 where it exists; a port taken there only costs IPv6 answers a
                // stranger could also receive, as before.
                for i in 0..PORT_BLOCK {
                    if let Ok(s) = bind(base + i, true) {
                        held.push(s);
                    }
                }
                return Ok((base, held));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The raw sockets of one family.
struct Family {
    tcp: Socket,
    /// The TCP socket takes whole IP packets (IP_HDRINCL / IPV6_HDRINCL): without the
    /// header included the kernel builds it under the socket lock and keeps that lock
    /// while the packet travels the local stack.
    hdrincl: bool,
    icmp: Option<Socket>,
}

impl Family {
    fn open(v6: bool, src_port: u16) -> io::Result<Family> {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let tcp = raw(domain, Protocol::TCP)?;
        let hdrincl = if v6 {
            tcp.set_header_included_v6(true).is_ok()
        } else {
            tcp.set_header_included_v4(true).is_ok()
        };
        // The raw TCP socket gets a copy of every TCP segment the host receives; a filter
        // in the kernel keeps only segments to our port. Without it (never seen) answers
        // are still matched by port and sequence number, only slower.
        let _ = tcp.attach_filter(&port_filter(src_port, PORT_BLOCK, !v6));
        let icmp = raw(
            domain,
            if v6 {
                Protocol::ICMPV6
            } else {
                Protocol::ICMPV4
            },
        )
        .ok();
        Ok(Family { tcp, hdrincl, icmp })
    }
}

impl Lane {
    /// Opens one engine's raw sockets and source ports and starts its thread (`index`
    /// keeps the echo identifiers of the engines apart); whether it has IPv4 and IPv6.
    fn open(
        config: SweepConfig,
        counters: Arc<Counters>,
        index: u16,
    ) -> io::Result<(Lane, bool, bool)> {
        let (src_port, reserve) = reserve_ports()?;
        let v4 = Family::open(false, src_port);
        let v6 = Family::open(true, src_port);
        let (v4, v6) = match (v4, v6) {
            (Err(e), Err(_)) => return Err(e),
            (a, b) => (a.ok(), b.ok()),
        };
        let (wake_tx, wake_rx) = UnixDatagram::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let (tx, rx) = mpsc::channel();
        let (has_v4, has_v6) = (v4.is_some(), v6.is_some());
        let mut engine = Engine {
            v4,
            v6,
            _reserve: reserve,
            src_port,
            key: std::collections::hash_map::RandomState::new(),
            ident: ((std::process::id() as u16) ^ 0x5a5a).wrapping_add(index),
            echo_seq: 0,
            commands: rx,
            wake: wake_rx,
            counters,
            config,
            hosts: Vec::new(),
            free: Vec::new(),
            by_addr: HashMap::new(),
            waiting: HashMap::new(),
            ready: VecDeque::new(),
            wheel: Wheel::new(Instant::now()),
            pings: DiscoveryPaths::new(RttBounds {
                initial: PING_INITIAL,
                min: PING_FLOOR,
                max: Duration::from_secs(3),
            }),
            given_up: GivenUp::default(),
            backlog_drops: backlog_drops(),
            next_drop_check: Instant::now(),
            next_rate: None,
            next_generation: 0,
            rx: vec![[0u8; 1500]; BATCH],
            rx_seen: [0; 4],
        };
        let thread = std::thread::Builder::new()
            .name(format!("sweep-{index}"))
            .spawn(move || engine.run())?;
        let lane = Lane {
            commands: Some(tx),
            wake: wake_tx,
            thread: Some(thread),
        };
        Ok((lane, has_v4, has_v6))
    }
}

impl Sweep {
    /// Opens the raw sockets, reserves a source port and starts the engine thread; `Err`
    /// without the privilege to open raw sockets.
    pub fn open(config: SweepConfig) -> io::Result<Sweep> {
        let counters = Arc::new(Counters::default());
        let (lane, has_v4, has_v6) = Lane::open(config.clone(), counters.clone(), 0)?;
        Ok(Sweep {
            lane,
            more: OnceLock::new(),
            config,
            counters,
            has_v4,
            has_v6,
            sources: Mutex::new(HashMap::new()),
        })
    }

    /// Whether raw packets can go to this address's family.
    pub fn supports(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(_) => self.has_v4,
            IpAddr::V6(_) => self.has_v6,
        }
    }

    /// The engine's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Our source address towards `dst`, looked up once per destination (the lookup is a
    /// socket, a connect and a close: too dear for every packet, and done here, on the
    /// caller's thread, not the engine's).
    fn source(&self, dst: IpAddr) -> Option<IpAddr> {
        if let Ok(m) = self.sources.lock()
            && let Some(src) = m.get(&dst)
        {
            return Some(*src);
        }
        let src = source_for(dst)?;
        if let Ok(mut m) = self.sources.lock() {
            // Bounded: a /16 sweep must not grow it without end.
            if m.len() >= 4096 {
                m.clear();
            }
            m.insert(dst, src);
        }
        Some(src)
    }

    /// Scans one host's ports; `None` when the engine cannot (no route, no raw socket of
    /// the family, the engine gone).
    pub async fn scan(&self, request: ScanRequest) -> Option<ScanOutcome> {
        if !self.supports(request.addr) {
            return None;
        }
        let src = self.source(request.addr)?;
        let parts = self.parts(request);
        if let [_, (_, first), ..] = parts.as_slice() {
            tracing::debug!(host = %first.addr, engines = parts.len(), "sweep: scan split");
        }
        let mut replies = Vec::with_capacity(parts.len());
        for (lane, request) in parts {
            let (tx, rx) = oneshot::channel();
            let request = ScanRequest {
                reply: tx,
                ..request
            };
            lane.submit(Command::Scan(request, src)).then_some(())?;
            replies.push(rx);
        }
        let mut outcome: Option<ScanOutcome> = None;
        for rx in replies {
            let part = rx.await.ok()?;
            outcome = Some(match outcome {
                None => part,
                Some(mut whole) => {
                    whole.ports.extend(part.ports);
                    whole.tally.merge(&part.tally);
                    whole
                }
            });
        }
        outcome
    }

    /// The engines a scan request goes to, each with its share of the ports. A big scan of
    /// a host with no gentle pace is split in contiguous runs of its ports, one per engine,
    /// so that the kernel's path of its packets, which runs in the sending thread, runs on
    /// every core: a `-p-` of one host is otherwise bound by one core. Each share keeps its
    /// own window and round-trip estimate (they are the same host's, learned twice); the
    /// scan's rate limit is shared. A gentle host is never split: its one connection at a
    /// time is one engine's. Any other request goes to the first engine whole.
    fn parts(&self, request: ScanRequest) -> Vec<(&Lane, ScanRequest)> {
        let want = request.ports.len() / SPLIT_PORTS;
        if want < 2 || request.gentle.is_some() || request.max_window != usize::MAX {
            return vec![(&self.lane, request)];
        }
        let more = self.more.get_or_init(|| {
            let lanes = std::thread::available_parallelism().map_or(1, |n| n.get());
            (1..lanes.min(MAX_LANES))
                .map_while(|i| {
                    Lane::open(self.config.clone(), self.counters.clone(), i as u16)
                        .map(|(lane, _, _)| lane)
                        .ok()
                })
                .collect()
        });
        let lanes: Vec<&Lane> = std::iter::once(&self.lane).chain(more).collect();
        let count = want.min(lanes.len());
        if count < 2 {
            return vec![(&self.lane, request)];
        }
        lanes
            .into_iter()
            .zip(split(&request.ports, &request.known, count))
            .map(|(lane, (ports, known))| {
                let part = ScanRequest {
                    addr: request.addr,
                    ports,
                    known,
                    keep_all: request.keep_all,
                    max_window: request.max_window,
                    gentle: None,
                    ping_rtt: request.ping_rtt,
                    reply: oneshot::channel().0,
                };
                (lane, part)
            })
            .collect()
    }

    /// Pings one address; the answer comes on the scan's ping channel. `false` when the
    /// engine cannot ping it (no route, no raw socket of the family).
    pub fn ping(&self, request: PingRequest) -> bool {
        if !self.supports(request.addr) {
            return false;
        }
        let Some(src) = self.source(request.addr) else {
            return false;
        };
        self.lane.submit(Command::Ping(request, src))
    }
}

/// One engine's share of a split scan: its ports, and the known results among them.
type Run = (Arc<[u16]>, Vec<(u16, PortResult)>);

/// One host's ports cut into `count` contiguous runs (their results, put one after the
/// other, are in the order asked), each with the known results of its ports; a known port
/// that was not asked for goes with the last run, where one engine would put it (last).
fn split(ports: &[u16], known: &[(u16, PortResult)], count: usize) -> Vec<Run> {
    let size = ports.len().div_ceil(count.max(1)).max(1);
    let mut runs: Vec<Run> = ports
        .chunks(size)
        .map(|c| (Arc::from(c), Vec::new()))
        .collect();
    let Some(last) = runs.len().checked_sub(1) else {
        return runs;
    };
    let run_of: HashMap<u16, usize> = known
        .iter()
        .filter_map(|&(port, _)| {
            let at = ports.iter().position(|&p| p == port)?;
            Some((port, at / size))
        })
        .collect();
    for &(port, result) in known {
        let at = run_of.get(&port).copied().unwrap_or(last);
        runs[at].1.push((port, result));
    }
    runs
}

/// Addresses whose discovery wait ran out, remembered for a while with when their first
/// ping went: a late answer from one of them says it is up after all, and how late.
#[derive(Default)]
struct GivenUp {
    started: HashMap<IpAddr, Instant>,
    order: VecDeque<(Instant, IpAddr)>,
}

impl GivenUp {
    fn add(&mut self, addr: IpAddr, started: Instant, until: Instant) {
        if self.started.insert(addr, started).is_none() {
            self.order.push_back((until, addr));
        }
    }

    /// When the address's first ping went, if it was given up (once).
    fn take(&mut self, addr: IpAddr) -> Option<Instant> {
        self.started.remove(&addr)
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&(until, addr)) = self.order.front() {
            if until > now {
                break;
            }
            self.order.pop_front();
            self.started.remove(&addr);
        }
    }
}

/// One outstanding port probe of a scan.
struct Probe {
    tries: u8,
    first_sent: Instant,
    last_sent: Instant,
    /// When the wait for the last try ends (a timer of an earlier send of the same try,
    /// one that never left, is not this one).
    deadline: Instant,
    drops_at_send: u64,
    phase: Phase,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Sent, awaiting an answer (counts in the window).
    Waiting,
    /// To be sent again.
    Queued,
    /// Given up, still listening for a late answer.
    Grace,
}

struct ScanJob {
    ports: Arc<[u16]>,
    next: usize,
    skip: HashSet<u16>,
    retry: VecDeque<u16>,
    probes: HashMap<u16, Probe>,
    unresolved: usize,
    results: Vec<(u16, PortResult)>,
    tally: PortTally,
    keep_all: bool,
    samples_used: u32,
    reply: Option<oneshot::Sender<ScanOutcome>>,
}

struct PingJob {
    echo: bool,
    /// Ping ports sent so far.
    next: usize,
    echo_sent: u8,
    started: Instant,
    /// When the second stage goes (the rest of the ping ports, the echo again).
    second: Instant,
    deadline: Instant,
    /// How long answers are waited for after the last packet of the stages left.
    answer_wait: Duration,
    /// When the last packet so far actually left.
    last_sent: Option<Instant>,
    /// When the first packet of the second stage left: an answer to one of its SYNs is
    /// timed from then, not from the first stage (a host reachable on 3389 alone otherwise
    /// got the stages' gap as its round trip, and every timeout of its port scan with it).
    second_sent: Option<Instant>,
    /// The first packet left: the stages count from then, not from the request (a busy
    /// sender must not give an address up before anything was sent to it).
    launched: bool,
    /// Packets this machine had dropped when the stages started, and how often they
    /// started over because more were dropped meanwhile (a ping or its answer may have been
    /// one of them: a burst of pings to many addresses overflows a router's or a veth's
    /// input queue, the last addresses of the burst first).
    drops_at_start: u64,
    restarts: u8,
    no_route: u8,
    unreachable: bool,
}

enum Job {
    Scan(ScanJob),
    Ping(PingJob),
}

struct HostRun {
    addr: IpAddr,
    src: IpAddr,
    generation: u32,
    path: PathKey,
    rtt: RttEstimator,
    window: Window,
    inflight: usize,
    losses: u64,
    gentle: Option<Arc<GapPacer>>,
    in_ready: bool,
    job: Job,
    /// For the debug log: when it started, waits that ran out, tries sent again.
    started: Instant,
    timeouts: u32,
    resent: u32,
}

#[derive(Clone, Copy)]
enum TimerKind {
    /// A port probe's wait ran out (for its try number).
    Timeout(u16, u8),
    /// A given-up port probe's grace ended.
    Final(u16),
    /// The host may send again (a gentle pace slot, a discovery stage).
    Wake,
    /// An address's discovery wait ran out.
    PingEnd,
}

#[derive(Clone, Copy)]
struct Timer {
    slot: u32,
    generation: u32,
    kind: TimerKind,
}

/// A packet on its way into a batch.
struct Outgoing {
    slot: u32,
    generation: u32,
    /// The port (0 for an echo).
    port: u16,
    echo: bool,
    dst: SockaddrStorage,
    len: usize,
    buf: [u8; 64],
}

struct Engine {
    v4: Option<Family>,
    v6: Option<Family>,
    _reserve: Vec<Socket>,
    src_port: u16,
    key: std::collections::hash_map::RandomState,
    ident: u16,
    echo_seq: u16,
    commands: mpsc::Receiver<Command>,
    wake: UnixDatagram,
    counters: Arc<Counters>,
    config: SweepConfig,
    hosts: Vec<Option<HostRun>>,
    free: Vec<u32>,
    by_addr: HashMap<IpAddr, u32>,
    /// Jobs for an address that has one running (scans of it come after its ping).
    waiting: HashMap<IpAddr, VecDeque<Command>>,
    ready: VecDeque<u32>,
    wheel: Wheel<Timer>,
    /// Round trips of the discovery answers per path (the discovery wait).
    pings: DiscoveryPaths,
    given_up: GivenUp,
    /// Drops of the kernel's input backlog, as last read.
    backlog_drops: u64,
    next_drop_check: Instant,
    /// The scan's rate has no slot before then.
    next_rate: Option<Instant>,
    next_generation: u32,
    /// Receive buffers (taken out while their packets are handled).
    rx: Vec<[u8; 1500]>,
    /// Per socket, the kernel's drop count as last read.
    rx_seen: [u32; 4],
}

impl Engine {
    fn run(&mut self) {
        let mut due = Vec::new();
        loop {
            if !self.take_commands() {
                return;
            }
            let received = self.receive();
            let now = Instant::now();
            if now >= self.next_drop_check {
                self.backlog_drops = backlog_drops();
                self.next_drop_check = now + Duration::from_millis(10);
                self.given_up.forget_before(now);
            }
            self.wheel.expire(now, &mut due);
            for t in due.drain(..) {
                self.on_timer(t, now);
            }
            let sent = self.send_round();
            if received == 0 && sent == 0 {
                self.sleep();
            }
        }
    }

    /// The drop counters as one number: what this machine lost of what came in.
    fn drops(&self) -> u64 {
        self.counters.drops.load(Ordering::Relaxed) + self.backlog_drops
    }

    fn take_commands(&mut self) -> bool {
        let mut buf = [0u8; 64];
        while self.wake.recv(&mut buf).is_ok() {}
        loop {
            match self.commands.try_recv() {
                Ok(c) => self.start(c),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn start(&mut self, command: Command) {
        let addr = match &command {
            Command::Scan(r, _) => r.addr,
            Command::Ping(r, _) => r.addr,
        };
        if self.by_addr.contains_key(&addr) {
            self.waiting.entry(addr).or_default().push_back(command);
            return;
        }
        let now = Instant::now();
        let path = PathKey::of(addr);
        let stats = self.config.paths.get(path);
        let (src, rtt, window, gentle, job) = match command {
            Command::Scan(r, src) => {
                let mut rtt = RttEstimator::new(self.config.bounds);
                if let Some(d) = r.ping_rtt {
                    rtt.sample(d);
                }
                let initial = stats.map_or(0.0, |s| s.window);
                let skip: HashSet<u16> = r.known.iter().map(|k| k.0).collect();
                let unresolved = r.ports.iter().filter(|p| !skip.contains(p)).count();
                let mut job = ScanJob {
                    ports: r.ports,
                    next: 0,
                    skip,
                    retry: VecDeque::new(),
                    probes: HashMap::new(),
                    unresolved,
                    results: Vec::new(),
                    tally: PortTally::default(),
                    keep_all: r.keep_all,
                    samples_used: 0,
                    reply: Some(r.reply),
                };
                for (port, result) in r.known {
                    job.record(port, result);
                }
                (
                    src,
                    rtt,
                    Window::new(initial, r.max_window),
                    r.gentle,
                    Job::Scan(job),
                )
            }
            Command::Ping(r, src) => {
                let wait = self.ping_wait(stats.map(|s| s.rtt), now);
                let family = if addr.is_ipv6() { &self.v6 } else { &self.v4 };
                let echo = r.echo && family.as_ref().is_some_and(|f| f.icmp.is_some());
                // A gentle host gets one packet a gap: its stages last that long more.
                let gap = r.gentle.as_ref().map_or(Duration::ZERO, |g| g.gap());
                let first = gap * (2 + u32::from(echo));
                let second = now + (wait / 2).max(first);
                let rest = gap * (PING_PORTS.len() as u32 - 2 + u32::from(echo));
                let job = PingJob {
                    echo,
                    next: 0,
                    echo_sent: 0,
                    started: now,
                    second,
                    deadline: second + rest + wait / 2,
                    answer_wait: wait / 2,
                    last_sent: None,
                    second_sent: None,
                    launched: false,
                    drops_at_start: self.drops(),
                    restarts: 0,
                    no_route: 0,
                    unreachable: false,
                };
                (
                    src,
                    RttEstimator::new(self.config.bounds),
                    Window::new(1.0, 1),
                    r.gentle,
                    Job::Ping(job),
                )
            }
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.hosts.push(None);
                (self.hosts.len() - 1) as u32
            }
        };
        self.next_generation = self.next_generation.wrapping_add(1);
        let generation = self.next_generation;
        let host = HostRun {
            addr,
            src,
            generation,
            path,
            rtt,
            window,
            inflight: 0,
            losses: 0,
            gentle,
            in_ready: false,
            job,
            started: now,
            timeouts: 0,
            resent: 0,
        };
        if let Job::Ping(p) = &host.job {
            self.wheel.insert(
                p.deadline,
                Timer {
                    slot,
                    generation,
                    kind: TimerKind::PingEnd,
                },
            );
            self.wheel.insert(
                p.second,
                Timer {
                    slot,
                    generation,
                    kind: TimerKind::Wake,
                },
            );
        }
        self.hosts[slot as usize] = Some(host);
        self.by_addr.insert(addr, slot);
        // An empty scan (every port known) is done at once.
        if matches!(&self.hosts[slot as usize], Some(HostRun { job: Job::Scan(j), .. }) if j.unresolved == 0)
        {
            self.finish(slot);
            return;
        }
        self.make_ready(slot);
    }

    /// How long discovery waits for one address before giving it up (its late answer still
    /// counts): its path's round trips when known, else the median of the answering paths'
    /// (never all answers pooled: a few late hosts would set every other path's wait), from
    /// 50 ms up to the configured discovery wait.
    fn ping_wait(&mut self, path: Option<RttEstimator>, now: Instant) -> Duration {
        let typical = self.pings.typical(now);
        let est = match path.filter(|p| p.srtt().is_some()) {
            Some(p) => p.timeout().max(typical.min(p.timeout() * 4)),
            None => typical,
        };
        est.clamp(PING_FLOOR, self.config.discovery_wait.max(PING_FLOOR))
    }

    fn make_ready(&mut self, slot: u32) {
        if let Some(Some(h)) = self.hosts.get_mut(slot as usize)
            && !h.in_ready
        {
            h.in_ready = true;
            self.ready.push_back(slot);
        }
    }

    /// Our source port for try `tries` (or a ping).
    fn port_of(&self, tries: u8) -> u16 {
        self.src_port
            + if tries == PING_TRY {
                PING_PORT_OFFSET
            } else {
                u16::from(tries).min(LAST_TRY_OFFSET)
            }
    }

    /// Whether `port` is one of ours.
    fn ours(&self, port: u16) -> bool {
        (self.src_port..self.src_port + PORT_BLOCK).contains(&port)
    }

    fn isn(&self, dst: IpAddr, port: u16, tries: u8) -> u32 {
        let mut h = self.key.build_hasher();
        h.write(&match dst {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        });
        h.write_u16(port);
        h.write_u8(tries);
        h.finish() as u32
    }

    // ---------------------------------------------------------------- sending

    /// One round of sending: hosts in turn, a burst each, in batches per socket. How many
    /// packets went out.
    fn send_round(&mut self) -> usize {
        let now = Instant::now();
        if self.ready.is_empty() {
            return 0;
        }
        if let Some(t) = self.next_rate
            && now < t
        {
            return 0;
        }
        self.next_rate = None;
        let mut budget = ROUND;
        if let Some(rate) = &self.config.rate {
            let (n, next) = rate.reserve(ROUND, tokio::time::Instant::from_std(now));
            if n == 0 {
                self.next_rate = Some(next.into_std());
                return 0;
            }
            budget = n;
        }
        let mut out: Vec<Outgoing> = Vec::with_capacity(budget);
        let mut turns = self.ready.len();
        while out.len() < budget && turns > 0 {
            turns -= 1;
            let Some(slot) = self.ready.pop_front() else {
                break;
            };
            let mut burst = BURST.min(budget - out.len());
            while burst > 0 {
                match self.next_packet(slot, now) {
                    Next::Packet(p) => {
                        out.push(*p);
                        burst -= 1;
                    }
                    Next::Idle => break,
                }
            }
            // A host that used its whole burst may have more; one that stopped waits for
            // an answer, a timeout or a wake-up to be ready again.
            if let Some(Some(h)) = self.hosts.get_mut(slot as usize) {
                h.in_ready = burst == 0;
                if h.in_ready {
                    self.ready.push_back(slot);
                }
            }
        }
        let n = out.len();
        if let Some(rate) = &self.config.rate
            && n < budget
        {
            rate.give_back(budget - n);
        }
        if n > 0 {
            self.transmit(out);
        }
        n
    }

    /// The next packet of one host, if it may send now.
    fn next_packet(&mut self, slot: u32, now: Instant) -> Next {
        let drops = self.drops();
        let path = {
            let Some(Some(h)) = self.hosts.get(slot as usize) else {
                return Next::Idle;
            };
            if let Some(g) = &h.gentle {
                let due = g.next_due().into_std();
                if now < due {
                    // one packet at a time, a gap after the last one left
                    let t = Timer {
                        slot,
                        generation: h.generation,
                        kind: TimerKind::Wake,
                    };
                    self.wheel.insert(due, t);
                    return Next::Idle;
                }
                if h.inflight > 0 && matches!(h.job, Job::Ping(_)) {
                    return Next::Idle;
                }
            }
            self.config.paths.get(h.path).map(|p| p.rtt)
        };
        let Some(Some(h)) = self.hosts.get_mut(slot as usize) else {
            return Next::Idle;
        };
        let (addr, src, generation) = (h.addr, h.src, h.generation);
        match &mut h.job {
            Job::Scan(job) => {
                if h.inflight >= h.window.allowed() {
                    return Next::Idle;
                }
                let port = loop {
                    if let Some(p) = job.retry.pop_front() {
                        break p;
                    }
                    let Some(&p) = job.ports.get(job.next) else {
                        return Next::Idle;
                    };
                    job.next += 1;
                    if !job.skip.contains(&p) && !job.probes.contains_key(&p) {
                        break p;
                    }
                };
                let tries = job.probes.get(&port).map_or(0, |p| p.tries);
                h.resent += u32::from(tries > 0);
                let timeout = timeout_for(&h.rtt, path.as_ref())
                    .saturating_mul(1 << u32::from(tries.min(4)))
                    .min(self.config.bounds.max.max(self.config.bounds.initial));
                let deadline = now + timeout;
                let probe = job.probes.entry(port).or_insert(Probe {
                    tries: 0,
                    first_sent: now,
                    last_sent: now,
                    deadline,
                    drops_at_send: drops,
                    phase: Phase::Queued,
                });
                probe.tries += 1;
                probe.last_sent = now;
                probe.deadline = deadline;
                probe.drops_at_send = drops;
                probe.phase = Phase::Waiting;
                h.inflight += 1;
                self.wheel.insert(
                    deadline,
                    Timer {
                        slot,
                        generation,
                        kind: TimerKind::Timeout(port, tries),
                    },
                );
                let isn = self.isn(addr, port, tries);
                self.syn_packet(slot, generation, addr, src, port, tries, isn)
            }
            Job::Ping(job) => {
                if !job.launched {
                    // the stages start now, with the first packet
                    job.launched = true;
                    job.drops_at_start = drops;
                    let late = now.saturating_duration_since(job.started);
                    if !late.is_zero() {
                        job.started = now;
                        job.second += late;
                        job.deadline += late;
                        let (second, deadline) = (job.second, job.deadline);
                        for (at, kind) in
                            [(deadline, TimerKind::PingEnd), (second, TimerKind::Wake)]
                        {
                            self.wheel.insert(
                                at,
                                Timer {
                                    slot,
                                    generation,
                                    kind,
                                },
                            );
                        }
                    }
                }
                let stage_two = now >= job.second;
                let echo_due = job.echo && (job.echo_sent == 0 || stage_two && job.echo_sent == 1);
                let limit = if stage_two { PING_PORTS.len() } else { 2 };
                if !echo_due && job.next >= limit {
                    return Next::Idle;
                }
                if h.gentle.is_some() {
                    h.inflight = 1;
                }
                if echo_due {
                    job.echo_sent += 1;
                    self.echo_seq = self.echo_seq.wrapping_add(1);
                    let pkt = echo_request(addr.is_ipv6(), self.ident, self.echo_seq, addr);
                    let mut buf = [0u8; 64];
                    let len = pkt.len().min(buf.len());
                    buf[..len].copy_from_slice(&pkt[..len]);
                    return Next::Packet(Box::new(Outgoing {
                        slot,
                        generation,
                        port: 0,
                        echo: true,
                        dst: SockaddrStorage::from(SocketAddr::new(addr, 0)),
                        len,
                        buf,
                    }));
                }
                let port = PING_PORTS[job.next];
                job.next += 1;
                let isn = self.isn(addr, port, PING_TRY);
                self.syn_packet(slot, generation, addr, src, port, PING_TRY, isn)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn syn_packet(
        &self,
        slot: u32,
        generation: u32,
        addr: IpAddr,
        src: IpAddr,
        port: u16,
        tries: u8,
        isn: u32,
    ) -> Next {
        let family = if addr.is_ipv6() { &self.v6 } else { &self.v4 };
        let Some(f) = family else {
            return Next::Idle;
        };
        let mut buf = [0u8; 64];
        let Some(len) = write_syn(
            &mut buf,
            f.hdrincl,
            SocketAddr::new(src, self.port_of(tries)),
            SocketAddr::new(addr, port),
            isn,
        ) else {
            return Next::Idle;
        };
        Next::Packet(Box::new(Outgoing {
            slot,
            generation,
            port,
            echo: false,
            dst: SockaddrStorage::from(SocketAddr::new(addr, 0)),
            len,
            buf,
        }))
    }

    /// Sends the packets of a round, in batches per socket. A packet the kernel refused is
    /// settled as its error says (a local filter: filtered; no buffer: sent again later).
    fn transmit(&mut self, out: Vec<Outgoing>) {
        let mut groups: [Vec<Outgoing>; 4] = Default::default();
        for o in out {
            let v6 = o.dst.as_sockaddr_in6().is_some();
            groups[usize::from(v6) * 2 + usize::from(o.echo)].push(o);
        }
        for (i, group) in groups.into_iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let family = if i < 2 { &self.v4 } else { &self.v6 };
            let sock = family.as_ref().and_then(|f| {
                if i % 2 == 0 {
                    Some(&f.tcp)
                } else {
                    f.icmp.as_ref()
                }
            });
            let Some(fd) = sock.map(|s| s.as_raw_fd()) else {
                continue;
            };
            let mut at = 0;
            let mut sent = Vec::with_capacity(group.len());
            let mut failed = Vec::new();
            while at < group.len() {
                let chunk = &group[at..group.len().min(at + BATCH)];
                match send_batch(fd, chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        sent.extend(at..at + n);
                        at += n;
                    }
                    Err(e) => {
                        // The first packet of the chunk failed: settle it, go on.
                        failed.push((at, e));
                        at += 1;
                    }
                }
            }
            let sent_at = Instant::now();
            self.counters
                .sent
                .fetch_add(sent.len() as u64, Ordering::Relaxed);
            for &k in &sent {
                self.sent_one(group[k].slot, group[k].generation, sent_at);
            }
            for o in &group[at..] {
                // never left (the socket's buffer full): send again
                self.unsend(o.slot, o.generation, o.port, o.echo);
            }
            for (k, e) in failed {
                let o = &group[k];
                if !o.echo {
                    self.send_failed(o.slot, o.generation, o.port, &e);
                }
            }
        }
    }

    /// A packet of the host left: a gentle host's next slot is a gap from now.
    fn sent_one(&mut self, slot: u32, generation: u32, at: Instant) {
        if let Some(Some(h)) = self.hosts.get_mut(slot as usize)
            && h.generation == generation
            && let Job::Ping(job) = &mut h.job
        {
            job.last_sent = Some(at);
            if job.second_sent.is_none() && at >= job.second {
                job.second_sent = Some(at);
            }
        }
        if let Some(Some(h)) = self.hosts.get_mut(slot as usize)
            && h.generation == generation
            && let Some(g) = &h.gentle
        {
            g.stamp(tokio::time::Instant::from_std(at));
            if let Job::Ping(_) = h.job {
                h.inflight = 0;
            }
            let due = g.next_due().into_std();
            let t = Timer {
                slot,
                generation,
                kind: TimerKind::Wake,
            };
            self.wheel.insert(due, t);
        }
    }

    /// A packet that never left goes back to its host's queue.
    fn unsend(&mut self, slot: u32, generation: u32, port: u16, echo: bool) {
        let Some(Some(h)) = self.hosts.get_mut(slot as usize) else {
            return;
        };
        if h.generation != generation {
            return;
        }
        match &mut h.job {
            Job::Scan(job) => {
                if let Some(p) = job.probes.get_mut(&port)
                    && p.phase == Phase::Waiting
                {
                    p.tries -= 1;
                    p.phase = Phase::Queued;
                    h.inflight = h.inflight.saturating_sub(1);
                    job.retry.push_front(port);
                }
            }
            Job::Ping(job) => {
                if echo {
                    job.echo_sent = job.echo_sent.saturating_sub(1);
                } else {
                    job.next = job.next.saturating_sub(1);
                }
            }
        }
        self.make_ready(slot);
    }

    fn send_failed(&mut self, slot: u32, generation: u32, port: u16, e: &io::Error) {
        let attempt = classify(e);
        if matches!(attempt, Attempt::Local(_)) {
            // no buffer, no descriptor ...: not the port's doing; it goes again
            self.unsend(slot, generation, port, false);
            return;
        }
        let Some(Some(h)) = self.hosts.get(slot as usize) else {
            return;
        };
        if h.generation != generation {
            return;
        }
        match &h.job {
            Job::Scan(_) => {
                let (state, reason) = state_of(&attempt);
                self.resolve(slot, port, state, reason, None, false);
            }
            Job::Ping(_) => {
                if matches!(attempt, Attempt::Unreachable)
                    && let Some(Some(h)) = self.hosts.get_mut(slot as usize)
                    && let Job::Ping(job) = &mut h.job
                {
                    job.unreachable = true;
                }
            }
        }
    }

    // ---------------------------------------------------------------- receiving

    /// Reads what the sockets have (without blocking, a bounded amount); how many packets.
    fn receive(&mut self) -> usize {
        let mut total = 0;
        let mut bufs = std::mem::take(&mut self.rx);
        for i in 0..4 {
            let (v6, icmp) = (i >= 2, i % 2 == 1);
            let family = if v6 { &self.v6 } else { &self.v4 };
            let sock = family
                .as_ref()
                .and_then(|f| if icmp { f.icmp.as_ref() } else { Some(&f.tcp) });
            let Some(fd) = sock.map(|s| s.as_raw_fd()) else {
                continue;
            };
            while let Ok((packets, count)) = recv_batch(fd, &mut bufs) {
                if let Some(c) = count
                    && c != self.rx_seen[i]
                {
                    // The kernel's count is per socket and since its creation.
                    let grew = c.wrapping_sub(self.rx_seen[i]);
                    self.counters
                        .drops
                        .fetch_add(u64::from(grew), Ordering::Relaxed);
                    self.rx_seen[i] = c;
                }
                let now = Instant::now();
                for (k, &(len, from)) in packets.iter().enumerate() {
                    if let Some(b) = bufs.get(k) {
                        self.on_packet(v6, icmp, &b[..len.min(b.len())], from, now);
                    }
                }
                total += packets.len();
                if packets.len() < BATCH || total >= 4 * ROUND {
                    break;
                }
            }
        }
        self.rx = bufs;
        total
    }

    fn on_packet(&mut self, v6: bool, icmp: bool, data: &[u8], from: Option<IpAddr>, now: Instant) {
        let (source, body) = if v6 {
            match from {
                Some(a) => (a, data),
                None => return,
            }
        } else {
            match ipv4_payload(data) {
                Some((a, b)) => (IpAddr::V4(a), b),
                None => return,
            }
        };
        if !icmp {
            if let Some((ours, (port, seq), reply)) = tcp_reply_to(body)
                && self.ours(ours)
            {
                self.on_tcp(source, ours, port, seq, reply, now);
            }
            return;
        }
        match body.first() {
            Some(0) | Some(129) => {
                if let Some(target) = echo_reply(v6, body, self.ident)
                    && target == source
                {
                    self.on_echo(target, now);
                }
            }
            Some(1) | Some(3) => {
                if let Some(u) = unreachable(v6, body) {
                    match u.quoted {
                        Quoted::Tcp {
                            src_port,
                            dst_port,
                            seq,
                        } if self.ours(src_port) => {
                            let no_route = u.says_no_route(v6) && source != u.target;
                            self.on_unreachable(
                                u.target,
                                Some((src_port, dst_port, seq)),
                                no_route,
                            );
                        }
                        Quoted::Echo { ident, .. } if ident == self.ident => {
                            let no_route = u.says_no_route(v6) && source != u.target;
                            self.on_unreachable(u.target, None, no_route);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// A TCP answer (or an ICMP error quoting a SYN) to our port `ours` from `addr:port`.
    fn on_tcp(
        &mut self,
        addr: IpAddr,
        ours: u16,
        port: u16,
        seq: u32,
        reply: SynReply,
        now: Instant,
    ) {
        let ping = ours == self.port_of(PING_TRY);
        let Some(&slot) = self.by_addr.get(&addr) else {
            // A discovery SYN's answer after its address was given up.
            if ping
                && self.isn(addr, port, PING_TRY) == seq
                && reply != SynReply::Unreachable
                && let Some(started) = self.given_up.take(addr)
            {
                self.late_up(addr, Some((port, reply == SynReply::SynAck)), now - started);
            }
            return;
        };
        let Some(Some(h)) = self.hosts.get(slot as usize) else {
            return;
        };
        match &h.job {
            Job::Ping(_) => {
                if !ping || self.isn(addr, port, PING_TRY) != seq {
                    return;
                }
                let second_stage = PING_PORTS
                    .iter()
                    .position(|&p| p == port)
                    .is_some_and(|i| i >= 2);
                let rtt = self.ping_rtt(slot, now, second_stage);
                let answer = PingAnswer::Tcp {
                    port,
                    open: reply == SynReply::SynAck,
                    rtt,
                };
                self.ping_done(slot, answer, Some(rtt));
            }
            Job::Scan(job) => {
                let Some(p) = job.probes.get(&port) else {
                    return;
                };
                let Some(t) = (0..p.tries)
                    .find(|&t| self.port_of(t) == ours && self.isn(addr, port, t) == seq)
                else {
                    return;
                };
                // Which try it answers is in the sequence number: an exact round trip
                // for the first and the last try (we keep those send times).
                let rtt = if t == 0 {
                    Some(now - p.first_sent)
                } else if t + 1 == p.tries {
                    Some(now - p.last_sent)
                } else {
                    None
                };
                let lost = t > 0;
                if lost {
                    tracing::trace!(host = %addr, port, t, tries = p.tries, since_first_ms = (now - p.first_sent).as_millis() as u64, "sweep: answer to a retry");
                }
                let (state, reason) = match reply {
                    SynReply::SynAck => (PortState::Open, PortReason::SynAck),
                    SynReply::Rst => (PortState::Closed, PortReason::Reset),
                    SynReply::Unreachable => (PortState::Filtered, PortReason::IcmpUnreachable),
                };
                self.resolve(slot, port, state, reason, rtt, lost);
            }
        }
    }

    fn on_echo(&mut self, addr: IpAddr, now: Instant) {
        match self.by_addr.get(&addr) {
            Some(&slot) => {
                if let Some(Some(HostRun {
                    job: Job::Ping(_), ..
                })) = self.hosts.get(slot as usize)
                {
                    let rtt = self.ping_rtt(slot, now, false);
                    self.ping_done(slot, PingAnswer::Echo { rtt }, Some(rtt));
                }
            }
            None => {
                if let Some(started) = self.given_up.take(addr) {
                    self.late_up(addr, None, now - started);
                }
            }
        }
    }

    fn on_unreachable(&mut self, addr: IpAddr, tcp: Option<(u16, u16, u32)>, no_route: bool) {
        let Some(&slot) = self.by_addr.get(&addr) else {
            return;
        };
        let is_ping = match self.hosts.get(slot as usize) {
            Some(Some(h)) => matches!(h.job, Job::Ping(_)),
            _ => return,
        };
        if !is_ping {
            if let Some((ours, port, seq)) = tcp {
                self.on_tcp(addr, ours, port, seq, SynReply::Unreachable, Instant::now());
            }
            return;
        }
        if let Some((ours, port, seq)) = tcp
            && (ours != self.port_of(PING_TRY) || self.isn(addr, port, PING_TRY) != seq)
        {
            return;
        }
        let Some(Some(HostRun {
            job: Job::Ping(job),
            ..
        })) = self.hosts.get_mut(slot as usize)
        else {
            return;
        };
        job.unreachable = true;
        if no_route {
            job.no_route += 1;
        }
        // Two "no route" answers from a router: nothing sent there arrives.
        if job.no_route >= 2 {
            self.ping_done(slot, PingAnswer::Down { unreachable: true }, None);
        }
    }

    /// An answer's round trip: since the first stage, or since the second stage left for a
    /// SYN of the second stage (an upper bound either way: an echo answered after the
    /// second echo is timed from the first).
    fn ping_rtt(&self, slot: u32, now: Instant, second_stage: bool) -> Duration {
        match self.hosts.get(slot as usize) {
            Some(Some(HostRun {
                job: Job::Ping(p), ..
            })) => {
                let from = match p.second_sent {
                    Some(at) if second_stage => at,
                    _ => p.started,
                };
                now.saturating_duration_since(from)
            }
            _ => Duration::ZERO,
        }
    }

    fn ping_done(&mut self, slot: u32, answer: PingAnswer, rtt: Option<Duration>) {
        let Some(h) = self.release(slot) else {
            return;
        };
        if let Job::Ping(job) = &h.job {
            tracing::debug!(
                host = %h.addr,
                ?answer,
                ms = job.started.elapsed().as_millis() as u64,
                wait_ms = job.deadline.saturating_duration_since(job.started).as_millis() as u64,
                restarts = job.restarts,
                "sweep: ping done"
            );
        }
        if let Some(rtt) = rtt {
            self.pings.sample(h.path, rtt);
            self.config.paths.sample(h.path, rtt);
        }
        let _ = self.config.pings.send(PingResult {
            addr: h.addr,
            answer,
        });
    }

    fn late_up(&mut self, addr: IpAddr, port: Option<(u16, bool)>, rtt: Duration) {
        tracing::debug!(host = %addr, ?port, ms = rtt.as_millis() as u64, "sweep: late answer after the address was given up");
        self.pings.sample(PathKey::of(addr), rtt);
        self.config.paths.sample(PathKey::of(addr), rtt);
        let _ = self.config.pings.send(PingResult {
            addr,
            answer: PingAnswer::Late { port, rtt },
        });
    }

    /// A port's answer (or its verdict): the window and the estimates learn from it.
    fn resolve(
        &mut self,
        slot: u32,
        port: u16,
        state: PortState,
        reason: PortReason,
        rtt: Option<Duration>,
        lost: bool,
    ) {
        let drops = self.drops();
        let Some(Some(h)) = self.hosts.get_mut(slot as usize) else {
            return;
        };
        let Job::Scan(job) = &mut h.job else {
            return;
        };
        let Some(p) = job.probes.remove(&port) else {
            return;
        };
        if p.phase == Phase::Waiting {
            h.inflight = h.inflight.saturating_sub(1);
        }
        if p.phase == Phase::Queued {
            job.retry.retain(|&q| q != port);
        }
        if let Some(rtt) = rtt {
            h.rtt.sample(rtt);
            self.config.paths.sample(h.path, rtt);
        }
        if lost {
            h.losses += 1;
            h.window.shrink_for(p.first_sent, Instant::now());
            self.config.paths.loss(h.path);
        } else if reason != PortReason::NoResponse && h.window.grow() && h.losses == 0 {
            self.config.paths.reached(h.path, h.window.size());
        }
        let replies_dropped = reason == PortReason::NoResponse && drops != p.drops_at_send;
        job.record(
            port,
            PortResult {
                state,
                reason,
                latency: rtt,
                local_error: None,
                replies_dropped,
            },
        );
        job.unresolved -= 1;
        let done = job.unresolved == 0;
        if done {
            self.finish(slot);
        } else {
            self.make_ready(slot);
        }
    }

    fn on_timer(&mut self, t: Timer, now: Instant) {
        let drops = self.drops();
        let Some(Some(h)) = self.hosts.get_mut(t.slot as usize) else {
            return;
        };
        if h.generation != t.generation {
            return;
        }
        match t.kind {
            TimerKind::Wake => self.make_ready(t.slot),
            TimerKind::PingEnd => {
                let Job::Ping(job) = &h.job else { return };
                if now < job.deadline {
                    // the stages moved with a late first packet: its own timer ends them
                    return;
                }
                // The wait is for answers to packets that left: while some of the stages'
                // packets have not (a burst of many addresses' second stages, the scan's
                // rate), or the last left less than the answer wait ago, it goes on. An
                // address that answers only its last ping port (an オン資 terminal reachable
                // on 3389 alone) was given up here before that SYN ever went.
                let all_sent = job.next >= PING_PORTS.len() && (!job.echo || job.echo_sent >= 2);
                let quiet_since = job.last_sent.map(|at| at + job.answer_wait);
                let until = match (all_sent, quiet_since) {
                    (false, _) => Some(now + job.answer_wait),
                    (true, Some(at)) if at > now => Some(at),
                    _ => None,
                };
                if let Some(until) = until {
                    let generation = h.generation;
                    let Some(Some(h)) = self.hosts.get_mut(t.slot as usize) else {
                        return;
                    };
                    let Job::Ping(job) = &mut h.job else { return };
                    job.deadline = until;
                    self.wheel.insert(
                        until,
                        Timer {
                            slot: t.slot,
                            generation,
                            kind: TimerKind::PingEnd,
                        },
                    );
                    self.make_ready(t.slot);
                    return;
                }
                // (not a gentle host: its stages last seconds, and its packets come one a gap,
                // never in a burst)
                if drops != job.drops_at_start
                    && job.restarts < PING_RESTARTS
                    && !job.unreachable
                    && h.gentle.is_none()
                {
                    // packets were dropped while it waited: not known to be silent, ping again
                    tracing::debug!(host = %h.addr, drops = drops - job.drops_at_start, "sweep: ping starts over (drops meanwhile)");
                    let Some(Some(h)) = self.hosts.get_mut(t.slot as usize) else {
                        return;
                    };
                    let Job::Ping(job) = &mut h.job else { return };
                    let length = job.deadline.saturating_duration_since(job.started);
                    let stage = job.second.saturating_duration_since(job.started);
                    job.restarts += 1;
                    job.next = 0;
                    job.echo_sent = 0;
                    job.launched = false;
                    job.last_sent = None;
                    job.second_sent = None;
                    job.started = now;
                    job.second = now + stage;
                    job.deadline = now + length;
                    job.drops_at_start = drops;
                    let (second, deadline, generation) = (job.second, job.deadline, h.generation);
                    for (at, kind) in [(deadline, TimerKind::PingEnd), (second, TimerKind::Wake)] {
                        self.wheel.insert(
                            at,
                            Timer {
                                slot: t.slot,
                                generation,
                                kind,
                            },
                        );
                    }
                    self.make_ready(t.slot);
                    return;
                }
                let unreachable = job.unreachable;
                let until = now + self.config.discovery_wait.max(Duration::from_secs(1)) * 4;
                self.given_up.add(h.addr, job.started, until);
                self.ping_done(t.slot, PingAnswer::Down { unreachable }, None);
            }
            TimerKind::Timeout(port, tries) => {
                let path = self.config.paths.get(h.path);
                let path_losses = path.map_or(0, |p| p.losses);
                let path_window = path.map_or(0.0, |p| p.window);
                let Job::Scan(job) = &mut h.job else { return };
                let Some(p) = job.probes.get_mut(&port) else {
                    return;
                };
                if p.phase != Phase::Waiting || p.tries != tries + 1 || now < p.deadline {
                    return;
                }
                h.inflight = h.inflight.saturating_sub(1);
                h.timeouts += 1;
                let dropped = drops != p.drops_at_send;
                tracing::trace!(
                    host = %h.addr,
                    port,
                    tries = p.tries,
                    waited_ms = (now - p.last_sent).as_millis() as u64,
                    srtt_ms = h.rtt.srtt().map_or(0, |d| d.as_millis() as u64),
                    dropped,
                    "sweep: wait ran out"
                );
                let verdict = self.config.retry.decide(Silence {
                    tries: u32::from(p.tries),
                    dropped,
                    host_losses: h.losses,
                    path_losses,
                    samples_used: job.samples_used,
                });
                // Silence says nothing of the network unless packets were lost meanwhile:
                // the window keeps growing (a filtered port is its firewall's doing).
                if dropped {
                    h.window.shrink_for(p.last_sent, now);
                } else if h.losses == 0 && path_losses == 0 && h.window.grow_silent(path_window) {
                    self.config.paths.reached(h.path, h.window.size());
                }
                match verdict {
                    Verdict::Retry { sample } => {
                        if sample {
                            job.samples_used += 1;
                        }
                        p.phase = Phase::Queued;
                        job.retry.push_back(port);
                    }
                    Verdict::Silent => {
                        p.phase = Phase::Grace;
                        let grace = {
                            let path = self.config.paths.get(h.path).map(|s| s.rtt);
                            timeout_for(&h.rtt, path.as_ref())
                        };
                        self.wheel.insert(
                            now + grace,
                            Timer {
                                slot: t.slot,
                                generation: t.generation,
                                kind: TimerKind::Final(port),
                            },
                        );
                    }
                }
                self.make_ready(t.slot);
            }
            TimerKind::Final(port) => {
                let Job::Scan(job) = &h.job else { return };
                if job
                    .probes
                    .get(&port)
                    .is_some_and(|p| p.phase == Phase::Grace)
                {
                    self.resolve(
                        t.slot,
                        port,
                        PortState::Filtered,
                        PortReason::NoResponse,
                        None,
                        false,
                    );
                }
            }
        }
    }

    /// Removes a host from the engine; its next waiting job starts.
    fn release(&mut self, slot: u32) -> Option<HostRun> {
        let h = self.hosts.get_mut(slot as usize)?.take()?;
        self.by_addr.remove(&h.addr);
        self.free.push(slot);
        if let Some(q) = self.waiting.get_mut(&h.addr) {
            let next = q.pop_front();
            if q.is_empty() {
                self.waiting.remove(&h.addr);
            }
            if let Some(c) = next {
                self.start(c);
            }
        }
        Some(h)
    }

    fn finish(&mut self, slot: u32) {
        let Some(h) = self.release(slot) else {
            return;
        };
        if h.losses == 0 {
            self.config.paths.reached(h.path, h.window.size());
        }
        tracing::debug!(
            host = %h.addr,
            ms = h.started.elapsed().as_millis() as u64,
            window = h.window.size() as u64,
            srtt_us = h.rtt.srtt().map_or(0, |d| d.as_micros() as u64),
            timeouts = h.timeouts,
            resent = h.resent,
            losses = h.losses,
            "sweep: port scan done"
        );
        if let Job::Scan(mut job) = h.job {
            // in the order asked
            let order: HashMap<u16, usize> =
                job.ports.iter().enumerate().map(|(i, &p)| (p, i)).collect();
            job.results
                .sort_by_key(|(p, _)| order.get(p).copied().unwrap_or(usize::MAX));
            if let Some(reply) = job.reply.take() {
                let _ = reply.send(ScanOutcome {
                    ports: job.results,
                    tally: job.tally,
                    rtt: h.rtt,
                });
            }
        }
    }

    /// Waits for a packet, a command or the next deadline (at most [`IDLE`]).
    fn sleep(&mut self) {
        let now = Instant::now();
        let mut until = now + IDLE;
        if let Some(t) = self.wheel.next_due() {
            until = until.min(t);
        }
        if let Some(t) = self.next_rate
            && !self.ready.is_empty()
        {
            until = until.min(t);
        }
        let wait = until.saturating_duration_since(now);
        // poll's unit is the millisecond: round up, so a deadline is never slept short
        // into a busy loop.
        let ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
        let mut fds = vec![PollFd::new(self.wake.as_fd(), PollFlags::POLLIN)];
        for f in [&self.v4, &self.v6].into_iter().flatten() {
            fds.push(PollFd::new(f.tcp.as_fd(), PollFlags::POLLIN));
            if let Some(i) = &f.icmp {
                fds.push(PollFd::new(i.as_fd(), PollFlags::POLLIN));
            }
        }
        let _ = poll(&mut fds, ms);
    }
}

enum Next {
    Packet(Box<Outgoing>),
    /// Nothing until an answer, a timeout or a wake-up.
    Idle,
}

impl ScanJob {
    fn record(&mut self, port: u16, r: PortResult) {
        self.tally.count(r.state);
        self.tally.replies_dropped += u32::from(r.replies_dropped);
        if self.keep_all || r.state == PortState::Open {
            self.results.push((port, r));
        }
    }
}

/// Sends a batch; how many left.
fn send_batch(fd: i32, batch: &[Outgoing]) -> io::Result<usize> {
    let slices: Vec<[IoSlice<'_>; 1]> = batch
        .iter()
        .map(|o| [IoSlice::new(&o.buf[..o.len])])
        .collect();
    let addrs: Vec<Option<SockaddrStorage>> = batch.iter().map(|o| Some(o.dst)).collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(batch.len(), None);
    let no_cmsgs: [ControlMessage<'_>; 0] = [];
    match sendmmsg(
        fd,
        &mut headers,
        &slices,
        &addrs,
        no_cmsgs,
        MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(r) => Ok(r.count()),
        Err(nix::errno::Errno::EAGAIN) => Ok(0),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Reads up to a batch of packets into `bufs` without blocking: each packet's length and
/// sender (for IPv6, whose raw sockets give no IP header), and the socket's drop count if
/// the kernel sent it.
fn recv_batch(fd: i32, bufs: &mut [[u8; 1500]]) -> io::Result<RecvBatch> {
    let mut slices: Vec<[IoSliceMut<'_>; 1]> = bufs
        .iter_mut()
        .map(|b| [IoSliceMut::new(&mut b[..])])
        .collect();
    let mut headers =
        MultiHeaders::<SockaddrStorage>::preallocate(slices.len(), Some(nix::cmsg_space!(u32)));
    let msgs = match recvmmsg(
        fd,
        &mut headers,
        slices.iter_mut(),
        MsgFlags::MSG_DONTWAIT,
        None,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) => return Ok((Vec::new(), None)),
        Err(e) => return Err(io::Error::from(e)),
    };
    let mut meta = Vec::with_capacity(BATCH);
    let mut count = None;
    for m in msgs {
        if let Ok(cmsgs) = m.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::RxqOvfl(n) = c {
                    count = Some(n);
                }
            }
        }
        let from = m.address.and_then(|a| {
            a.as_sockaddr_in6()
                .map(|s| IpAddr::V6(s.ip()))
                .or_else(|| a.as_sockaddr_in().map(|s| IpAddr::V4(s.ip())))
        });
        meta.push((m.bytes, from));
    }
    Ok((meta, count))
}

type RecvBatch = (Vec<(usize, Option<IpAddr>)>, Option<u32>);

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn known(port: u16) -> (u16, PortResult) {
        let result = PortResult {
            state: PortState::Open,
            reason: PortReason::SynAck,
            latency: None,
            local_error: None,
            replies_dropped: false,
        };
        (port, result)
    }

    /// A split scan's runs, put one after the other, are the ports in the order asked; each
    /// known result goes with the run of its port, one not asked for with the last.
    #[test]
    fn a_split_keeps_the_order_asked_and_each_known_port_with_its_run() {
        let ports: Vec<u16> = (1..=65_535).rev().collect();
        let runs = split(&ports, &[known(65_535), known(445), known(0)], 2);
        assert_eq!(runs.len(), 2);
        let joined: Vec<u16> = runs.iter().flat_map(|r| r.0.iter().copied()).collect();
        assert_eq!(joined, ports);
        assert_eq!(runs[0].0.len(), 32_768);
        assert_eq!(runs[1].0.len(), 32_767);
        let ports_of = |i: usize| runs[i].1.iter().map(|k| k.0).collect::<Vec<_>>();
        assert_eq!(ports_of(0), [65_535]);
        assert_eq!(ports_of(1), [445, 0]);

        let three = split(&[7, 8, 9, 10], &[known(10)], 3);
        let lens: Vec<usize> = three.iter().map(|r| r.0.len()).collect();
        assert_eq!(
            lens,
            [2, 2],
            "runs of ceil(4 / 3) ports: two runs, not an empty third"
        );
        assert_eq!(three[1].1.len(), 1);
        assert!(split(&[], &[known(1)], 2).is_empty());
    }

    /// The batch reader counts what the kernel dropped for a full buffer. A UDP socket on
    /// loopback stands in for the raw socket (same option, same control message, no root).
    #[test]
    fn the_reader_counts_packets_the_full_buffer_dropped() {
        let rx = Socket::new(Domain::IPV4, Type::DGRAM.nonblocking(), Some(Protocol::UDP)).unwrap();
        rx.bind(&SockAddr::from(
            "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        ))
        .unwrap();
        rx.set_recv_buffer_size(4096).unwrap();
        setsockopt(&rx, sockopt::RxqOvfl, &1).unwrap();
        let to = rx.local_addr().unwrap().as_socket().unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        const SENT: u64 = 2000;
        for i in 0..SENT {
            tx.send_to(&i.to_be_bytes(), to).unwrap();
        }
        let mut bufs = vec![[0u8; 1500]; BATCH];
        let (mut got, mut count) = (0u64, None);
        loop {
            let (packets, c) = recv_batch(rx.as_raw_fd(), &mut bufs).unwrap();
            count = c.or(count);
            got += packets.len() as u64;
            assert!(
                packets
                    .iter()
                    .all(|&(n, from)| n == 8 && from == Some(IpAddr::from([127, 0, 0, 1])))
            );
            if packets.is_empty() {
                break;
            }
        }
        // The count comes with the packets read; one more after the drops brings it up to
        // date.
        tx.send_to(&[0; 8], to).unwrap();
        let (packets, c) = recv_batch(rx.as_raw_fd(), &mut bufs).unwrap();
        got += packets.len() as u64;
        let dropped = u64::from(c.or(count).unwrap());
        assert!(got > 0 && dropped > 0, "read {got}, dropped {dropped}");
        assert_eq!(got + dropped, SENT + 1, "read {got}, dropped {dropped}");
    }

    /// The filter keeps segments to the reserved block and drops the rest, run by the
    /// kernel: a raw socket would need root, so the IPv6 form (no IP header before the
    /// transport header) is attached to a UDP socket, whose header has the destination port
    /// at the same offset as TCP's.
    #[test]
    fn the_port_filter_keeps_the_reserved_block() {
        let delivered = |first_of_block: i32| -> bool {
            let rx =
                Socket::new(Domain::IPV4, Type::DGRAM.nonblocking(), Some(Protocol::UDP)).unwrap();
            rx.bind(&SockAddr::from(
                "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
            ))
            .unwrap();
            let to = rx.local_addr().unwrap().as_socket().unwrap();
            let first = (i32::from(to.port()) + first_of_block) as u16;
            rx.attach_filter(&port_filter(first, PORT_BLOCK, false))
                .unwrap();
            let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            tx.send_to(b"x", to).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut buf = [0u8; 8];
            (&rx).read(&mut buf).is_ok()
        };
        assert!(delivered(0), "first port of the block");
        assert!(
            delivered(-(PORT_BLOCK as i32 - 1)),
            "last port of the block"
        );
        assert!(!delivered(1), "just below the block");
        assert!(!delivered(-(PORT_BLOCK as i32)), "just above the block");
        let (base, held) = reserve_ports().unwrap();
        assert!(held.len() >= PORT_BLOCK as usize);
        // the block is ours: nobody else may bind its ports now
        let taken = std::net::TcpListener::bind(("0.0.0.0", base + PORT_BLOCK - 1));
        assert!(taken.is_err());
    }
}
