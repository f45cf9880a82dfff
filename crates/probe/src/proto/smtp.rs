//! SMTP with STARTTLS: read the greeting, `EHLO`, `STARTTLS`, then the TLS audit on a fresh
//! connection brought to the same point for each handshake (the audit's prelude).
//!
//! Nothing is sent after the TLS audit's ClientHello; no MAIL, no RCPT, nothing stored.

use clinicscan_model::{ProbeError, ProbeErrorKind, Service};
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget, IoError};

/// The longest reply read (all lines of one multi-line reply).
const MAX_REPLY: usize = 8 * 1024;

/// Framing: `Some(len)` once `buf` holds a whole reply (its last line is `ddd ` or `ddd`
/// then CR LF). A reply longer than [`MAX_REPLY`] is "complete" so the parser reports it.
pub(crate) fn reply_complete(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
        let line = &buf[start..start + nl];
        let end = start + nl + 1;
        if line.len() < 4 || line[3] != b'-' {
            return Some(end);
        }
        start = end;
    }
    (buf.len() > MAX_REPLY).then_some(buf.len())
}

/// A reply: its code and its lines' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

/// Parses one whole reply.
pub(crate) fn parse_reply(buf: &[u8]) -> Result<Reply, String> {
    if buf.len() > MAX_REPLY {
        return Err("reply longer than 8 KiB".into());
    }
    let text = String::from_utf8_lossy(buf);
    let mut code = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let c: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| {
                format!(
                    "not an SMTP reply: {:?}",
                    line.chars().take(20).collect::<String>()
                )
            })?;
        if *code.get_or_insert(c) != c {
            return Err("reply lines with different codes".into());
        }
        lines.push(line.get(4..).unwrap_or("").to_string());
    }
    Ok(Reply {
        code: code.ok_or("empty reply")?,
        lines,
    })
}

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
    let n = io::read_until(ctx, s, buf, budget, reply_complete)
        .await
        .map_err(StartTlsError::Io)?;
    let r = parse_reply(&buf[..n]).map_err(StartTlsError::Protocol);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_framing_waits_for_the_last_line() {
        assert_eq!(reply_complete(b"250-a\r\n250-STARTTLS\r\n"), None);
        assert_eq!(reply_complete(b"250-a\r\n250 OK\r\nX"), Some(15));
        assert_eq!(reply_complete(b"220 hi\r\n"), Some(8));
        assert_eq!(reply_complete(&[b'x'; 9000]), Some(9000));
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/tls/",
                $name
            ))
        };
    }

    #[test]
    fn recorded_aiosmtpd_replies() {
        let g = fixture!("smtp-aiosmtpd-greeting.txt");
        assert_eq!(reply_complete(g), Some(g.len()));
        let r = parse_reply(g).unwrap();
        assert_eq!(
            (r.code, r.lines[0].as_str()),
            (220, "localhost Python SMTP 1.4.3")
        );
        let e = fixture!("smtp-aiosmtpd-ehlo.txt");
        for cut in 0..e.len() {
            assert_eq!(reply_complete(&e[..cut]), None);
        }
        let r = parse_reply(e).unwrap();
        assert_eq!(r.code, 250);
        assert!(r.lines.iter().any(|l| l == "STARTTLS"));
        let r = parse_reply(fixture!("smtp-aiosmtpd-starttls.txt")).unwrap();
        assert_eq!(r.code, 220);
    }

    #[test]
    fn reply_parses_multiline_ehlo() {
        let r =
            parse_reply(b"250-mx.lab Hello\r\n250-SIZE 33554432\r\n250-STARTTLS\r\n250 HELP\r\n")
                .unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(
            r.lines,
            vec!["mx.lab Hello", "SIZE 33554432", "STARTTLS", "HELP"]
        );
        assert!(parse_reply(b"SSH-2.0-OpenSSH_9.2\r\n").is_err());
        assert!(parse_reply(b"250-a\r\n220 b\r\n").is_err());
    }
}
