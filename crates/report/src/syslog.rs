//! Syslog: the SIEM events as RFC 5424 messages, over TLS (RFC 5425), UDP (RFC 5426) or
//! plain TCP to a local relay (RFC 6587 octet counting).
//!
//! Written here rather than taken from a crate: the `syslog` crate has no TLS, and
//! `fasyslog` frames TLS with a trailing newline instead of RFC 5425's octet counting and
//! stamps every message with the current time through its own clock crate. The formatter
//! is small: a header, two registered structured-data elements (`meta sequenceId`, so a
//! collector can tell a gap, and `origin`), and the event's JSON as the message.
//!
//! - `tls://host[:6514]`: the server's certificate is verified against the system's roots
//!   plus an optional CA file, and must name the host; a client certificate is optional.
//!   There is no switch to turn verification off.
//! - `udp://host[:514]`: one message per datagram. A message longer than the UDP limit
//!   (2048 octets by default, the size RFC 5426 §3.2 says every receiver should take) is
//!   sent without its long texts (descriptions, remediation, evidence) and tagged
//!   `clinicscan-truncated`; the identifiers always go.
//! - `tcp://host[:601]`: unencrypted, so only to a loopback relay.
//!
//! The MSG is the event's JSON without a BOM (RFC 5424 allows MSG-ANY): collectors hand it
//! to a JSON parser, and a BOM in front of `{` breaks most of them.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    /// TLS over TCP, RFC 5425 (port 6514).
    Tls,
    /// UDP, RFC 5426 (port 514).
    Udp,
    /// Plain TCP with octet counting, RFC 6587 (port 601): loopback only.
    Tcp,
}

/// Where to send, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    /// Transport.
    pub transport: SyslogTransport,
    /// Collector host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Extra CA certificates (PEM) to trust for a TLS collector.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain and key (PEM) for a TLS collector that asks for one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The largest UDP message, in octets.
    pub udp_max: usize,
}

/// Sending to syslog failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyslogError {
    /// The target or its settings are wrong.
    #[error("syslog: {0}")]
    Config(String),
    /// The TLS settings could not be built (a certificate file).
    #[error("syslog TLS settings: {0}")]
    Tls(String),
    /// The collector could not be reached or the connection failed.
    #[error("syslog {target}: {source}")]
    Io {
        /// `transport://host:port`.
        target: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl SyslogTarget {
    /// Parses `tls://host[:port]`, `udp://host[:port]` or `tcp://host[:port]`.
    pub fn parse(s: &str) -> Result<SyslogTarget, SyslogError> {
        let bad = |why: &str| SyslogError::Config(format!("{s:?}: {why}"));
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            bad("expected tls://HOST[:PORT], udp://HOST[:PORT] or tcp://HOST[:PORT]")
        })?;
        let (transport, default_port) = match scheme {
            "tls" => (SyslogTransport::Tls, 6514),
            "udp" => (SyslogTransport::Udp, 514),
            "tcp" => (SyslogTransport::Tcp, 601),
            _ => return Err(bad("the scheme must be tls, udp or tcp")),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
                _ => (rest.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("not a port number"))?,
            None => default_port,
        };
        if host.is_empty() || host.contains(['/', '?', '@', ' ']) {
            return Err(bad("not a host name or address"));
        }
        let target = SyslogTarget {
            transport,
            host,
            port,
            ca_file: None,
            client_cert: None,
            udp_max: 2048,
        };
        if transport == SyslogTransport::Tcp && !target.is_loopback() {
            return Err(bad(
                "plain TCP sends the findings unencrypted: allowed only to a loopback relay; use tls://",
            ));
        }
        Ok(target)
    }

    fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
    }

    fn name(&self) -> String {
        let scheme = match self.transport {
            SyslogTransport::Tls => "tls",
            SyslogTransport::Udp => "udp",
            SyslogTransport::Tcp => "tcp",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// One RFC 5424 message's header fields.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    /// Facility (16 = local0).
    pub facility: u8,
    /// Severity, 0 (emergency) to 7 (debug).
    pub severity: u8,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// The sending host ("-" when unknown or not printable ASCII).
    pub hostname: &'a str,
    /// The application.
    pub app_name: &'a str,
    /// The process id.
    pub procid: u32,
    /// The message type.
    pub msgid: &'a str,
    /// The `meta sequenceId`, 1-based.
    pub sequence: u32,
}

/// A header field: printable US-ASCII without spaces, at most `max` octets, else "-".
fn field(s: &str, max: usize) -> &str {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| (33..=126).contains(&b)) {
        "-"
    } else {
        s
    }
}

