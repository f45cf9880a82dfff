//! Bounded I/O shared by every probe: connect with a timeout, read with a deadline and a
//! byte budget, UDP requests sent again when no answer came within the host's measured
//! round trip. A hostile peer (tarpit, endless banner, one byte per second) can cost a probe
//! at most its deadline and its byte limit.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use clinicscan_model::{PortReason, PortState, ProbeError, ProbeErrorKind, Service};
use clinicscan_wire::Frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use super::ProbeContext;
use crate::pace::paced_connect;

/// Why bounded I/O stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IoError {
    /// The deadline passed.
    #[error("timed out")]
    Timeout,
    /// The peer closed the connection before the expected bytes arrived.
    #[error("connection closed by peer after {0} bytes")]
    Closed(usize),
    /// The peer sent more than the byte budget allows.
    #[error("peer sent more than {0} bytes")]
    TooLarge(usize),
    /// Connecting failed.
    #[error("connect failed: {0}")]
    Connect(io::Error),
    /// UDP: ICMP port unreachable came back.
    #[error("port unreachable")]
    Refused,
    /// Another socket error.
    #[error("{0}")]
    Io(io::Error),
}

impl IoError {
    /// The error fact for the Observation.
    pub(crate) fn to_probe_error(&self, probe: &str) -> ProbeError {
        let kind = match self {
            IoError::Timeout => ProbeErrorKind::Timeout,
            IoError::Closed(_) => ProbeErrorKind::ConnectionClosed,
            IoError::TooLarge(_) => ProbeErrorKind::TooLarge,
            // A reset while connecting comes after the handshake completed: the peer
            // accepted, then closed on us (a refused SYN is ECONNREFUSED).
            IoError::Connect(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                ProbeErrorKind::ConnectionClosed
            }
            IoError::Connect(_) | IoError::Refused => ProbeErrorKind::ConnectFailed,
            // After the handshake, a reset or a write into a closed socket is the peer
            // closing the connection, whichever of the two the race let us see.
            IoError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ) =>
            {
                ProbeErrorKind::ConnectionClosed
            }
            IoError::Io(_) => ProbeErrorKind::Local,
        };
        ProbeError {
            probe: probe.to_string(),
            kind,
            detail: self.to_string(),
        }
    }
}

/// The earlier of the probe's deadline and one I/O timeout from now.
pub(crate) fn step_deadline(ctx: &ProbeContext) -> Instant {
    ctx.deadline.min(Instant::now() + ctx.io_timeout)
}

/// Opens a TCP connection to the service, bounded by one I/O timeout and the deadline.
pub(crate) async fn connect(ctx: &ProbeContext) -> Result<TcpStream, IoError> {
    connect_to(ctx, ctx.addr).await
}

