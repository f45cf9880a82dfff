//! PostgreSQL: one SSLRequest and its answer byte; then, on the same connection (inside TLS
//! when the server offered it), a StartupMessage as user `postgres` to database `postgres`
//! and the server's first answer, which names the authentication method pg_hba.conf chose.
//!
//! No password is ever sent. At a password request (cleartext, MD5, SCRAM) the probe hangs
//! up without answering, which PostgreSQL does not log (`auth_failed` exits quietly on
//! STATUS_EOF: libpq does the same whenever it has no password). After AuthenticationOk —
//! a login without any password, the finding — it sends Terminate. The user `postgres`
//! exists on nearly every server; a made-up role would make a trust line log FATAL "role
//! does not exist". A server whose pg_hba.conf has no line for the scanner logs FATAL "no
//! pg_hba.conf entry" for any StartupMessage: that is its refusal of the address, recorded
//! as `startup_error`.

use std::sync::Arc;

use clinicscan_model::{PostgresFacts, ProbeError, Service};
use clinicscan_wire::postgres::{self as wire, SslAnswer, StartupAnswer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::ProbeContext;
use super::io::{self, Budget};

const NAME: &str = "postgres";

/// Fills `service.facts.postgres`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => return service.probe_errors.push(e.to_probe_error(NAME)),
    };
    let mut budget = Budget::new(ctx.max_bytes.min(4 * wire::MAX_MESSAGE_LEN));
    let ssl = match ssl_request(ctx, &mut stream, &mut budget).await {
        Ok(ssl) => ssl,
        Err(e) => return service.probe_errors.push(e),
    };
    service.protocol = Some("postgresql".to_string());
    let mut facts = PostgresFacts {
        ssl_supported: ssl,
        ..PostgresFacts::default()
    };
    let answer = match ssl {
        Some(true) => {
            let connector =
                tokio_rustls::TlsConnector::from(Arc::new(super::rdp::accept_any_config()));
            let name = rustls::pki_types::ServerName::IpAddress(ctx.addr.ip().into());
            match tokio::time::timeout_at(io::step_deadline(ctx), connector.connect(name, stream))
                .await
            {
                Ok(Ok(mut tls)) => {
                    facts.auth_over_tls = Some(true);
                    startup(ctx, &mut tls, &mut budget).await
                }
                Ok(Err(e)) => Err(ProbeError {
                    probe: NAME.to_string(),
                    kind: clinicscan_model::ProbeErrorKind::PeerIncompatible,
                    detail: format!("TLS handshake after SSLRequest: {e}"),
                }),
                Err(_) => Err(io::IoError::Timeout.to_probe_error(NAME)),
            }
        }
        Some(false) => {
            facts.auth_over_tls = Some(false);
            startup(ctx, &mut stream, &mut budget).await
        }
        // refused outright: nothing more to ask
        None => {
            service.facts.postgres = Some(facts);
            return;
        }
    };
    match answer {
        Ok(StartupAnswer::Error { message, code }) => {
            facts.startup_error = Some(match (code, message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (None, Some(m)) => m,
                (Some(c), None) => c,
                (None, None) => "ErrorResponse".to_string(),
            });
        }
        Ok(a) => {
            facts.auth_method = a.method();
            if let StartupAnswer::Sasl(m) = a {
                facts.sasl_mechanisms = m;
            }
        }
        Err(e) => service.probe_errors.push(e),
    }
    service.facts.postgres = Some(facts);
}

/// SSLRequest and the answer: `Some(true)` 'S', `Some(false)` 'N', `None` an ErrorResponse
/// (the protocol is proven, TLS support is not told).
async fn ssl_request(
    ctx: &ProbeContext,
    stream: &mut tokio::net::TcpStream,
    budget: &mut Budget,
) -> Result<Option<bool>, ProbeError> {
    io::write_all(ctx, stream, &wire::SSL_REQUEST)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    let mut buf = Vec::new();
    let n = io::read_framed(ctx, stream, &mut buf, budget, wire::answer_len)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    match wire::parse_ssl_answer(&buf[..n]) {
        Ok(SslAnswer::Supported) => Ok(Some(true)),
        Ok(SslAnswer::NotSupported) => Ok(Some(false)),
        Ok(SslAnswer::Error(_)) => Ok(None),
        Err(e) => Err(io::invalid(NAME, e)),
    }
}

/// StartupMessage and the first answer; Terminate after AuthenticationOk, otherwise the
/// connection is dropped without a word.
async fn startup<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &ProbeContext,
    stream: &mut S,
    budget: &mut Budget,
) -> Result<StartupAnswer, ProbeError> {
    let hello = wire::startup_message(wire::STARTUP_USER, "postgres");
    io::write_all(ctx, stream, &hello)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    let mut buf = Vec::new();
    let n = io::read_framed(ctx, stream, &mut buf, budget, wire::message_complete)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    let answer = wire::parse_startup_answer(&buf[..n]).map_err(|e| io::invalid(NAME, e))?;
    if answer == StartupAnswer::Ok {
        let _ = io::write_all(ctx, stream, &wire::TERMINATE).await;
    }
    let _ = stream.shutdown().await;
    Ok(answer)
}