/// An SD-PARAM value with `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Formats one RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`.
pub fn format_5424(h: &Header<'_>, msg: &str) -> String {
    let pri = u16::from(h.facility.min(23)) * 8 + u16::from(h.severity.min(7));
    format!(
        "<{pri}>1 {} {} {} {} {} [meta sequenceId=\"{}\"][origin software=\"clinicscan\" swVersion=\"{}\"] {msg}",
        h.timestamp.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        field(h.hostname, 255),
        field(h.app_name, 48),
        h.procid,
        field(h.msgid, 32),
        h.sequence.max(1),
        sd_value(env!("CARGO_PKG_VERSION")),
    )
}

/// RFC 5425 / RFC 6587 octet-counting framing: `MSG-LEN SP SYSLOG-MSG`.
pub fn frame(message: &str) -> Vec<u8> {
    let mut v = format!("{} ", message.len()).into_bytes();
    v.extend_from_slice(message.as_bytes());
    v
}

/// The syslog severity of an event: findings by their severity, controls by verdict.
fn severity_of(event: &Value) -> (u8, &'static str) {
    let dataset = event.pointer("/event/dataset").and_then(Value::as_str);
    if dataset == Some("clinicscan.control") {
        let sev = match event
            .pointer("/clinicscan/control/status")
            .and_then(Value::as_str)
        {
            Some("fail") => 4,
            Some("not-verified") => 5,
            _ => 6,
        };
        return (sev, "control");
    }
    let sev = match event
        .pointer("/vulnerability/severity")
        .and_then(Value::as_str)
    {
        Some("Critical") => 2,
        Some("High") => 3,
        Some("Medium") => 4,
        Some("Low") => 5,
        _ => 6,
    };
    (sev, "finding")
}

/// The event without its long free texts, for a UDP datagram that must stay small.
fn compact(event: &Value) -> Value {
    let mut e = event.clone();
    for p in [
        "/rule/description",
        "/vulnerability/description",
        "/clinicscan/finding/remediation",
    ] {
        if let Some(v) = e.pointer_mut(p) {
            *v = Value::String(String::new());
        }
    }
    if let Some(v) = e.pointer_mut("/clinicscan/finding/evidence") {
        *v = Value::Array(Vec::new());
    }
    if let Some(map) = e.as_object_mut() {
        map.insert("tags".into(), serde_json::json!(["clinicscan-truncated"]));
    }
    e
}

/// What [`send_events`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogReport {
    /// Messages sent.
    pub sent: usize,
    /// UDP messages sent without their long texts.
    pub shortened: usize,
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends every event as one message, in order, over one connection (or socket).
pub fn send_events(
    target: &SyslogTarget,
    events: &[Value],
    hostname: &str,
) -> Result<SyslogReport, SyslogError> {
    let io = |source| SyslogError::Io {
        target: target.name(),
        source,
    };
    let now = Utc::now();
    let procid = std::process::id();
    let mut report = SyslogReport::default();
    let messages = events.iter().enumerate().map(|(i, e)| {
        let (severity, msgid) = severity_of(e);
        let header = Header {
            facility: 16,
            severity,
            timestamp: now,
            hostname,
            app_name: "clinicscan",
            procid,
            msgid,
            sequence: u32::try_from(i + 1).unwrap_or(u32::MAX),
        };
        (header, e)
    });
    match target.transport {
        SyslogTransport::Udp => {
            let addr = resolve(target).map_err(io)?;
            let bind: std::net::SocketAddr = if addr.is_ipv6() {
                "[::]:0"
                    .parse()
                    .map_err(|_| io(std::io::ErrorKind::InvalidInput.into()))?
            } else {
                "0.0.0.0:0"
                    .parse()
                    .map_err(|_| io(std::io::ErrorKind::InvalidInput.into()))?
            };
            let sock = UdpSocket::bind(bind).map_err(io)?;
            sock.connect(addr).map_err(io)?;
            for (header, e) in messages {
                let mut msg = format_5424(&header, &e.to_string());
                if msg.len() > target.udp_max {
                    msg = format_5424(&header, &compact(e).to_string());
                    report.shortened += 1;
                }
                sock.send(msg.as_bytes()).map_err(io)?;
                report.sent += 1;
            }
        }
        SyslogTransport::Tcp | SyslogTransport::Tls => {
            let addr = resolve(target).map_err(io)?;
            let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(io)?;
            tcp.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
            tcp.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
            let mut stream: Box<dyn ReadWrite> = if target.transport == SyslogTransport::Tls {
                let config = tls_config(target)?;
                let name = ServerName::try_from(target.host.clone())
                    .map_err(|e| SyslogError::Config(format!("{}: {e}", target.host)))?;
                let conn = rustls::ClientConnection::new(Arc::new(config), name)
                    .map_err(|e| SyslogError::Tls(e.to_string()))?;
                Box::new(rustls::StreamOwned::new(conn, tcp))
            } else {
                Box::new(tcp)
            };
            let mut buf = Vec::new();
            for (header, e) in messages {
                buf.extend(frame(&format_5424(&header, &e.to_string())));
                report.sent += 1;
            }
            stream.write_all(&buf).map_err(io)?;
            stream.flush().map_err(io)?;
            stream.finish().map_err(io)?;
        }
    }
    Ok(report)
}

