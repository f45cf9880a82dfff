//! The SSH service probe: reads the server's identification line and its KEXINIT, then
//! closes. It sends only its own identification line; no key exchange is started.

use clinicscan_model::{ProbeError, ProbeErrorKind, Service, Software, SshFacts, WeakAlgorithm};
use clinicscan_wire::ssh as wire;
use tokio::io::{AsyncRead, AsyncWriteExt};

use super::ProbeContext;
use super::io::{self, Budget, IoError};

const PROBE: &str = "ssh";

/// Why reading one framed message stopped (shared by the remote-access probes).
#[derive(Debug)]
pub(super) enum FrameError<E> {
    /// Bounded I/O stopped.
    Io(IoError),
    /// The framing function rejected the bytes.
    Wire(E),
}

impl<E: std::fmt::Display> FrameError<E> {
    /// The error fact.
    pub(super) fn to_probe_error(&self, probe: &str) -> ProbeError {
        match self {
            FrameError::Io(e) => e.to_probe_error(probe),
            FrameError::Wire(e) => invalid(probe, e),
        }
    }
}

/// An `InvalidMessage` error fact.
pub(super) fn invalid(probe: &str, e: impl std::fmt::Display) -> ProbeError {
    ProbeError {
        probe: probe.to_string(),
        kind: ProbeErrorKind::InvalidMessage,
        detail: e.to_string(),
    }
}

/// Reads until the framing function `f` (a `wire` function returning `Ok(Some(len))` for a
/// whole message) accepts the bytes in `buf`; returns the message length.
pub(super) async fn read_framed<S, E, F>(
    ctx: &ProbeContext,
    stream: &mut S,
    buf: &mut Vec<u8>,
    budget: &mut Budget,
    mut f: F,
) -> Result<usize, FrameError<E>>
where
    S: AsyncRead + Unpin,
    F: FnMut(&[u8]) -> Result<Option<usize>, E>,
{
    loop {
        match f(buf) {
            Ok(Some(n)) => return Ok(n),
            Ok(None) => {}
            Err(e) => return Err(FrameError::Wire(e)),
        }
        io::read_some(ctx, stream, buf, budget)
            .await
            .map_err(FrameError::Io)?;
    }
}

/// Fills `service.facts.ssh` from a real handshake.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut budget = Budget::new(ctx.max_bytes);
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => return service.probe_errors.push(e.to_probe_error(PROBE)),
    };
    // Both sides may send their identification at once (RFC 4253 §4.2).
    if let Err(e) = io::write_all(ctx, &mut stream, wire::CLIENT_IDENT).await {
        return service.probe_errors.push(e.to_probe_error(PROBE));
    }
    let mut buf = Vec::new();
    let n = match read_framed(
        ctx,
        &mut stream,
        &mut buf,
        &mut budget,
        wire::ident_complete,
    )
    .await
    {
        Ok(n) => n,
        Err(e) => return service.probe_errors.push(e.to_probe_error(PROBE)),
    };
    let id = match wire::parse_identification(&buf[..n]) {
        Ok(id) => id,
        Err(e) => return service.probe_errors.push(invalid(PROBE, e)),
    };
    buf.drain(..n);
    service.protocol = Some("ssh".to_string());
    let (product, version) = wire::split_software(&id.software);
    service.software = Some(Software {
        vendor: None,
        product,
        version,
        evidence: format!("identification line: {}", id.line),
    });
    let mut facts = SshFacts {
        banner: id.line.clone(),
        protocol_version: id.proto_version.clone(),
        software: id.software.clone(),
        comments: id.comments.clone(),
        ..SshFacts::default()
    };
    match read_framed(
        ctx,
        &mut stream,
        &mut buf,
        &mut budget,
        wire::packet_complete,
    )
    .await
    {
        Ok(n) => match wire::parse_kexinit(&buf[..n]) {
            Ok(k) => {
                facts.weak = wire::weaknesses(&k)
                    .into_iter()
                    .map(|w| WeakAlgorithm {
                        kind: w.kind.to_string(),
                        name: w.name,
                        reason: w.reason.to_string(),
                    })
                    .collect();
                facts.kex = k.kex;
                facts.host_key = k.host_key;
                facts.ciphers = k.ciphers_c2s;
                facts.macs = k.macs_c2s;
                facts.compression = k.compression_c2s;
            }
            Err(e) => service.probe_errors.push(invalid(PROBE, e)),
        },
        Err(e) => service.probe_errors.push(e.to_probe_error(PROBE)),
    }
    let _ = stream.shutdown().await;
    service.facts.ssh = Some(facts);
}
