//! The packet engine's send thread: it takes whole rounds of built packets from the engine
//! and sends them in batches (`sendmmsg`). Most of a fast scan's CPU is the kernel's path of
//! each packet (out through the routing and any namespaces on the way, and the target's
//! answer back in the same softirq), which runs in the sending thread's context; a thread of
//! its own puts that on the second core while the engine thread reads answers and keeps the
//! timing wheel.

use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::time::Instant;

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use socket2::Socket;

/// Packets per `sendmmsg`.
const BATCH: usize = 64;

/// Rounds handed to the send thread and not yet sent: enough to keep it busy while the
/// engine builds the next, few enough that a packet waits at most a round or two.
pub(crate) const DEPTH: usize = 2;

/// A packet on its way into a batch.
pub(crate) struct Outgoing {
    pub slot: u32,
    pub generation: u32,
    /// The port (0 for an echo).
    pub port: u16,
    /// Which try of the port (a probe's send time belongs to its try).
    pub tries: u8,
    pub echo: bool,
    pub dst: SockaddrStorage,
    pub len: usize,
    pub buf: [u8; 64],
}

/// What became of one packet.
pub(crate) enum Fate {
    /// It left; the time is taken as its batch's call began (an answer can come back
    /// within the call, and a round trip taken from then is never short).
    Sent(Instant),
    /// The socket's buffer was full: it never left and goes again.
    Unsent,
    /// The kernel refused it.
    Failed(io::Error),
}

/// The engine's sockets by kind: IPv4 TCP, IPv4 ICMP, IPv6 TCP, IPv6 ICMPv6.
pub(crate) type Sockets = [Option<Socket>; 4];

/// The kind (an index of [`Sockets`]) a packet goes out on.
fn kind(o: &Outgoing) -> usize {
    usize::from(o.dst.as_sockaddr_in6().is_some()) * 2 + usize::from(o.echo)
}

/// Sends the packets of a round in batches per socket; each packet's fate, in order.
pub(crate) fn send_round(fds: [Option<i32>; 4], out: &[Outgoing]) -> Vec<Fate> {
    let mut fates: Vec<Option<Fate>> = (0..out.len()).map(|_| None).collect();
    for (k, fd) in fds.into_iter().enumerate() {
        let group: Vec<usize> = (0..out.len()).filter(|&i| kind(&out[i]) == k).collect();
        if group.is_empty() {
            continue;
        }
        let Some(fd) = fd else {
            // no socket of this kind: as a full buffer would (the engine never builds one)
            continue;
        };
        let mut at = 0;
        while at < group.len() {
            let chunk = &group[at..group.len().min(at + BATCH)];
            let sent_at = Instant::now();
            match send_batch(fd, out, chunk) {
                Ok(0) => break,
                Ok(n) => {
                    for &i in &chunk[..n] {
                        fates[i] = Some(Fate::Sent(sent_at));
                    }
                    at += n;
                }
                Err(e) => {
                    // The first packet of the chunk failed: settle it, go on.
                    fates[chunk[0]] = Some(Fate::Failed(e));
                    at += 1;
                }
            }
        }
    }
    fates
        .into_iter()
        .map(|f| f.unwrap_or(Fate::Unsent))
        .collect()
}

/// Sends one batch (`chunk` indexes `out`); how many left.
fn send_batch(fd: i32, out: &[Outgoing], chunk: &[usize]) -> io::Result<usize> {
    let slices: Vec<[IoSlice<'_>; 1]> = chunk
        .iter()
        .map(|&i| [IoSlice::new(&out[i].buf[..out[i].len])])
        .collect();
    let addrs: Vec<Option<SockaddrStorage>> = chunk.iter().map(|&i| Some(out[i].dst)).collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), None);
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

/// A round that was sent: its packets and their fates.
pub(crate) type Done = (Vec<Outgoing>, Vec<Fate>);

/// The send thread and its two channels. Dropping it stops the thread.
pub(crate) struct SendThread {
    rounds: Option<mpsc::SyncSender<Vec<Outgoing>>>,
    done: mpsc::Receiver<Done>,
    /// Rounds handed over whose fates have not come back.
    pub handed: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SendThread {
    /// Starts the thread on its own copies of the sockets; `wake` wakes the engine when a
    /// round's fates are back.
    pub fn spawn(sockets: Sockets, wake: UnixDatagram) -> io::Result<SendThread> {
        let (rounds_tx, rounds_rx) = mpsc::sync_channel::<Vec<Outgoing>>(DEPTH);
        let (done_tx, done_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sweep-send".into())
            .spawn(move || {
                while let Ok(out) = rounds_rx.recv() {
                    let fds = sockets
                        .each_ref()
                        .map(|s| s.as_ref().map(|s| s.as_raw_fd()));
                    let fates = send_round(fds, &out);
                    if done_tx.send((out, fates)).is_err() {
                        return;
                    }
                    let _ = wake.send(&[0]);
                }
            })?;
        Ok(SendThread {
            rounds: Some(rounds_tx),
            done: done_rx,
            handed: 0,
            thread: Some(thread),
        })
    }

    /// Whether another round may be handed over now.
    pub fn has_room(&self) -> bool {
        self.handed < DEPTH
    }

    /// Hands a round over; gives it back if the thread is gone.
    pub fn hand(&mut self, out: Vec<Outgoing>) -> Result<(), Vec<Outgoing>> {
        let Some(tx) = &self.rounds else {
            return Err(out);
        };
        match tx.try_send(out) {
            Ok(()) => {
                self.handed += 1;
                Ok(())
            }
            Err(mpsc::TrySendError::Full(out) | mpsc::TrySendError::Disconnected(out)) => Err(out),
        }
    }

    /// A round whose fates are back, if one is.
    pub fn take_done(&mut self) -> Option<Done> {
        let d = self.done.try_recv().ok()?;
        self.handed = self.handed.saturating_sub(1);
        Some(d)
    }
}

impl Drop for SendThread {
    fn drop(&mut self) {
        self.rounds = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
