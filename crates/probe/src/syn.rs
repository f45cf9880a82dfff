//! SYN scan (half-open) with raw packets: one TCP SYN per attempt from a reserved source
//! port; a SYN-ACK means open, an RST closed, an ICMP unreachable filtered. The kernel
//! answers the SYN-ACK with an RST itself (no socket owns the connection), so no
//! connection is ever completed and nothing reaches the service.
//!
//! Raw sockets through socket2 (safe API): IPPROTO_TCP to send and receive TCP, ICMP /
//! ICMPv6 to see unreachables, each read by one thread (100 ms read timeout, stopped on
//! drop). Replies are matched by (port, our initial sequence number): the ISN is a keyed
//! hash of the target and port, and a reply must acknowledge it (`ack = isn + 1`), or, for
//! an ICMP error, quote it.
//!
//! A fast scan answers faster than a busy machine reads: the sockets get a large receive
//! buffer, and the kernel's count of what they still dropped (SO_RXQ_OVFL) comes with every
//! packet read. A port that saw no answer while that count rose is not known to be silent:
//! its answer may have been among the dropped, and the port scan asks again.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinicscan_wire::packet::{
    SynKey, SynReply, icmp_unreachable, ipv4_payload, syn_packet, syn_segment, tcp_reply,
};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use tokio::sync::oneshot;

use crate::attempt::{Attempt, classify};
use crate::netinfo::source_for;
use crate::rtt::DiscoveryWait;

type Waiters = Arc<Mutex<HashMap<SynKey, oneshot::Sender<SynReply>>>>;

/// Raw SYN scanner, shared by every host of a scan.
pub(crate) struct SynScanner {
    tcp4: Option<Arc<Socket>>,
    tcp6: Option<Arc<Socket>>,
    /// The sockets take whole IP packets (IP_HDRINCL / IPV6_HDRINCL): see `open`.
    hdrincl4: bool,
    hdrincl6: bool,
    /// Sockets bound (never listening) to reserve the source port from other programs.
    _reserve: Vec<Socket>,
    src_port: u16,
    key: std::collections::hash_map::RandomState,
    waiters: Waiters,
    /// Packets the receiving sockets dropped (buffer full), summed over the sockets.
    drops: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// Source address per destination (see `source`).
    sources: Mutex<HashMap<IpAddr, IpAddr>>,
}

impl std::fmt::Debug for SynScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynScanner")
            .field("src_port", &self.src_port)
            .finish_non_exhaustive()
    }
}

impl Drop for SynScanner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Receive buffer of each raw socket (the kernel doubles it). A 1,000-port SYN scan of a
/// /24 answers 60,000 packets a second; at ~1 KiB of kernel memory each, the default
/// 208 KiB holds 3 ms of them, 8 MiB about a quarter of a second of the reader not running.
const RECV_BUFFER: usize = 8 << 20;

fn raw(domain: Domain, proto: Protocol) -> io::Result<Arc<Socket>> {
    let s = Socket::new(domain, Type::RAW, Some(proto))?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    s.set_write_timeout(Some(Duration::from_millis(100)))?;
    // Raw sockets mean CAP_NET_RAW, usually root, who may pass net.core.rmem_max; else
    // the plain option gets what rmem_max allows.
    if setsockopt(&s, sockopt::RcvBufForce, &RECV_BUFFER).is_err() {
        let _ = s.set_recv_buffer_size(RECV_BUFFER);
    }
    // Without the drop count (never seen on Linux) a lost answer is a timeout, as before.
    let _ = setsockopt(&s, sockopt::RxqOvfl, &1);
    Ok(Arc::new(s))
}

/// One packet read from a raw socket: its length and the socket's drop count so far (when
/// the kernel sent it).
fn read_packet(
    sock: &Socket,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> nix::Result<(usize, Option<u32>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(cmsg), MsgFlags::empty())?;
    let drops = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::RxqOvfl(n) => Some(n),
        _ => None,
    });
    Ok((msg.bytes, drops))
}

