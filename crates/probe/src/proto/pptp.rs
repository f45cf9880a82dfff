//! PPTP: Start-Control-Connection-Request, read the Reply, then Stop-Control-Connection
//! so the server frees the control connection at once.

use clinicscan_model::{PptpFacts, ProbeError, Service};
use clinicscan_wire::pptp as wire;
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget};

const NAME: &str = "pptp";

/// Fills `service.facts.pptp`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => {
            service.probe_errors.push(e.to_probe_error(NAME));
            return;
        }
    };
    let reply = match start(ctx, &mut stream).await {
        Ok(r) => r,
        Err(e) => {
            service.probe_errors.push(e);
            return;
        }
    };
    // Polite close: Stop-Control-Connection-Request, and read the reply if it comes.
    if reply.result_code == 1
        && io::write_all(ctx, &mut stream, &wire::stop_request())
            .await
            .is_ok()
    {
        let mut buf = Vec::new();
        let mut budget = Budget::new(wire::MAX_MESSAGE);
        let _ = io::read_framed(ctx, &mut stream, &mut buf, &mut budget, wire::message_len).await;
    }
    service.protocol = Some("pptp".to_string());
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    service.facts.pptp = Some(PptpFacts {
        result_code: reply.result_code,
        hostname: non_empty(reply.hostname),
        vendor: non_empty(reply.vendor),
        firmware: Some(reply.firmware),
        protocol_version: Some(format!("{}.{}", reply.version.0, reply.version.1)),
    });
}

async fn start(ctx: &ProbeContext, stream: &mut TcpStream) -> Result<wire::StartReply, ProbeError> {
    io::write_all(
        ctx,
        stream,
        &wire::start_request("clinicscan", "clinicscan"),
    )
    .await
    .map_err(|e| e.to_probe_error(NAME))?;
    let mut buf = Vec::new();
    let mut budget = Budget::new(ctx.max_bytes.min(wire::MAX_MESSAGE));
    let n = io::read_framed(ctx, stream, &mut buf, &mut budget, wire::message_len)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    wire::parse_start_reply(&buf[..n]).map_err(|e| io::invalid(NAME, e))
}
