//! The HTTP(S) probe: `GET /` as a browser would (HTTP/1.1, Host, `User-Agent:
//! clinicscan/<version>`, `Connection: close`), at most two same-host redirects, then plain
//! GETs of the few login pages in [`wire::http::SIGNATURES`] that identify SSL-VPN portals
//! (HTTPS only) — never a POST, never a credential.
//!
//! HTTPS uses rustls with the facts-only verifier of [`super::tls`] (devices in a clinic
//! mostly have self-signed certificates; the TLS audit reports on them separately). A server
//! that speaks only TLS < 1.2, which rustls refuses, yields a `ProbeError` saying so.

use clinicscan_model::{
    HttpFacts, ProbeError, ProbeErrorKind, Service, Software, TlsVersion, WebProduct,
};
use clinicscan_wire::http::{
    self as wire, Response, SIGNATURES, Target, parse_response, resolve_location, response_complete,
};
use tokio::io::{AsyncRead, AsyncWrite};

use super::ProbeContext;
use super::io::{self, Budget, FrameError, IoError};

/// The most bytes read from one response.
const MAX_RESPONSE: usize = 256 * 1024;
/// Redirects followed at most (same host only).
const MAX_REDIRECTS: usize = 2;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

fn user_agent() -> String {
    format!("clinicscan/{}", env!("CARGO_PKG_VERSION"))
}

fn probe_error(kind: ProbeErrorKind, detail: impl Into<String>) -> ProbeError {
    ProbeError {
        probe: "http".into(),
        kind,
        detail: detail.into(),
    }
}

/// Why a TLS connection for HTTPS failed, as an error fact.
fn tls_connect_error(e: &std::io::Error) -> ProbeError {
    use rustls::{AlertDescription, Error as TlsErr, PeerIncompatible};
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<TlsErr>());
    match inner {
        Some(TlsErr::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13))
        | Some(TlsErr::AlertReceived(AlertDescription::ProtocolVersion)) => probe_error(
            ProbeErrorKind::PeerIncompatible,
            "the server speaks only TLS below 1.2 (page not read; see the TLS audit)",
        ),
        Some(TlsErr::InvalidMessage(m)) => {
            probe_error(ProbeErrorKind::InvalidMessage, format!("TLS: {m:?}"))
        }
        Some(other) => probe_error(ProbeErrorKind::PeerIncompatible, format!("TLS: {other}")),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof
            || e.kind() == std::io::ErrorKind::ConnectionReset =>
        {
            probe_error(
                ProbeErrorKind::ConnectionClosed,
                format!("TLS handshake: {e}"),
            )
        }
        None => probe_error(
            ProbeErrorKind::InvalidMessage,
            format!("TLS handshake: {e}"),
        ),
    }
}