fn spawn_reader(
    name: &str,
    sock: Arc<Socket>,
    stop: Arc<AtomicBool>,
    drops: Arc<AtomicU64>,
    mut handle: impl FnMut(&[u8]) + Send + 'static,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut buf = vec![0u8; 4096];
            let mut cmsg = nix::cmsg_space!(u32);
            // The kernel's count is per socket and since its creation: add what it grew by.
            let mut seen = 0u32;
            while !stop.load(Ordering::Relaxed) {
                match read_packet(&sock, &mut buf, &mut cmsg) {
                    Ok((n, count)) => {
                        if let Some(c) = count
                            && c != seen
                        {
                            drops.fetch_add(u64::from(c.wrapping_sub(seen)), Ordering::Relaxed);
                            seen = c;
                        }
                        if let Some(pkt) = buf.get(..n) {
                            handle(pkt);
                        }
                    }
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
        .map(|_| ())
}

fn deliver(w: &Waiters, key: SynKey, reply: SynReply) {
    if let Ok(mut m) = w.lock()
        && let Some(tx) = m.remove(&key)
    {
        let _ = tx.send(reply);
    }
}

impl SynScanner {
    /// Opens the raw sockets and reserves a source port; `Err` without privilege.
    pub fn open() -> io::Result<Self> {
        let tcp4 = raw(Domain::IPV4, Protocol::TCP);
        let tcp6 = raw(Domain::IPV6, Protocol::TCP);
        let (tcp4, tcp6) = match (tcp4, tcp6) {
            (Err(e), Err(_)) => return Err(e),
            (a, b) => (a.ok(), b.ok()),
        };
        // Reserve one port number on both families.
        let r4 = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        r4.bind(&SockAddr::from(SocketAddr::from(([0u8; 4], 0))))?;
        let src_port = r4
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .ok_or_else(|| io::Error::other("no local port"))?;
        let mut reserve = vec![r4];
        if let Ok(r6) = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)) {
            let _ = r6.set_only_v6(true);
            if r6
                .bind(&SockAddr::from(SocketAddr::from(([0u16; 8], src_port))))
                .is_ok()
            {
                reserve.push(r6);
            }
        }
        // Whole packets: without the header included the kernel builds it under the socket
        // lock and keeps that lock while the packet travels the local stack, so the
        // runtime's threads wait on each other's sends; with it they send side by side.
        let hdrincl4 = tcp4
            .as_ref()
            .is_some_and(|s| s.set_header_included_v4(true).is_ok());
        let hdrincl6 = tcp6
            .as_ref()
            .is_some_and(|s| s.set_header_included_v6(true).is_ok());
        // The raw TCP sockets get a copy of every TCP segment the host receives; a connect
        // scan alongside would wake the readers 40,000 times for nothing. A filter in the
        // kernel keeps only segments to our reserved port. Without it (never seen) the
        // readers still match by port and sequence number, only slower.
        if let Some(s) = &tcp4 {
            let _ = s.attach_filter(&port_filter(src_port, true));
        }
        if let Some(s) = &tcp6 {
            let _ = s.attach_filter(&port_filter(src_port, false));
        }
        let waiters: Waiters = Arc::default();
        let drops = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        if let Some(s) = &tcp4 {
            let w = waiters.clone();
            spawn_reader(
                "syn4-rx",
                s.clone(),
                stop.clone(),
                drops.clone(),
                move |pkt| {
                    if let Some((key, r)) =
                        ipv4_payload(pkt).and_then(|(_, t)| tcp_reply(t, src_port))
                    {
                        deliver(&w, key, r);
                    }
                },
            )?;
            let icmp = raw(Domain::IPV4, Protocol::ICMPV4)?;
            let w = waiters.clone();
            spawn_reader("syn4-icmp", icmp, stop.clone(), drops.clone(), move |pkt| {
                if let Some(key) =
                    ipv4_payload(pkt).and_then(|(_, i)| icmp_unreachable(false, i, src_port))
                {
                    deliver(&w, key, SynReply::Unreachable);
                }
            })?;
        }
        if let Some(s) = &tcp6 {
            let w = waiters.clone();
            spawn_reader(
                "syn6-rx",
                s.clone(),
                stop.clone(),
                drops.clone(),
                move |pkt| {
                    if let Some((key, r)) = tcp_reply(pkt, src_port) {
                        deliver(&w, key, r);
                    }
                },
            )?;
            if let Ok(icmp6) = raw(Domain::IPV6, Protocol::ICMPV6) {
                let w = waiters.clone();
                spawn_reader(
                    "syn6-icmp",
                    icmp6,
                    stop.clone(),
                    drops.clone(),
                    move |pkt| {
                        if let Some(key) = icmp_unreachable(true, pkt, src_port) {
                            deliver(&w, key, SynReply::Unreachable);
                        }
                    },
                )?;
            }
        }
        Ok(SynScanner {
            tcp4,
            tcp6,
            hdrincl4,
            hdrincl6,
            _reserve: reserve,
            src_port,
            key: std::collections::hash_map::RandomState::new(),
            waiters,
            drops,
            stop,
            sources: Mutex::new(HashMap::new()),
        })
    }

    fn isn(&self, dst: IpAddr, port: u16, attempt: u32) -> u32 {
        let mut h = self.key.build_hasher();
        h.write(&match dst {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        });
        h.write_u16(port);
        h.write_u32(attempt);
        h.finish() as u32
    }

    /// Sends one SYN; the receiver of its answer, or the attempt's outcome when it could
    /// not be sent.
    fn send(
        &self,
        dst: IpAddr,
        port: u16,
        attempt: u32,
    ) -> Result<(SynKey, oneshot::Receiver<SynReply>), Attempt> {
        let (sock, hdrincl) = match dst {
            IpAddr::V4(_) => (self.tcp4.as_ref(), self.hdrincl4),
            IpAddr::V6(_) => (self.tcp6.as_ref(), self.hdrincl6),
        };
        let (Some(sock), Some(src)) = (sock, self.source(dst)) else {
            return Err(Attempt::Local(io::Error::other(
                "no raw socket or route for this family",
            )));
        };
        let seq = self.isn(dst, port, attempt);
        let build = if hdrincl { syn_packet } else { syn_segment };
        let Some(seg) = build(
            SocketAddr::new(src, self.src_port),
            SocketAddr::new(dst, port),
            seq,
        ) else {
            return Err(Attempt::Local(io::Error::other("cannot build SYN")));
        };
        let (tx, rx) = oneshot::channel();
        match self.waiters.lock() {
            Ok(mut m) => {
                m.insert((port, seq), tx);
            }
            Err(_) => return Err(Attempt::Local(io::Error::other("poisoned"))),
        }
        if let Err(e) = sock.send_to(&seg, &SockAddr::from(SocketAddr::new(dst, 0))) {
            self.forget((port, seq));
            return Err(classify(&e));
        }
        Ok(((port, seq), rx))
    }

    /// Our source address towards `dst`, looked up once per destination (the lookup is a
    /// socket, a connect and a close: too dear for every SYN of a 1,000-port scan).
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

    fn forget(&self, key: SynKey) {
        if let Ok(mut m) = self.waiters.lock() {
            m.remove(&key);
        }
    }

    /// One SYN and the wait for its answer.
    pub async fn probe(&self, dst: IpAddr, port: u16, attempt: u32, timeout: Duration) -> Attempt {
        let (key, rx) = match self.send(dst, port, attempt) {
            Ok(sent) => sent,
            Err(a) => return a,
        };
        let _pending = Pending { scanner: self, key };
        outcome(tokio::time::timeout(timeout, rx).await.ok())
    }

    /// Packets the receiving sockets have dropped so far (their buffer was full): an
    /// answer may have been among them.
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    /// One SYN as a discovery ping: waits as long as the scan's discovery wait says.
    pub async fn ping(&self, dst: IpAddr, port: u16, wait: &DiscoveryWait) -> Attempt {
        let start = tokio::time::Instant::now();
        let (key, rx) = match self.send(dst, port, PING_ATTEMPT) {
            Ok(sent) => sent,
            Err(a) => return a,
        };
        let _pending = Pending { scanner: self, key };
        outcome(wait.until(start, rx).await)
    }
}