/// Opens a TCP connection to `addr`, bounded as [`connect`], at the host's pace: every
/// probe connects through here, so none of its connections comes closer than the pace (the
/// pace slot is held until the SYN has left).
pub(crate) async fn connect_to(ctx: &ProbeContext, addr: SocketAddr) -> Result<TcpStream, IoError> {
    let connecting = match timeout_at(ctx.deadline, paced_connect(&ctx.pace, addr)).await {
        Err(_) => return Err(IoError::Timeout),
        Ok(Err(e)) => return Err(IoError::Connect(e)),
        Ok(Ok(c)) => c,
    };
    match timeout_at(step_deadline(ctx), connecting.finish()).await {
        Err(_) => Err(IoError::Timeout),
        Ok(Err(e)) => Err(IoError::Connect(e)),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

/// Writes all of `bytes` before the step deadline.
pub(crate) async fn write_all<S: AsyncWrite + Unpin>(
    ctx: &ProbeContext,
    stream: &mut S,
    bytes: &[u8],
) -> Result<(), IoError> {
    match timeout_at(step_deadline(ctx), stream.write_all(bytes)).await {
        Err(_) => Err(IoError::Timeout),
        Ok(Err(e)) => Err(IoError::Io(e)),
        Ok(Ok(())) => Ok(()),
    }
}

/// A read buffer with a byte budget shared across reads.
#[derive(Debug)]
pub(crate) struct Budget {
    remaining: usize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Budget {
            remaining: limit,
            limit,
        }
    }

    /// Bytes still allowed.
    pub(crate) fn remaining(&self) -> usize {
        self.remaining
    }
}

/// Reads whatever arrives next (at least one byte), appending to `buf`, within the step
/// deadline and the budget.
pub(crate) async fn read_some<S: AsyncRead + Unpin>(
    ctx: &ProbeContext,
    stream: &mut S,
    buf: &mut Vec<u8>,
    budget: &mut Budget,
) -> Result<usize, IoError> {
    if budget.remaining == 0 {
        return Err(IoError::TooLarge(budget.limit));
    }
    let mut chunk = [0u8; 4096];
    let want = chunk.len().min(budget.remaining);
    match timeout_at(step_deadline(ctx), stream.read(&mut chunk[..want])).await {
        Err(_) => Err(IoError::Timeout),
        Ok(Err(e)) => Err(IoError::Io(e)),
        Ok(Ok(0)) => Err(IoError::Closed(buf.len())),
        Ok(Ok(n)) => {
            budget.remaining -= n;
            buf.extend_from_slice(&chunk[..n]);
            Ok(n)
        }
    }
}

/// Why reading one framed message stopped.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// Bounded I/O stopped.
    Io(IoError),
    /// The framing function rejected the bytes: what the peer sent is not the protocol.
    Wire(clinicscan_wire::Error),
}

impl FrameError {
    /// The error fact.
    pub(crate) fn to_probe_error(&self, probe: &str) -> ProbeError {
        match self {
            FrameError::Io(e) => e.to_probe_error(probe),
            FrameError::Wire(e) => invalid(probe, e),
        }
    }
}

/// An `InvalidMessage` error fact: the peer sent something that is not the protocol.
pub(crate) fn invalid(probe: &str, e: impl std::fmt::Display) -> ProbeError {
    ProbeError {
        probe: probe.to_string(),
        kind: ProbeErrorKind::InvalidMessage,
        detail: e.to_string(),
    }
}

/// Reads until the framing function `frame` (a `clinicscan_wire` framing function, see
/// [`clinicscan_wire::Frame`]) finds a whole message at the start of `buf`, within the step
/// deadline and the budget; returns the message's length. Bytes past it stay in `buf`.
pub(crate) async fn read_framed<S, F>(
    ctx: &ProbeContext,
    stream: &mut S,
    buf: &mut Vec<u8>,
    budget: &mut Budget,
    mut frame: F,
) -> Result<usize, FrameError>
where
    S: AsyncRead + Unpin,
    F: FnMut(&[u8]) -> Frame,
{
    loop {
        if let Some(n) = frame(buf).map_err(FrameError::Wire)? {
            return Ok(n);
        }
        read_some(ctx, stream, buf, budget)
            .await
            .map_err(FrameError::Io)?;
    }
}

/// Sends one UDP datagram to the service and waits for one reply (bounded in size), within
/// the step deadline, sending it again as [`recv_retrying`] does. A connected socket turns
/// ICMP port unreachable into [`IoError::Refused`].
pub(crate) async fn udp_exchange(
    ctx: &ProbeContext,
    payload: &[u8],
    max_reply: usize,
) -> Result<Vec<u8>, IoError> {
    let sock = udp_socket(ctx).await?;
    udp_send_recv(ctx, &sock, payload, max_reply).await
}

