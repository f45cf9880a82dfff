//! The VNC (RFB) service probe: reads the server's ProtocolVersion, answers with the highest
//! version both speak and reads the security types (or the failure reason). Where the server
//! offers `None` it completes the handshake as any viewer would — chooses `None` and reads
//! the SecurityResult (3.8), or sends a shared ClientInit and reads ServerInit (3.3, 3.7) —
//! and closes: a successful connection, which a server's blacklist does not count (TigerVNC
//! counts every connection that ends before it authenticates; see `clinicscan_wire::vnc`).
//! With a password type it closes after the list: clinicscan never sends a password.
//!
//! A server that refuses the scanner itself ("Too many security failures") yields a
//! `RefusedByPeer` error with its words and no VNC facts: nothing was learnt this run.

use clinicscan_model::{ProbeError, ProbeErrorKind, Service, VncFacts, VncSecurityType};
use clinicscan_wire::vnc as wire;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget, invalid, read_framed};

const PROBE: &str = "vnc";

/// Fills `service.facts.vnc` from a real handshake.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut budget = Budget::new(ctx.max_bytes);
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => return service.probe_errors.push(e.to_probe_error(PROBE)),
    };
    let mut buf = Vec::new();
    let framed = read_framed(
        ctx,
        &mut stream,
        &mut buf,
        &mut budget,
        wire::version_complete,
    )
    .await;
    if let Err(e) = framed {
        return service.probe_errors.push(e.to_probe_error(PROBE));
    }
    let version = match wire::parse_version(&buf) {
        Ok(v) => v,
        Err(e) => return service.probe_errors.push(invalid(PROBE, e)),
    };
    buf.drain(..12);
    service.protocol = Some("vnc".to_string());
    let mut facts = VncFacts {
        protocol_version: version.text(),
        ..VncFacts::default()
    };
    let list_form = version.has_type_list();
    let result = match io::write_all(ctx, &mut stream, version.client_reply()).await {
        Err(e) => Err(e.to_probe_error(PROBE)),
        Ok(()) => read_framed(ctx, &mut stream, &mut buf, &mut budget, |b| {
            wire::security_complete(b, list_form)
        })
        .await
        .map_err(|e| e.to_probe_error(PROBE))
        .and_then(|n| match wire::parse_security(&buf, list_form) {
            Ok(Some((sec, _))) => Ok((sec, n)),
            Ok(None) => Err(invalid(PROBE, "incomplete security message")),
            Err(e) => Err(invalid(PROBE, e)),
        }),
    };
    match result {
        Ok((wire::Security::Types(types), n)) => {
            buf.drain(..n);
            facts.security_types = types
                .iter()
                .map(|&code| VncSecurityType {
                    code,
                    name: wire::security_type_name(code),
                })
                .collect();
            if types.contains(&wire::SECURITY_NONE) {
                let session = Session {
                    ctx,
                    stream: &mut stream,
                    buf: &mut buf,
                    budget: &mut budget,
                };
                match session.connect_without_password(version).await {
                    Ok(()) => facts.no_auth = Some(true),
                    Err(e) => {
                        // the server's own words, when it answered with a failure
                        if matches!(
                            e.kind,
                            ProbeErrorKind::RefusedByPeer | ProbeErrorKind::PeerIncompatible
                        ) {
                            facts.failure_reason = Some(e.detail.clone());
                        }
                        service.probe_errors.push(e);
                    }
                }
            } else {
                facts.no_auth = Some(false);
            }
        }
        Ok((wire::Security::Failure(reason), _)) if wire::is_refusal(&reason) => {
            // The refusal's version line is the server's shortest "go away" (TigerVNC
            // sends RFB 3.3 whatever it speaks): no fact of this run is the service's.
            let _ = stream.shutdown().await;
            return service.probe_errors.push(refused(reason));
        }
        Ok((wire::Security::Failure(reason), _)) => facts.failure_reason = Some(reason),
        Err(e) => service.probe_errors.push(e),
    }
    let _ = stream.shutdown().await;
    service.facts.vnc = Some(facts);
}

/// The server refuses this client: its words, as a `RefusedByPeer` error.
fn refused(reason: String) -> ProbeError {
    ProbeError {
        probe: PROBE.to_string(),
        kind: ProbeErrorKind::RefusedByPeer,
        detail: reason,
    }
}

/// The rest of one connection, after the security types.
struct Session<'a> {
    ctx: &'a ProbeContext,
    stream: &'a mut TcpStream,
    buf: &'a mut Vec<u8>,
    budget: &'a mut Budget,
}

impl Session<'_> {
    /// Completes the handshake with security type `None`: `Ok` once the server confirmed
    /// it (SecurityResult OK in 3.8+, ServerInit before). A failed SecurityResult is the
    /// server refusing (`RefusedByPeer` when its words say so, else `PeerIncompatible`).
    async fn connect_without_password(self, version: wire::Version) -> Result<(), ProbeError> {
        let ctx = self.ctx;
        // 3.3: the server chose `None` itself; 3.7+: the client chooses it
        if version.has_type_list() {
            io::write_all(ctx, self.stream, &wire::CHOOSE_NONE)
                .await
                .map_err(|e| e.to_probe_error(PROBE))?;
        }
        if version.has_security_result() {
            let n = read_framed(ctx, self.stream, self.buf, self.budget, |b| {
                wire::security_result_complete(b, true)
            })
            .await
            .map_err(|e| e.to_probe_error(PROBE))?;
            let result =
                wire::parse_security_result(&self.buf[..n], true).map_err(|e| invalid(PROBE, e))?;
            return match result {
                Some((wire::SecurityResult::Ok, _)) => Ok(()),
                Some((wire::SecurityResult::Failed(reason), _)) => {
                    let reason = reason.unwrap_or_else(|| "SecurityResult failed".to_string());
                    if wire::is_refusal(&reason) {
                        Err(refused(reason))
                    } else {
                        Err(ProbeError {
                            probe: PROBE.to_string(),
                            kind: ProbeErrorKind::PeerIncompatible,
                            detail: reason,
                        })
                    }
                }
                None => Err(invalid(PROBE, "incomplete SecurityResult")),
            };
        }
        // Before 3.8 no SecurityResult follows `None`: ServerInit is the proof.
        io::write_all(ctx, self.stream, &wire::CLIENT_INIT_SHARED)
            .await
            .map_err(|e| e.to_probe_error(PROBE))?;
        read_framed(
            ctx,
            self.stream,
            self.buf,
            self.budget,
            wire::server_init_complete,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_probe_error(PROBE))
    }
}