async fn open(ctx: &ProbeContext, target: &Target) -> Result<Box<dyn Stream>, ProbeError> {
    let addr = std::net::SocketAddr::new(ctx.addr.ip(), target.port);
    let tcp = io::connect_to(ctx, addr)
        .await
        .map_err(|e| e.to_probe_error("http"))?;
    if target.scheme != "https" {
        return Ok(Box::new(tcp));
    }
    let config = super::tls::facts_only_client_config(&[b"http/1.1"])
        .ok_or_else(|| probe_error(ProbeErrorKind::Local, "no TLS configuration"))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = super::tls::rustls_server_name(ctx);
    match tokio::time::timeout_at(io::step_deadline(ctx), connector.connect(name, tcp)).await {
        Err(_) => Err(probe_error(
            ProbeErrorKind::Timeout,
            "TLS handshake timed out",
        )),
        Ok(Err(e)) => Err(tls_connect_error(&e)),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

fn host_header(ctx: &ProbeContext, target: &Target) -> String {
    let default = if target.scheme == "https" { 443 } else { 80 };
    let host = match (&ctx.server_name, ctx.addr.ip()) {
        (Some(n), _) => n.clone(),
        (None, std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        (None, ip) => ip.to_string(),
    };
    if target.port == default {
        host
    } else {
        format!("{host}:{}", target.port)
    }
}

/// One GET; the response as far as it arrived within the limits.
async fn get(
    ctx: &ProbeContext,
    target: &Target,
    budget: &mut usize,
) -> Result<Response, ProbeError> {
    if *budget == 0 {
        return Err(probe_error(ProbeErrorKind::TooLarge, "byte limit reached"));
    }
    let mut stream = open(ctx, target).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: text/html,*/*;q=0.8\r\nConnection: close\r\n\r\n",
        target.path,
        host_header(ctx, target),
        user_agent()
    );
    io::write_all(ctx, &mut stream, request.as_bytes())
        .await
        .map_err(|e| e.to_probe_error("http"))?;
    let limit = MAX_RESPONSE.min(*budget);
    let mut b = Budget::new(limit);
    let mut buf = Vec::new();
    let read = io::read_framed(ctx, &mut stream, &mut buf, &mut b, response_complete).await;
    *budget -= limit - b.remaining();
    match read {
        Ok(n) => buf.truncate(n),
        // A header block past the limit: the parser below says what the peer sent.
        Err(FrameError::Wire(_)) => {}
        // Connection: close — the end of the body is the end of the connection; a body cut
        // at the byte limit is still a page to read the title from.
        Err(FrameError::Io(IoError::Closed(_) | IoError::TooLarge(_))) if !buf.is_empty() => {}
        Err(FrameError::Io(IoError::Io(e)))
            if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(FrameError::Io(IoError::Timeout)) if wire::response_head_complete(&buf) => {}
        Err(e) => return Err(e.to_probe_error("http")),
    }
    parse_response(&buf).map_err(|e| {
        let kind = match e {
            clinicscan_wire::Error::TooLarge { .. } | clinicscan_wire::Error::TooMany { .. } => {
                ProbeErrorKind::TooLarge
            }
            _ => ProbeErrorKind::InvalidMessage,
        };
        probe_error(kind, e.to_string())
    })
}

/// The pause before the one more try of [`shut_out_after_tls_audit`].
const READMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The HTTPS handshake was closed without an answer by a server whose TLS audit has just
/// completed TLS 1.2/1.3 handshakes: a server that counts connections per source may have
/// shut the scanner out for a moment (see the `tls` module), so the page is worth one more
/// try after [`READMIT_WAIT`], if the deadline allows.
fn shut_out_after_tls_audit(ctx: &ProbeContext, e: &ProbeError, service: &Service) -> bool {
    e.kind == ProbeErrorKind::ConnectionClosed
        && service.facts.tls.as_ref().is_some_and(|t| {
            t.accepted_versions
                .iter()
                .any(|v| matches!(v, TlsVersion::Tls12 | TlsVersion::Tls13))
        })
        && tokio::time::Instant::now() + READMIT_WAIT < ctx.deadline
}

/// Fills `service.facts.http` from a real GET (`tls`: over HTTPS).
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service, tls: bool) {
    let scheme = if tls { "https" } else { "http" };
    let host = ctx
        .server_name
        .clone()
        .unwrap_or_else(|| ctx.addr.ip().to_string());
    let mut target = Target {
        scheme: scheme.to_string(),
        host: host.clone(),
        port: ctx.addr.port(),
        path: "/".to_string(),
    };
    let mut budget = ctx.max_bytes;
    let first = match get(ctx, &target, &mut budget).await {
        Ok(r) => r,
        Err(e) if tls && shut_out_after_tls_audit(ctx, &e, service) => {
            tokio::time::sleep(READMIT_WAIT).await;
            match get(ctx, &target, &mut budget).await {
                Ok(r) => r,
                Err(e) => {
                    service.probe_errors.push(e);
                    return;
                }
            }
        }
        Err(e) => {
            service.probe_errors.push(e);
            return;
        }
    };
    service.protocol = Some(if tls { "https" } else { "http" }.to_string());
    let mut facts = HttpFacts {
        scheme: scheme.to_string(),
        status: first.status,
        server: first.header("server").map(str::to_string),
        powered_by: first.header("x-powered-by").map(str::to_string),
        auth_schemes: first.auth_schemes(),
        ..HttpFacts::default()
    };
    let first_hsts = first.hsts_max_age();
    let is_redirect = (300..400).contains(&first.status);
    let location = if is_redirect {
        first.header("location").map(str::to_string)
    } else {
        None
    };
    facts.redirect = location.clone();
    if !tls {
        facts.redirects_to_https = Some(
            location
                .as_deref()
                .and_then(|l| resolve_location(&target, l))
                .is_some_and(|t| t.scheme == "https" && same_host(&t.host, &host, ctx)),
        );
    }

    // Follow same-host redirects to the page a browser would show.
    let mut page = first;
    for _ in 0..MAX_REDIRECTS {
        if !(300..400).contains(&page.status) {
            break;
        }
        let Some(next) = page
            .header("location")
            .and_then(|l| resolve_location(&target, l))
            .filter(|t| same_host(&t.host, &host, ctx))
        else {
            break;
        };
        match get(ctx, &next, &mut budget).await {
            Ok(r) => {
                page = r;
                target = next;
            }
            Err(e) => {
                service.probe_errors.push(e);
                break;
            }
        }
    }
    if tls {
        facts.hsts_max_age = first_hsts.or_else(|| page.hsts_max_age());
        facts.hsts = Some(facts.hsts_max_age.is_some_and(|age| age > 0));
    }
    facts.x_frame_options = page.header("x-frame-options").map(str::to_string);
    facts.frame_ancestors = page.frame_ancestors();
    facts.x_content_type_options = page.header("x-content-type-options").map(str::to_string);
    let text = page.text();
    facts.title = wire::title(&text);
    facts.login_form = Some(wire::has_password_input(&text));
    if facts.auth_schemes.is_empty() {
        facts.auth_schemes = page.auth_schemes();
    }

    // Admin UIs recognised on the page served at "/".
    for sig in SIGNATURES.iter().filter(|s| s.path == "/") {
        if let Some(version) = wire::matches(sig, &page, &text) {
            facts.products.push(product(sig, version, "page at /"));
            break;
        }
    }
    // SSL-VPN portals: their login pages, over HTTPS only.
    if target.scheme == "https" && facts.products.is_empty() {
        for sig in SIGNATURES.iter().filter(|s| s.path != "/") {
            if tokio::time::Instant::now() >= ctx.deadline {
                break;
            }
            let t = Target {
                path: sig.path.to_string(),
                ..target.clone()
            };
            let Ok(resp) = get(ctx, &t, &mut budget).await else {
                continue;
            };
            let text = resp.text();
            if let Some(version) = wire::matches(sig, &resp, &text) {
                facts.products.push(product(sig, version, sig.path));
                break;
            }
        }
    }

    if let Some(server) = facts.server.as_deref()
        && let Some((product, version)) = wire::server_product(server)
    {
        service.software = Some(Software {
            vendor: None,
            product,
            version,
            evidence: format!("Server: {server}"),
        });
    }
    service.facts.http = Some(facts);
}

fn same_host(candidate: &str, host: &str, ctx: &ProbeContext) -> bool {
    let c = candidate.trim_start_matches('[').trim_end_matches(']');
    c.eq_ignore_ascii_case(host) || c.parse::<std::net::IpAddr>().ok() == Some(ctx.addr.ip())
}

fn product(sig: &wire::Signature, version: Option<String>, evidence: &str) -> WebProduct {
    WebProduct {
        kind: sig.kind.to_string(),
        vendor: sig.vendor.to_string(),
        product: sig.product.to_string(),
        version,
        evidence: format!("{evidence}: {}", sig.markers.join(" + ")),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use clinicscan_model::{PortReason, PortState, Transport};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn ctx(addr: SocketAddr) -> ProbeContext {
        ProbeContext {
            addr,
            deadline: tokio::time::Instant::now() + Duration::from_secs(3),
            io_timeout: Duration::from_millis(300),
            retransmit: Duration::from_millis(100),
            max_bytes: 1 << 20,
            now: chrono::Utc::now(),
            server_name: None,
            snmp_communities: Vec::new(),
            pace: crate::pace::Pace::default(),
        }
    }

    /// A loopback server: `reply(request)` is sent back, then the connection closes
    /// (or stays open with `hold`). Requests are kept for the test to inspect.
    async fn server(
        reply: fn(&str) -> Vec<u8>,
        hold: bool,
    ) -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let out = reply(&req);
                    log.lock().unwrap().push(req);
                    let _ = s.write_all(&out).await;
                    if hold {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                });
            }
        });
        (addr, seen)
    }

    async fn run(addr: SocketAddr, tls: bool) -> Service {
        let mut svc = Service::port_only(
            addr.port(),
            Transport::Tcp,
            PortState::Open,
            PortReason::SynAck,
        );
        let started = std::time::Instant::now();
        probe(&ctx(addr), &mut svc, tls).await;
        assert!(started.elapsed() < Duration::from_secs(4));
        svc
    }

    #[tokio::test]
    async fn request_is_a_plain_browser_get() {
        let (addr, seen) = server(
            |_| b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
            false,
        )
        .await;
        let svc = run(addr, false).await;
        assert_eq!(svc.facts.http.unwrap().status, 200);
        let req = seen.lock().unwrap()[0].clone();
        let expected = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: clinicscan/{}\r\nAccept: text/html,*/*;q=0.8\r\nConnection: close\r\n\r\n",
            addr.port(),
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(req, expected);
    }

    #[tokio::test]
    async fn redirects_to_other_hosts_are_not_followed() {
        let (addr, seen) = server(
            |_| b"HTTP/1.1 302 Found\r\nLocation: https://portal.example.invalid/\r\nContent-Length: 0\r\n\r\n".to_vec(),
            false,
        )
        .await;
        let svc = run(addr, false).await;
        let http = svc.facts.http.unwrap();
        assert_eq!(
            http.redirect.as_deref(),
            Some("https://portal.example.invalid/")
        );
        assert_eq!(http.redirects_to_https, Some(false));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn redirect_loops_stop_after_two() {
        let (addr, seen) = server(
            |_| b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n".to_vec(),
            false,
        )
        .await;
        let svc = run(addr, false).await;
        assert_eq!(svc.facts.http.unwrap().status, 302);
        assert_eq!(seen.lock().unwrap().len(), 1 + MAX_REDIRECTS);
    }

    #[tokio::test]
    async fn endless_body_is_cut_at_the_limit() {
        let (addr, _) = server(
            |_| {
                let mut r = b"HTTP/1.1 200 OK\r\n\r\n<title>big</title>".to_vec();
                r.extend(std::iter::repeat_n(b'x', 600 * 1024));
                r
            },
            true,
        )
        .await;
        let svc = run(addr, false).await;
        assert_eq!(svc.facts.http.unwrap().title.as_deref(), Some("big"));
    }

    #[tokio::test]
    async fn garbage_and_silence_are_error_facts() {
        let (addr, _) = server(|_| b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(), false).await;
        let svc = run(addr, false).await;
        assert_eq!(svc.facts.http, None);
        assert_eq!(svc.probe_errors[0].kind, ProbeErrorKind::InvalidMessage);

        let (addr, _) = server(|_| Vec::new(), true).await;
        let svc = run(addr, false).await;
        assert_eq!(svc.probe_errors[0].kind, ProbeErrorKind::Timeout);

        let (addr, _) = server(|_| b"HTTP/1.1 200 OK\r\nX: y\r\n".to_vec(), false).await;
        let svc = run(addr, false).await;
        assert_eq!(svc.probe_errors[0].kind, ProbeErrorKind::InvalidMessage);
    }

    #[tokio::test]
    async fn plain_http_on_an_https_probe() {
        let (addr, _) = server(|_| b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), false).await;
        let svc = run(addr, true).await;
        assert_eq!(svc.facts.http, None);
        assert_eq!(svc.probe_errors.len(), 1);
    }
}