/// A UDP socket connected to the service.
pub(crate) async fn udp_socket(ctx: &ProbeContext) -> Result<UdpSocket, IoError> {
    let bind: SocketAddr = if ctx.addr.is_ipv4() {
        SocketAddr::from(([0u8; 4], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(bind).await.map_err(IoError::Io)?;
    sock.connect(ctx.addr).await.map_err(IoError::Connect)?;
    Ok(sock)
}

/// One request and one bounded reply on an already connected UDP socket, the request sent
/// again while no reply comes ([`recv_retrying`]).
pub(crate) async fn udp_send_recv(
    ctx: &ProbeContext,
    sock: &UdpSocket,
    payload: &[u8],
    max_reply: usize,
) -> Result<Vec<u8>, IoError> {
    udp_send(ctx, sock, payload).await?;
    let mut buf = vec![0u8; max_reply.clamp(1, 65_535)];
    let mut again = Retransmit::new(ctx);
    let n = recv_retrying(
        ctx,
        sock,
        &mut buf,
        step_deadline(ctx),
        &mut again,
        &[payload],
    )
    .await?;
    buf.truncate(n);
    Ok(buf)
}

/// Sends one datagram at the host's pace (a gentle device sees the gap between datagrams as
/// between connections). ICMP port unreachable from an earlier datagram is
/// [`IoError::Refused`].
pub(crate) async fn udp_send(
    ctx: &ProbeContext,
    sock: &UdpSocket,
    payload: &[u8],
) -> Result<(), IoError> {
    let Ok(slot) = timeout_at(ctx.deadline, ctx.pace.slot()).await else {
        return Err(IoError::Timeout);
    };
    let sent = sock.send(payload).await;
    drop(slot);
    match sent {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(IoError::Refused),
        Err(e) => Err(IoError::Io(e)),
    }
}

/// Sends of one UDP request at most: the first and two more. A lost request or reply is
/// the only reason to send again (a service that ignores us ignores the second too), so
/// the count stays small, and each waits longer than the last.
pub(crate) const UDP_SENDS: u32 = 3;

/// When a UDP request goes again: after the host's retransmission timeout (its measured
/// round trip, as the TCP port scan's timeout), doubled each time, at most [`UDP_SENDS`]
/// sends in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retransmit {
    next: Instant,
    interval: Duration,
    sends: u32,
}

impl Retransmit {
    /// Just after the first send.
    pub(crate) fn new(ctx: &ProbeContext) -> Self {
        Retransmit {
            next: Instant::now() + ctx.retransmit,
            interval: ctx.retransmit,
            sends: 1,
        }
    }

    /// When the current wait ends: the next send, or `deadline`.
    pub(crate) fn wait_until(&self, deadline: Instant) -> Instant {
        if self.sends < UDP_SENDS {
            self.next.min(deadline)
        } else {
            deadline
        }
    }

    /// A wait ended without a reply at `now`: whether to send again (counted).
    pub(crate) fn send_again(&mut self, now: Instant, deadline: Instant) -> bool {
        if self.sends >= UDP_SENDS || now >= deadline || now < self.next {
            return false;
        }
        self.sends += 1;
        self.interval *= 2;
        true
    }

    /// The requests went again (after their pace): the next wait starts now.
    pub(crate) fn sent(&mut self) {
        self.next = Instant::now() + self.interval;
    }
}

/// Receives one datagram before `deadline`. Each time the retransmission timeout passes
/// first, `requests` go again (paced). [`IoError::Timeout`] when the deadline passes.
pub(crate) async fn recv_retrying(
    ctx: &ProbeContext,
    sock: &UdpSocket,
    buf: &mut [u8],
    deadline: Instant,
    again: &mut Retransmit,
    requests: &[&[u8]],
) -> Result<usize, IoError> {
    loop {
        match timeout_at(again.wait_until(deadline), sock.recv(buf)).await {
            Ok(Ok(n)) => return Ok(n),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(IoError::Refused);
            }
            Ok(Err(e)) => return Err(IoError::Io(e)),
            Err(_) => {
                if !again.send_again(Instant::now(), deadline) {
                    return Err(IoError::Timeout);
                }
                for r in requests {
                    udp_send(ctx, sock, r).await?;
                }
                again.sent();
            }
        }
    }
}

/// Records a UDP probe's failure on the port: ICMP port unreachable closes it, silence
/// leaves it open|filtered with a `NoReply` error, anything else is a local error.
pub(crate) fn mark_udp(service: &mut Service, e: &IoError, probe: &str) {
    match e {
        IoError::Refused => {
            service.state = PortState::Closed;
            service.reason = PortReason::PortUnreachable;
        }
        IoError::Timeout => service.probe_errors.push(ProbeError {
            probe: probe.to_string(),
            kind: ProbeErrorKind::NoReply,
            detail: "no reply before the deadline".to_string(),
        }),
        other => service.probe_errors.push(other.to_probe_error(probe)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_connection_keeps_the_hosts_pace() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut ctx = ProbeContext {
            addr,
            deadline: Instant::now() + std::time::Duration::from_secs(5),
            io_timeout: std::time::Duration::from_secs(1),
            retransmit: std::time::Duration::from_millis(100),
            max_bytes: 1024,
            now: chrono::Utc::now(),
            server_name: None,
            snmp_communities: Vec::new(),
            pace: crate::pace::Pace::new(std::time::Duration::from_millis(60), None),
        };
        let start = Instant::now();
        for _ in 0..4 {
            connect(&ctx).await.unwrap();
        }
        // three gaps between four connections
        assert!(start.elapsed() >= std::time::Duration::from_millis(180));
        // A pace slot beyond the deadline is a timeout, not a wait past it.
        ctx.pace = crate::pace::Pace::new(std::time::Duration::from_secs(30), None);
        ctx.deadline = Instant::now() + std::time::Duration::from_millis(100);
        connect(&ctx).await.unwrap();
        assert!(matches!(connect(&ctx).await, Err(IoError::Timeout)));
        assert!(Instant::now() < ctx.deadline + std::time::Duration::from_millis(50));
    }

    fn udp_ctx(addr: SocketAddr, gap_ms: u64) -> ProbeContext {
        ProbeContext {
            addr,
            deadline: Instant::now() + Duration::from_secs(5),
            io_timeout: Duration::from_secs(2),
            retransmit: Duration::from_millis(100),
            max_bytes: 1024,
            now: chrono::Utc::now(),
            server_name: None,
            snmp_communities: Vec::new(),
            pace: crate::pace::Pace::new(Duration::from_millis(gap_ms), None),
        }
    }

    /// A service that ignores the first request (as a lost datagram looks): the request
    /// goes again after the retransmission timeout and the reply is read.
    #[tokio::test]
    async fn a_lost_udp_request_is_sent_again() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let seen = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut times = Vec::new();
            for i in 0..2 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], b"hello");
                times.push(Instant::now());
                if i == 1 {
                    server.send_to(b"world", from).await.unwrap();
                }
            }
            times
        });
        let ctx = udp_ctx(addr, 0);
        let reply = udp_exchange(&ctx, b"hello", 64).await.unwrap();
        assert_eq!(reply, b"world");
        let times = seen.await.unwrap();
        assert!(times[1] - times[0] >= Duration::from_millis(100));
    }

    /// Silence: three sends in all, each wait twice the last, then a timeout; a gentle
    /// host's gap holds between the sends.
    #[tokio::test]
    async fn udp_retries_are_bounded_and_paced() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let count = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut times = Vec::new();
            while let Ok(Ok((_, _))) =
                tokio::time::timeout(Duration::from_secs(2), server.recv_from(&mut buf)).await
            {
                times.push(Instant::now());
            }
            times
        });
        let ctx = udp_ctx(addr, 250);
        let start = Instant::now();
        assert!(matches!(
            udp_exchange(&ctx, b"x", 64).await,
            Err(IoError::Timeout)
        ));
        let took = start.elapsed();
        let times = count.await.unwrap();
        assert_eq!(times.len(), UDP_SENDS as usize);
        for w in times.windows(2) {
            assert!(
                w[1] - w[0] >= Duration::from_millis(250),
                "{:?}",
                w[1] - w[0]
            );
        }
        // the step deadline (2 s) ends it, not an endless wait
        assert!(took < Duration::from_millis(2500), "{took:?}");
    }

    #[test]
    fn a_reset_while_connecting_is_a_closed_connection_not_a_failed_connect() {
        let reset = IoError::Connect(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(
            reset.to_probe_error("smb").kind,
            ProbeErrorKind::ConnectionClosed
        );
        let refused = IoError::Connect(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            refused.to_probe_error("smb").kind,
            ProbeErrorKind::ConnectFailed
        );
    }
}
