//! OpenVPN: one P_CONTROL_HARD_RESET_CLIENT_V2 (UDP, or TCP with its length prefix) and
//! the server's reset reply. A server with tls-auth / tls-crypt drops the packet silently,
//! so silence is `responded: null` (cannot be told), never "not OpenVPN".

use clinicscan_model::{OpenVpnFacts, PortReason, PortState, ProbeError, ProbeErrorKind, Service};
use clinicscan_wire::openvpn as wire;

use super::ProbeContext;
use super::io::{self, Budget, FrameError, IoError, mark_udp};
use super::random_bytes;

const NAME: &str = "openvpn";

/// Fills `service.facts.openvpn`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service, tcp: bool) {
    let session: [u8; 8] = random_bytes();
    let request = wire::client_reset_v2(session, tcp);
    let packet = if tcp {
        match tcp_exchange(ctx, &request).await {
            Ok(p) => Ok(p),
            Err(FrameError::Io(e)) => Err(e),
            // A length prefix out of bounds: what came is not an OpenVPN answer.
            Err(FrameError::Wire(e)) => return service.probe_errors.push(io::invalid(NAME, e)),
        }
    } else {
        match io::udp_exchange(ctx, &request, ctx.max_bytes.min(wire::MAX_PACKET)).await {
            Ok(b) => {
                service.state = PortState::Open;
                service.reason = PortReason::UdpResponse;
                Ok(b)
            }
            Err(e) => Err(e),
        }
    };
    let packet = match packet {
        Ok(p) => p,
        Err(e) => {
            if tcp {
                let error = e.to_probe_error(NAME);
                match error.kind {
                    // Connected, then silence, a close or a reset (which of the last two we
                    // see is a race with our write): tls-auth/tls-crypt look like this.
                    ProbeErrorKind::Timeout | ProbeErrorKind::ConnectionClosed => {
                        service.facts.openvpn = Some(OpenVpnFacts {
                            responded: None,
                            opcode: None,
                        });
                        service.probe_errors.push(ProbeError {
                            probe: NAME.to_string(),
                            kind: ProbeErrorKind::NoReply,
                            detail: format!(
                                "no server reset ({e}); tls-auth/tls-crypt or not OpenVPN"
                            ),
                        });
                    }
                    _ => service.probe_errors.push(error),
                }
            } else {
                if matches!(e, IoError::Timeout) {
                    service.facts.openvpn = Some(OpenVpnFacts {
                        responded: None,
                        opcode: None,
                    });
                }
                mark_udp(service, &e, NAME);
            }
            return;
        }
    };
    let parsed = if tcp {
        wire::tcp_unframe(&packet).and_then(wire::parse_control)
    } else {
        wire::parse_control(&packet)
    };
    match parsed {
        Ok(p) if wire::is_server_reset_for(&p, session) => {
            service.protocol = Some("openvpn".to_string());
            service.facts.openvpn = Some(OpenVpnFacts {
                responded: Some(true),
                opcode: wire::opcode_name(p.opcode).map(str::to_string),
            });
        }
        Ok(p) => service.probe_errors.push(ProbeError {
            probe: NAME.to_string(),
            kind: ProbeErrorKind::InvalidMessage,
            detail: format!(
                "unexpected {} in reply to a client reset",
                wire::opcode_name(p.opcode).unwrap_or("opcode")
            ),
        }),
        Err(e) => service.probe_errors.push(ProbeError {
            probe: NAME.to_string(),
            kind: ProbeErrorKind::InvalidMessage,
            detail: e.to_string(),
        }),
    }
}

async fn tcp_exchange(ctx: &ProbeContext, request: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut stream = io::connect(ctx).await.map_err(FrameError::Io)?;
    io::write_all(ctx, &mut stream, request)
        .await
        .map_err(FrameError::Io)?;
    let mut buf = Vec::new();
    let mut budget = Budget::new(ctx.max_bytes.min(wire::MAX_PACKET + 2));
    let n = io::read_framed(ctx, &mut stream, &mut buf, &mut budget, wire::tcp_frame_len).await?;
    buf.truncate(n);
    Ok(buf)
}