/// A classic BPF program accepting only TCP segments to `port`. An IPv4 raw socket sees
/// the IP header first (its length is in the low nibble of byte 0); an IPv6 one sees the
/// TCP header only.
fn port_filter(port: u16, ipv4: bool) -> Vec<SockFilter> {
    // linux/filter.h: LD/LDX/JMP/RET classes, H/B sizes, ABS/IND/MSH modes, JEQ, K.
    const LDX_B_MSH: u16 = 0x01 | 0x10 | 0xa0;
    const LD_H_IND: u16 = 0x08 | 0x40;
    const LD_H_ABS: u16 = 0x08 | 0x20;
    const JEQ_K: u16 = 0x05 | 0x10;
    const RET_K: u16 = 0x06;
    let mut prog = Vec::with_capacity(5);
    if ipv4 {
        prog.push(SockFilter::new(LDX_B_MSH, 0, 0, 0)); // x = IP header length
        prog.push(SockFilter::new(LD_H_IND, 0, 0, 2)); // a = TCP destination port
    } else {
        prog.push(SockFilter::new(LD_H_ABS, 0, 0, 2));
    }
    prog.push(SockFilter::new(JEQ_K, 0, 1, u32::from(port)));
    prog.push(SockFilter::new(RET_K, 0, 0, 0x0004_0000)); // keep the segment
    prog.push(SockFilter::new(RET_K, 0, 0, 0)); // drop it
    prog
}