/// A stream that can say goodbye properly (TLS close_notify).
trait ReadWrite: Read + Write {
    fn finish(&mut self) -> std::io::Result<()>;
}

impl ReadWrite for TcpStream {
    fn finish(&mut self) -> std::io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl ReadWrite for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn finish(&mut self) -> std::io::Result<()> {
        self.conn.send_close_notify();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        self.sock.shutdown(std::net::Shutdown::Write)
    }
}

fn resolve(target: &SyslogTarget) -> std::io::Result<std::net::SocketAddr> {
    (target.host.as_str(), target.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
}

fn tls_config(target: &SyslogTarget) -> Result<rustls::ClientConfig, SyslogError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let read_certs = |p: &PathBuf| {
        CertificateDer::pem_file_iter(p)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| SyslogError::Tls(format!("{}: {e}", p.display())))
    };
    if let Some(ca) = &target.ca_file {
        for c in read_certs(ca)? {
            roots
                .add(c)
                .map_err(|e| SyslogError::Tls(format!("{}: {e}", ca.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(SyslogError::Tls(
            "no CA certificate to verify the collector with: install ca-certificates or give --syslog-ca".into(),
        ));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SyslogError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    match &target.client_cert {
        Some((cert, key)) => {
            let chain = read_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| SyslogError::Tls(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| SyslogError::Tls(e.to_string()))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_default_ports_and_plain_tcp_is_loopback_only() {
        let t = SyslogTarget::parse("tls://siem.example.jp").unwrap();
        assert_eq!(
            (t.transport, t.host.as_str(), t.port),
            (SyslogTransport::Tls, "siem.example.jp", 6514)
        );
        let u = SyslogTarget::parse("udp://[2001:db8::5]:1514").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::5", 1514));
        assert_eq!(u.name(), "udp://[2001:db8::5]:1514");
        assert_eq!(SyslogTarget::parse("udp://10.0.0.9").unwrap().port, 514);
        assert!(SyslogTarget::parse("tcp://127.0.0.1:5140").is_ok());
        let e = SyslogTarget::parse("tcp://10.0.0.9")
            .unwrap_err()
            .to_string();
        assert!(e.contains("loopback"), "{e}");
        assert!(SyslogTarget::parse("http://x").is_err());
        assert!(SyslogTarget::parse("tls://x:0").is_err());
        assert!(SyslogTarget::parse("tls://").is_err());
    }

    #[test]
    fn messages_follow_rfc_5424_and_frames_count_octets() {
        let h = Header {
            facility: 16,
            severity: 3,
            timestamp: DateTime::parse_from_rfc3339("2026-11-20T01:02:03.5Z")
                .unwrap()
                .with_timezone(&Utc),
            hostname: "scanner01",
            app_name: "clinicscan",
            procid: 42,
            msgid: "finding",
            sequence: 7,
        };
        let m = format_5424(&h, "{\"a\":\"日本\"}");
        assert!(
            m.starts_with("<131>1 2026-11-20T01:02:03.500000Z scanner01 clinicscan 42 finding [meta sequenceId=\"7\"][origin software=\"clinicscan\" swVersion=\""),
            "{m}"
        );
        assert!(m.ends_with("] {\"a\":\"日本\"}"), "{m}");
        let bad = Header {
            hostname: "bad host",
            msgid: "",
            ..h
        };
        assert!(format_5424(&bad, "x").contains(" - clinicscan 42 - ["));
        let f = frame("héllo");
        assert_eq!(f, b"6 h\xc3\xa9llo");
        assert_eq!(sd_value("a\"b]c\\"), "a\\\"b\\]c\\\\");
    }

    #[test]
    fn a_long_event_is_shortened_but_keeps_its_identifiers() {
        let e = serde_json::json!({
            "event": {"dataset": "clinicscan.finding", "id": "x/y"},
            "rule": {"id": "r1", "description": "long ".repeat(1000)},
            "vulnerability": {"severity": "High", "description": "long"},
            "clinicscan": {"finding": {"remediation": "fix", "evidence": [{"key": "k", "value": "v"}]}}
        });
        let c = compact(&e);
        assert_eq!(c.pointer("/rule/id"), Some(&serde_json::json!("r1")));
        assert_eq!(c.pointer("/rule/description"), Some(&serde_json::json!("")));
        assert_eq!(
            c.pointer("/clinicscan/finding/evidence"),
            Some(&serde_json::json!([]))
        );
        assert_eq!(c["tags"], serde_json::json!(["clinicscan-truncated"]));
        assert_eq!(severity_of(&e), (3, "finding"));
    }
}
