//! The FTP service probe: greeting, FEAT (is AUTH TLS offered?), then an anonymous login
//! attempt and QUIT; when AUTH TLS is offered, the TLS audit over it.
//!
//! `USER anonymous` (RFC 1635) is the only login clinicscan ever attempts over FTP:
//! anonymous FTP is public by definition, and whether a clinic server allows it is exactly
//! what the guideline asks. A `clinicscan@` address follows as PASS only where it cannot
//! fail — the server logged the user in at USER (230) or its 331 invites an anonymous
//! password (`wire::invites_anonymous_password`). A plain 331 ("Please specify the
//! password.") is what vsftpd says both with and without anonymous access, and without it
//! the PASS is a failed login ("[anonymous] FAIL LOGIN", counted by fail2ban): there the
//! probe quits and `anonymous` stays unknown. No other user name or password is ever sent,
//! and nothing is listed, read or stored after a login.

use std::future::Future;
use std::pin::Pin;

use clinicscan_model::{FtpFacts, ProbeError, ProbeErrorKind, Service, Software};
use clinicscan_wire::ftp as wire;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget, IoError, invalid, read_framed};

const PROBE: &str = "ftp";
/// The anonymous password: an address that names the scanner and reaches nobody.
const ANONYMOUS_PASSWORD: &str = "clinicscan@example.invalid";
/// Extra time allowed for the answer to PASS: servers delay a refused login.
const FAILED_LOGIN_DELAY: std::time::Duration = std::time::Duration::from_secs(5);

async fn command(
    ctx: &ProbeContext,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    budget: &mut Budget,
    line: Option<&str>,
) -> Result<wire::Reply, ProbeError> {
    if let Some(line) = line {
        io::write_all(ctx, stream, format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_probe_error(PROBE))?;
    }
    let n = read_framed(ctx, stream, buf, budget, wire::reply_complete)
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    let reply = wire::parse_reply(&buf[..n]).map_err(|e| invalid(PROBE, e));
    buf.drain(..n);
    reply
}

/// Fills `service.facts.ftp` (and `service.facts.tls` when AUTH TLS is offered).
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut budget = Budget::new(ctx.max_bytes);
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => return service.probe_errors.push(e.to_probe_error(PROBE)),
    };
    let mut buf = Vec::new();
    let greeting = match command(ctx, &mut stream, &mut buf, &mut budget, None).await {
        Ok(r) => r,
        Err(e) => return service.probe_errors.push(e),
    };
    service.protocol = Some("ftp".to_string());
    let banner = greeting.text();
    if let Some((product, version)) = wire::software_from_banner(&banner) {
        service.software = Some(Software {
            vendor: None,
            product,
            version,
            evidence: format!("FTP greeting: {banner}"),
        });
    }
    let mut facts = FtpFacts {
        banner,
        ..FtpFacts::default()
    };
    if greeting.code != 220 {
        service.probe_errors.push(ProbeError {
            probe: PROBE.to_string(),
            kind: ProbeErrorKind::PeerIncompatible,
            detail: format!("greeting {} {}", greeting.code, facts.banner),
        });
        service.facts.ftp = Some(facts);
        return;
    }
    let result = session(ctx, &mut stream, &mut buf, &mut budget, &mut facts).await;
    let _ = stream.shutdown().await;
    if let Err(e) = result {
        service.probe_errors.push(e);
    }
    if facts.auth_tls == Some(true) {
        match super::tls::audit(ctx, "starttls-ftp", Some(auth_tls_prelude)).await {
            Ok(tls) => service.facts.tls = Some(tls),
            Err(e) => service.probe_errors.push(e),
        }
    }
    service.facts.ftp = Some(facts);
}

async fn session(
    ctx: &ProbeContext,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    budget: &mut Budget,
    facts: &mut FtpFacts,
) -> Result<(), ProbeError> {
    let feat = command(ctx, stream, buf, budget, Some("FEAT")).await?;
    facts.auth_tls = match feat.code {
        211 => Some(wire::feat_offers_auth_tls(&feat)),
        // FEAT not implemented: AUTH support cannot be told without trying it
        _ => None,
    };
    let user = command(ctx, stream, buf, budget, Some("USER anonymous")).await?;
    facts.anonymous = match user.code {
        230 => Some(true),
        331 if wire::invites_anonymous_password(&user) => {
            let pass = format!("PASS {ANONYMOUS_PASSWORD}");
            // A server may still refuse and delay the answer (vsftpd + PAM: about 3 s); wait
            // that long, still within the probe's deadline.
            let patient = ProbeContext {
                io_timeout: ctx.io_timeout + FAILED_LOGIN_DELAY,
                ..ctx.clone()
            };
            let reply = command(&patient, stream, buf, budget, Some(&pass)).await?;
            match reply.code {
                230 | 202 => Some(true),
                530 => Some(false),
                _ => None,
            }
        }
        // A password is asked for without an invitation: a PASS could be a failed login.
        331 | 332 => None,
        530 => Some(false),
        _ => None,
    };
    let _ = command(ctx, stream, buf, budget, Some("QUIT")).await;
    Ok(())
}

/// Prelude for the TLS audit: a fresh connection brought through the greeting and
/// `AUTH TLS` (RFC 4217 §4) to the point where the ClientHello is due.
pub(super) fn auth_tls_prelude(
    ctx: &ProbeContext,
) -> Pin<Box<dyn Future<Output = Result<TcpStream, IoError>> + Send + '_>> {
    Box::pin(async move {
        let mut budget = Budget::new(ctx.max_bytes);
        let mut stream = io::connect(ctx).await?;
        let mut buf = Vec::new();
        for line in [None, Some("AUTH TLS")] {
            let reply = command(ctx, &mut stream, &mut buf, &mut budget, line)
                .await
                .map_err(|e| IoError::Io(std::io::Error::other(e.detail)))?;
            let want = if line.is_none() { 220 } else { 234 };
            if reply.code != want {
                return Err(IoError::Io(std::io::Error::other(format!(
                    "FTP reply {} {} where {want} was expected",
                    reply.code,
                    reply.text()
                ))));
            }
        }
        Ok(stream)
    })
}