/// The attempt number that keys discovery pings: their sequence numbers never collide
/// with a port scan's attempts at the same port.
const PING_ATTEMPT: u32 = u32::MAX;

/// Removes a SYN's waiter however its wait ends (answer, timeout, or the task aborted
/// because another ping of the host answered first).
struct Pending<'a> {
    scanner: &'a SynScanner,
    key: SynKey,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.scanner.forget(self.key);
    }
}

fn outcome(r: Option<Result<SynReply, oneshot::error::RecvError>>) -> Attempt {
    match r {
        Some(Ok(SynReply::SynAck)) => Attempt::Open,
        Some(Ok(SynReply::Rst)) => Attempt::Closed,
        Some(Ok(SynReply::Unreachable)) => Attempt::Unreachable,
        _ => Attempt::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader counts what the kernel dropped for a full buffer. A UDP socket on
    /// loopback stands in for the raw socket (same option, same control message, no root).
    #[test]
    fn the_reader_counts_packets_the_full_buffer_dropped() {
        let rx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        rx.bind(&SockAddr::from(
            "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        ))
        .unwrap();
        rx.set_recv_buffer_size(4096).unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        setsockopt(&rx, sockopt::RxqOvfl, &1).unwrap();
        let to = rx.local_addr().unwrap().as_socket().unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        const SENT: u64 = 2000;
        for i in 0..SENT {
            tx.send_to(&i.to_be_bytes(), to).unwrap();
        }
        let (got, drops, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let g = got.clone();
        spawn_reader(
            "test-rx",
            Arc::new(rx),
            stop.clone(),
            drops.clone(),
            move |p| {
                assert_eq!(p.len(), 8);
                g.fetch_add(1, Ordering::Relaxed);
            },
        )
        .unwrap();
        // The buffer held a few; one more packet after the reader drained it brings the
        // count up to date (the kernel sends it with each packet read).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut last = 0;
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            let now = got.load(Ordering::Relaxed);
            if now > 0 && now == last {
                break;
            }
            last = now;
        }
        tx.send_to(&[0; 8], to).unwrap();
        while std::time::Instant::now() < deadline
            && got.load(Ordering::Relaxed) + drops.load(Ordering::Relaxed) < SENT + 1
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        let (got, drops) = (got.load(Ordering::Relaxed), drops.load(Ordering::Relaxed));
        assert!(got > 0 && drops > 0, "read {got}, dropped {drops}");
        assert_eq!(got + drops, SENT + 1, "read {got}, dropped {drops}");
    }
}
