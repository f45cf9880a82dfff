//! Pacing: the one mechanism that spaces a host's new connections and packets (a gentle
//! zone's gap) and the scan's (`--max-rate`). Port scan, discovery pings, UDP probes and
//! every connection a service probe opens wait for it.
//!
//! The two paces differ in what they promise:
//! - the scan's rate ([`RatePacer`]) is an average: slots are reserved ahead, and a waiter
//!   that wakes late only makes the scan a little slower;
//! - a gentle host's gap ([`GapPacer`]) is what the device sees between two packets. A slot
//!   reserved ahead cannot promise that: when the waiter of one slot wakes late (the
//!   runtime's threads busy) its packet leaves late while the next slot's leaves on time,
//!   closer than the gap. So a gentle host has one event in flight, and the next slot is
//!   counted from when the previous packet actually left ([`PaceSlot`] is held across the
//!   send and stamps the time when it is dropped).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The longest a batching sender may fall behind the rate and still catch up at once.
const RATE_CREDIT: Duration = Duration::from_millis(10);

/// The scan-wide rate: events spaced `gap` apart on average, slots reserved ahead.
#[derive(Debug)]
pub(crate) struct RatePacer {
    gap: Duration,
    next: Mutex<Instant>,
}

impl RatePacer {
    /// A pacer for `per_second` events per second.
    pub fn per_second(per_second: u32) -> Self {
        RatePacer {
            gap: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next slot.
    pub async fn wait(&self) {
        let slot = match self.next.lock() {
            Ok(mut n) => {
                let slot = (*n).max(Instant::now());
                *n = slot + self.gap;
                slot
            }
            Err(_) => return,
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Takes up to `want` slots due by `now` at once (for a sender that batches its
    /// packets): how many, and when the first one not taken is due. Taken under one lock,
    /// so that senders on several threads never spend the same slot twice.
    pub fn reserve(&self, want: usize, now: Instant) -> (usize, Instant) {
        let Ok(mut next) = self.next.lock() else {
            return (0, now + self.gap);
        };
        let mut n = 0;
        let mut at = self.credit(*next, now);
        while n < want && at <= now {
            at += self.gap;
            n += 1;
        }
        *next = at;
        (n, at)
    }

    /// Gives back `n` reserved slots that were not used.
    pub fn give_back(&self, n: usize) {
        if let Ok(mut next) = self.next.lock() {
            let back = self.gap * u32::try_from(n).unwrap_or(u32::MAX);
            *next = next.checked_sub(back).unwrap_or(*next);
        }
    }

    /// An idle scan does not bank slots for a burst later: at most one gap, or
    /// [`RATE_CREDIT`] of slots when that is more (a batching sender that wakes a little
    /// late keeps its rate instead of losing the slots it overslept).
    fn credit(&self, next: Instant, now: Instant) -> Instant {
        let window = self.gap.max(RATE_CREDIT);
        next.max(now.checked_sub(window).unwrap_or(now))
    }
}

/// A gentle host's pace: one event in flight, and the next one no sooner than `gap` after
/// the previous one was sent.
#[derive(Debug)]
pub(crate) struct GapPacer {
    gap: Duration,
    /// When the next event may go: the last send plus the gap.
    next: Mutex<Instant>,
    /// One event between its slot and its send at a time.
    turn: Arc<Semaphore>,
}

impl GapPacer {
    fn new(gap: Duration) -> Self {
        GapPacer {
            gap,
            next: Mutex::new(Instant::now()),
            turn: Arc::new(Semaphore::new(1)),
        }
    }

    fn due(&self) -> Instant {
        match self.next.lock() {
            Ok(n) => *n,
            Err(p) => *p.into_inner(),
        }
    }

    /// Records that an event left at `sent`: the next may go a gap later.
    pub fn stamp(&self, sent: Instant) {
        if let Ok(mut n) = self.next.lock() {
            *n = (*n).max(sent + self.gap);
        }
    }

    /// When the next event may go (for a sender that schedules its own packets).
    pub fn next_due(&self) -> Instant {
        self.due()
    }

    /// The gap.
    pub fn gap(&self) -> Duration {
        self.gap
    }
}

/// Every pace a new connection to one host keeps: the host's gap (gentle profiles) and the
/// scan's rate. Port scan, discovery and service probes share one per host, and a probe's
/// context carries it, so a probe's second and later connections keep the pace too.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pace {
    host: Option<Arc<GapPacer>>,
    scan: Option<Arc<RatePacer>>,
}

impl Pace {
    /// `host_gap` zero for no per-host pace.
    pub fn new(host_gap: Duration, scan: Option<Arc<RatePacer>>) -> Self {
        Pace {
            host: (!host_gap.is_zero()).then(|| Arc::new(GapPacer::new(host_gap))),
            scan,
        }
    }

    /// Waits for the host's turn and slot, then the scan's; at once when neither paces.
    /// Hold the slot until the packet has left (the connect call, the send): dropping it
    /// stamps the host's next slot a gap later.
    pub async fn slot(&self) -> PaceSlot {
        let mut held = None;
        if let Some(p) = &self.host {
            // Never closed: the semaphore lives as long as the pacer.
            if let Ok(permit) = p.turn.clone().acquire_owned().await {
                tokio::time::sleep_until(p.due()).await;
                held = Some((p.clone(), permit));
            }
        }
        if let Some(p) = &self.scan {
            p.wait().await;
        }
        PaceSlot { host: held }
    }

    /// The host is paced (a gentle profile): probes use one connection at a time.
    pub fn is_gentle(&self) -> bool {
        self.host.is_some()
    }

    /// The host's pacer, for a sender that schedules its own packets.
    pub fn host(&self) -> Option<&Arc<GapPacer>> {
        self.host.as_ref()
    }
}

/// A slot of the pace, held across one send. Dropping it marks the send as done: the
/// host's next slot is a gap from now, and the next waiter may take its turn.
#[derive(Debug)]
pub(crate) struct PaceSlot {
    host: Option<(Arc<GapPacer>, OwnedSemaphorePermit)>,
}

impl Drop for PaceSlot {
    fn drop(&mut self) {
        if let Some((p, _permit)) = self.host.take() {
            p.stamp(Instant::now());
        }
    }
}

/// A TCP connection whose SYN has left; [`Connecting::finish`] waits for the handshake.
#[derive(Debug)]
pub(crate) struct Connecting {
    socket: Socket,
    done: bool,
}

/// Starts a TCP connection without waiting for it: when this returns, the kernel has sent
/// the SYN (or failed at once: refused on loopback, no route, no file descriptor).
pub(crate) fn start_connect(addr: SocketAddr) -> io::Result<Connecting> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(Connecting { socket, done: true }),
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => Ok(Connecting {
            socket,
            done: false,
        }),
        Err(e) => Err(e),
    }
}

impl Connecting {
    /// Waits for the handshake (bound the wait with a timeout around this future).
    /// "Connected" is trusted only when the socket has a peer and no pending error: under
    /// load some network stacks (seen with gVisor) report a failed non-blocking connect as
    /// writable, which would invent an open port.
    pub async fn finish(self) -> io::Result<TcpStream> {
        let std_stream: std::net::TcpStream = self.socket.into();
        let stream = TcpStream::from_std(std_stream)?;
        if !self.done {
            stream.writable().await?;
        }
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        stream.peer_addr()?;
        Ok(stream)
    }
}

/// Connects to `addr` at `pace`: the slot is held until the SYN has left, so a gentle device
/// sees the gap between the SYNs themselves, however late this task ran.
pub(crate) async fn paced_connect(pace: &Pace, addr: SocketAddr) -> io::Result<Connecting> {
    let slot = pace.slot().await;
    let started = start_connect(addr);
    drop(slot);
    started
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test]
    async fn rate_pacer_spaces_events() {
        let p = RatePacer::per_second(50);
        let start = Instant::now();
        for _ in 0..4 {
            p.wait().await;
        }
        let e = start.elapsed();
        assert!(e >= ms(60), "{e:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn rate_pacer_hands_out_due_slots_in_batches() {
        let p = RatePacer::per_second(1000);
        let now = Instant::now();
        let (n, next) = p.reserve(64, now);
        assert_eq!(
            (n, next),
            (1, now + ms(1)),
            "a fresh pacer: the slot of now"
        );
        assert_eq!(p.reserve(64, now).0, 0, "taken");
        tokio::time::advance(ms(10)).await;
        let (n, _) = p.reserve(64, Instant::now());
        assert_eq!(n, 10, "ten slots came due in 10 ms");
        p.give_back(4);
        assert_eq!(
            p.reserve(64, Instant::now()).0,
            4,
            "the unused ones are due again"
        );
        tokio::time::advance(ms(500)).await;
        let (n, _) = p.reserve(64, Instant::now());
        assert_eq!(n, 11, "an idle pacer banks at most 10 ms of slots");
    }

    /// Senders on several threads share the scan's rate: every slot goes to one of them.
    #[test]
    fn threads_reserving_at_once_share_the_slots() {
        let p = Arc::new(RatePacer::per_second(10_000));
        let start = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    let mut got = 0;
                    while start.elapsed() < ms(200) {
                        got += p.reserve(8, Instant::now()).0;
                        std::thread::yield_now();
                    }
                    got
                })
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let elapsed = start.elapsed();
        // 10 a millisecond, plus the 10 ms of credit a fresh pacer may hand out at once
        let most = (elapsed.as_micros() / 100) as usize + 100 + 8;
        assert!(total <= most, "{total} slots in {elapsed:?}");
        assert!(total >= 100, "{total} slots in {elapsed:?}");
    }

