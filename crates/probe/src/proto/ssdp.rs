//! SSDP: one unicast M-SEARCH to the target (never to the multicast group), one reply.

use clinicscan_model::{PortReason, PortState, ProbeError, ProbeErrorKind, Service, UpnpFacts};
use clinicscan_wire::ssdp as wire;

use super::ProbeContext;
use super::io::{self, mark_udp};

const NAME: &str = "ssdp";

/// Fills `service.facts.upnp`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let reply = io::udp_exchange(
        ctx,
        &wire::msearch(ctx.addr),
        ctx.max_bytes.min(wire::MAX_RESPONSE + 1),
    )
    .await;
    let bytes = match reply {
        Ok(b) => b,
        Err(e) => {
            mark_udp(service, &e, NAME);
            return;
        }
    };
    service.state = PortState::Open;
    service.reason = PortReason::UdpResponse;
    match wire::parse_response(&bytes) {
        Ok(r) => {
            service.protocol = Some("ssdp".to_string());
            service.facts.upnp = Some(UpnpFacts {
                server: r.server,
                location: r.location,
                usn: r.usn,
                st: r.st,
            });
        }
        Err(e) => service.probe_errors.push(ProbeError {
            probe: NAME.to_string(),
            kind: ProbeErrorKind::InvalidMessage,
            detail: e.to_string(),
        }),
    }
}
