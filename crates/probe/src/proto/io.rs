//! Bounded I/O shared by every probe: connect with a timeout, read with a deadline and a
//! byte budget, one UDP exchange. A hostile peer (tarpit, endless banner, one byte per
//! second) can cost a probe at most its deadline and its byte limit.

use std::io;
use std::net::SocketAddr;

use clinicscan_model::{PortReason, PortState, ProbeError, ProbeErrorKind, Service};
use clinicscan_wire::Frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use super::ProbeContext;

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
/// probe connects through here, so none of its connections comes closer than the pace.
pub(crate) async fn connect_to(ctx: &ProbeContext, addr: SocketAddr) -> Result<TcpStream, IoError> {
    if timeout_at(ctx.deadline, ctx.pace.wait()).await.is_err() {
        return Err(IoError::Timeout);
    }
    match timeout_at(step_deadline(ctx), TcpStream::connect(addr)).await {
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
/// the step deadline. A connected socket turns ICMP port unreachable into [`IoError::Refused`].
pub(crate) async fn udp_exchange(
    ctx: &ProbeContext,
    payload: &[u8],
    max_reply: usize,
) -> Result<Vec<u8>, IoError> {
    let bind: SocketAddr = if ctx.addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| IoError::Timeout)?
    } else {
        "[::]:0".parse().map_err(|_| IoError::Timeout)?
    };
    let sock = UdpSocket::bind(bind).await.map_err(IoError::Io)?;
    sock.connect(ctx.addr).await.map_err(IoError::Connect)?;
    udp_send_recv(ctx, &sock, payload, max_reply).await
}

/// One send and one bounded receive on an already connected UDP socket.
pub(crate) async fn udp_send_recv(
    ctx: &ProbeContext,
    sock: &UdpSocket,
    payload: &[u8],
    max_reply: usize,
) -> Result<Vec<u8>, IoError> {
    match sock.send(payload).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(IoError::Refused),
        Err(e) => return Err(IoError::Io(e)),
    }
    let mut buf = vec![0u8; max_reply.clamp(1, 65_535)];
    match timeout_at(step_deadline(ctx), sock.recv(&mut buf)).await {
        Err(_) => Err(IoError::Timeout),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(IoError::Refused),
        Ok(Err(e)) => Err(IoError::Io(e)),
        Ok(Ok(n)) => {
            buf.truncate(n);
            Ok(buf)
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