    /// Two events of a gentle host, the first of which wakes on time but is sent late (a busy
    /// runtime, simulated by a delay between the slot and the send): the second must still
    /// leave a whole gap after the first actually left. A pacer that reserved slots ahead
    /// sent the second 20 ms after the first here (its slot was due 50 ms after the first's,
    /// the first went out 30 ms late), the flake the lab saw at the modality.
    #[tokio::test(start_paused = true)]
    async fn a_gentle_gap_holds_between_the_sends_when_a_waiter_is_late() {
        let pace = Pace::new(ms(50), None);
        let start = Instant::now();
        let late = {
            let pace = pace.clone();
            tokio::spawn(async move {
                let slot = pace.slot().await;
                tokio::time::sleep(ms(30)).await; // woken, but the send comes late
                let sent = Instant::now();
                drop(slot);
                sent
            })
        };
        tokio::task::yield_now().await;
        let on_time = {
            let pace = pace.clone();
            tokio::spawn(async move {
                let slot = pace.slot().await;
                let sent = Instant::now();
                drop(slot);
                sent
            })
        };
        let (a, b) = (late.await.unwrap(), on_time.await.unwrap());
        assert_eq!(a - start, ms(30));
        assert!(b - a >= ms(50), "sends {:?} apart", b - a);
    }

