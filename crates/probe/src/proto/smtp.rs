//! SMTP with STARTTLS: read the greeting, `EHLO`, `STARTTLS`, then the TLS audit on a fresh
//! connection brought to the same point for each handshake (the audit's prelude).
//!
//! Nothing is sent after the TLS audit's ClientHello; no MAIL, no RCPT, nothing stored.

use clinicscan_model::{ProbeError, ProbeErrorKind, Service};
use clinicscan_wire::smtp::{MAX_REPLY, Reply, parse_reply, reply_complete};
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget, FrameError, IoError};

fn smtp_error(kind: ProbeErrorKind, detail: impl Into<String>) -> ProbeError {
    ProbeError {
        probe: "smtp".into(),
        kind,
        detail: detail.into(),
    }
}

#[derive(Debug)]
enum StartTlsError {
    Io(IoError),
    Protocol(String),
    NoStartTls,
}

impl StartTlsError {
    fn to_probe_error(&self) -> ProbeError {
        match self {
            StartTlsError::Io(e) => e.to_probe_error("smtp"),
            StartTlsError::Protocol(m) => smtp_error(ProbeErrorKind::InvalidMessage, m.clone()),
            StartTlsError::NoStartTls => {
                smtp_error(ProbeErrorKind::PeerIncompatible, "STARTTLS not offered")
            }
        }
    }
}

async fn reply(
    ctx: &ProbeContext,
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    budget: &mut Budget,
) -> Result<Reply, StartTlsError> {
    let n = io::read_framed(ctx, s, buf, budget, reply_complete)
        .await
        .map_err(|e| match e {
            FrameError::Io(e) => StartTlsError::Io(e),
            FrameError::Wire(e) => StartTlsError::Protocol(e.to_string()),
        })?;
    let r = parse_reply(&buf[..n]).map_err(|e| StartTlsError::Protocol(e.to_string()));
    buf.drain(..n);
    r
}

/// Greeting, EHLO, STARTTLS: returns the stream ready for a ClientHello and the greeting.
async fn starttls(ctx: &ProbeContext) -> Result<(TcpStream, Reply), StartTlsError> {
    let mut s = io::connect(ctx).await.map_err(StartTlsError::Io)?;
    let mut buf = Vec::new();
    let mut budget = Budget::new(4 * MAX_REPLY);
    let greeting = reply(ctx, &mut s, &mut buf, &mut budget).await?;
    if greeting.code != 220 {
        return Err(StartTlsError::Protocol(format!(
            "greeting {}",
            greeting.code
        )));
    }
    io::write_all(ctx, &mut s, b"EHLO clinicscan.invalid\r\n")
        .await
        .map_err(StartTlsError::Io)?;
    let ehlo = reply(ctx, &mut s, &mut buf, &mut budget).await?;
    if ehlo.code != 250 {
        return Err(StartTlsError::Protocol(format!(
            "EHLO answered {}",
            ehlo.code
        )));
    }
    if !ehlo
        .lines
        .iter()
        .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"))
    {
        return Err(StartTlsError::NoStartTls);
    }
    io::write_all(ctx, &mut s, b"STARTTLS\r\n")
        .await
        .map_err(StartTlsError::Io)?;
    let go = reply(ctx, &mut s, &mut buf, &mut budget).await?;
    if go.code != 220 {
        return Err(StartTlsError::Protocol(format!(
            "STARTTLS answered {}",
            go.code
        )));
    }
    if !buf.is_empty() {
        return Err(StartTlsError::Protocol(
            "data after the STARTTLS reply".into(),
        ));
    }
    Ok((s, greeting))
}

fn prelude(
    ctx: &ProbeContext,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<TcpStream, IoError>> + Send + '_>> {
    Box::pin(async move {
        match starttls(ctx).await {
            Ok((s, _)) => Ok(s),
            Err(StartTlsError::Io(e)) => Err(e),
            // The first exchange already checked this server: a change now is a refusal.
            Err(_) => Err(IoError::Closed(0)),
        }
    })
}

/// SMTP on the port: STARTTLS, then the TLS audit into `service.facts.tls`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    match starttls(ctx).await {
        Ok((stream, _greeting)) => {
            drop(stream);
            service.protocol = Some("smtp".to_string());
        }
        Err(e) => {
            if matches!(e, StartTlsError::NoStartTls) {
                service.protocol = Some("smtp".to_string());
            }
            service.probe_errors.push(e.to_probe_error());
            return;
        }
    }
    match super::tls::audit(ctx, "starttls-smtp", Some(prelude)).await {
        Ok(facts) => service.facts.tls = Some(facts),
        Err(mut e) => {
            e.probe = "smtp".into();
            service.probe_errors.push(e);
        }
    }
}
