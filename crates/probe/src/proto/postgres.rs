//! PostgreSQL: one SSLRequest, one answer byte, then close (never a TLS handshake or a
//! StartupMessage, so no login is attempted and nothing is logged as a failed login).

use clinicscan_model::{PostgresFacts, ProbeError, Service};
use clinicscan_wire::postgres::{self as wire, SslAnswer};

use super::ProbeContext;
use super::io::{self, Budget};

const NAME: &str = "postgres";

/// Fills `service.facts.postgres`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    match run(ctx).await {
        Ok(ssl) => {
            service.protocol = Some("postgresql".to_string());
            service.facts.postgres = Some(PostgresFacts { ssl_supported: ssl });
        }
        Err(e) => service.probe_errors.push(e),
    }
}

async fn run(ctx: &ProbeContext) -> Result<Option<bool>, ProbeError> {
    let mut stream = io::connect(ctx).await.map_err(|e| e.to_probe_error(NAME))?;
    io::write_all(ctx, &mut stream, &wire::SSL_REQUEST)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    let mut buf = Vec::new();
    let mut budget = Budget::new(ctx.max_bytes.min(wire::MAX_ERROR_LEN + 1));
    let n = io::read_framed(ctx, &mut stream, &mut buf, &mut budget, wire::answer_len)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    match wire::parse_ssl_answer(&buf[..n]) {
        Ok(SslAnswer::Supported) => Ok(Some(true)),
        Ok(SslAnswer::NotSupported) => Ok(Some(false)),
        // A PostgreSQL server that refuses the request outright: the protocol is proven,
        // TLS support is not told.
        Ok(SslAnswer::Error(_)) => Ok(None),
        Err(e) => Err(io::invalid(NAME, e)),
    }
}
