//! The VNC (RFB) service probe: reads the server's ProtocolVersion, answers with the highest
//! version both speak, reads the security types (or the failure reason), then closes without
//! choosing a type: clinicscan never authenticates.

use clinicscan_model::{Service, VncFacts, VncSecurityType};
use clinicscan_wire::vnc as wire;
use tokio::io::AsyncWriteExt;

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
        .and_then(|_| match wire::parse_security(&buf, list_form) {
            Ok(Some((sec, _))) => Ok(sec),
            Ok(None) => Err(invalid(PROBE, "incomplete security message")),
            Err(e) => Err(invalid(PROBE, e)),
        }),
    };
    match result {
        Ok(wire::Security::Types(types)) => {
            facts.no_auth = Some(types.contains(&1));
            facts.security_types = types
                .into_iter()
                .map(|code| VncSecurityType {
                    code,
                    name: wire::security_type_name(code),
                })
                .collect();
        }
        Ok(wire::Security::Failure(reason)) => facts.failure_reason = Some(reason),
        Err(e) => service.probe_errors.push(e),
    }
    let _ = stream.shutdown().await;
    service.facts.vnc = Some(facts);
}