    /// The same on a real, busy runtime: one thread, blocked between the wake-up and the send
    /// of every event, many events queued. Every pair of sends is a gap apart.
    #[test]
    fn a_gentle_gap_holds_on_a_blocked_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let sends = rt.block_on(async {
            let pace = Pace::new(ms(20), None);
            let sends = Arc::new(Mutex::new(Vec::new()));
            let mut set = tokio::task::JoinSet::new();
            for i in 0..6u64 {
                let (pace, sends) = (pace.clone(), sends.clone());
                set.spawn(async move {
                    let slot = pace.slot().await;
                    // the thread is busy elsewhere for a while (blocking, not yielding)
                    std::thread::sleep(ms(5 + 7 * (i % 3)));
                    sends.lock().unwrap().push(std::time::Instant::now());
                    drop(slot);
                });
            }
            while set.join_next().await.is_some() {}
            Arc::try_unwrap(sends).unwrap().into_inner().unwrap()
        });
        assert_eq!(sends.len(), 6);
        for w in sends.windows(2) {
            assert!(w[1] - w[0] >= ms(20), "sends {:?} apart", w[1] - w[0]);
        }
    }

    #[tokio::test]
    async fn a_started_connect_has_sent_its_syn() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let c = start_connect(addr).unwrap();
        let s = c.finish().await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), addr);
        let closed = {
            let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            t.local_addr().unwrap()
        };
        let refused = match start_connect(closed) {
            Ok(c) => c.finish().await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    }

    /// A waiter released late does not shorten the gap to the next one: the gap counts from
    /// the actual release, not from a slot reserved ahead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_release_keeps_the_gap() {
        let gap = Duration::from_millis(30);
        let pace = Pace::new(gap, None);
        let released = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10u64 {
            let (pace, released) = (pace.clone(), released.clone());
            tasks.push(tokio::spawn(async move {
                let slot = pace.slot().await;
                let at = Instant::now();
                drop(slot);
                if let Ok(mut r) = released.lock() {
                    r.push(at);
                }
                // Every other waiter's thread is busy right after its release, as a loaded
                // runtime's are: the next waiter must still keep the gap.
                if i % 2 == 0 {
                    std::thread::sleep(Duration::from_millis(15));
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let mut at = released.lock().map(|r| r.clone()).unwrap_or_default();
        at.sort();
        assert_eq!(at.len(), 10);
        for w in at.windows(2) {
            let between = w[1] - w[0];
            assert!(
                between >= gap,
                "two releases {between:?} apart (gap {gap:?})"
            );
        }
    }
}
