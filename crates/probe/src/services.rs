//! Service probe dispatch: which `proto` probes run on a port.
//!
//! - A catalogue port runs the probes its entry lists, in order; a `never_send` port
//!   (raw printer ports) gets nothing at all.
//! - An open TCP port outside the catalogue gets a cheap, safe identification: wait briefly
//!   for a server-first banner (SSH, FTP/SMTP `220`, VNC `RFB`, a MySQL greeting) and run the
//!   matching probe; if the server stays silent, try TLS, then HTTPS if TLS answered or
//!   plain HTTP if not.
//! - A UDP port starts as open|filtered / no-response; its probe sets the state.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clinicscan_model::{PortReason, PortState, Service, Transport};
use tokio::time::Instant;

use crate::catalog::port_entry;
use crate::pace::Pace;
use crate::proto::io::{Budget, connect, read_some};
use crate::proto::{self, ProbeContext, ProbeKind};

/// Inputs to build a probe context for one host.
#[derive(Debug, Clone)]
pub(crate) struct ProbeSettings {
    pub probe_timeout: Duration,
    pub max_bytes: usize,
    pub io_timeout: Duration,
    pub retransmit: Duration,
    pub banner_wait: Duration,
    pub now: DateTime<Utc>,
    pub server_name: Option<String>,
    pub snmp_communities: Vec<String>,
    pub pace: Pace,
}

impl ProbeSettings {
    fn context(&self, addr: SocketAddr) -> ProbeContext {
        ProbeContext {
            addr,
            deadline: Instant::now() + self.probe_timeout,
            io_timeout: self.io_timeout,
            retransmit: self.retransmit,
            max_bytes: self.max_bytes,
            now: self.now,
            server_name: self.server_name.clone(),
            snmp_communities: self.snmp_communities.clone(),
            pace: self.pace.clone(),
        }
    }
}

/// The conventional name of a port, labelled as a guess by the model field it goes to.
pub(crate) fn port_name(port: u16, transport: Transport) -> Option<String> {
    port_entry(port, transport).map(|e| e.name.to_string())
}

/// What a server-first banner says about the protocol (pure).
pub(crate) fn kinds_for_banner(banner: &[u8]) -> Vec<ProbeKind> {
    if banner.starts_with(b"SSH-") {
        return vec![ProbeKind::Ssh];
    }
    if banner.starts_with(b"RFB ") {
        return vec![ProbeKind::Vnc];
    }
    if banner.starts_with(b"220") {
        let text = String::from_utf8_lossy(banner).to_ascii_lowercase();
        let ftp = text.contains("ftp");
        let smtp = text.contains("smtp") || text.contains("mail");
        return match (ftp, smtp) {
            (true, false) => vec![ProbeKind::Ftp],
            (false, true) => vec![ProbeKind::SmtpStartTls],
            // "220 ready": both speak 220 first; each probe proves or refutes itself.
            _ => vec![ProbeKind::Ftp, ProbeKind::SmtpStartTls],
        };
    }
    // MySQL / MariaDB greeting: 3-byte length, sequence 0, protocol version 10.
    if banner.len() >= 5 && banner[3] == 0 && banner[4] == 10 {
        let len =
            usize::from(banner[0]) | usize::from(banner[1]) << 8 | usize::from(banner[2]) << 16;
        if (20..=1024).contains(&len) {
            return vec![ProbeKind::Mysql];
        }
    }
    // IAC (telnet option negotiation)
    if banner.first() == Some(&0xff) {
        return vec![ProbeKind::Telnet];
    }
    Vec::new()
}

/// Runs the probes for one open TCP service.
pub(crate) async fn probe_tcp(settings: &ProbeSettings, addr: SocketAddr, service: &mut Service) {
    match port_entry(service.port, Transport::Tcp) {
        Some(e) if e.never_send => {}
        Some(e) => {
            for &kind in e.probes {
                proto::run(kind, &settings.context(addr), service).await;
            }
        }
        None => identify_and_probe(settings, addr, service).await,
    }
}

async fn identify_and_probe(settings: &ProbeSettings, addr: SocketAddr, service: &mut Service) {
    let mut ctx = settings.context(addr);
    ctx.io_timeout = settings.banner_wait;
    let banner = match connect(&ctx).await {
        Err(_) => return,
        Ok(mut stream) => {
            let mut buf = Vec::new();
            let mut budget = Budget::new(1024);
            let _ = read_some(&ctx, &mut stream, &mut buf, &mut budget).await;
            buf
        }
    };
    let kinds = kinds_for_banner(&banner);
    if !kinds.is_empty() {
        for kind in kinds {
            proto::run(kind, &settings.context(addr), service).await;
        }
        return;
    }
    if !banner.is_empty() {
        // A banner we do not know: nothing safe to say more.
        return;
    }
    proto::run(ProbeKind::Tls, &settings.context(addr), service).await;
    let tls = service.protocol.as_deref() == Some("tls") || service.facts.tls.is_some();
    let next = if tls {
        ProbeKind::Https
    } else {
        ProbeKind::Http
    };
    proto::run(next, &settings.context(addr), service).await;
}

/// Scans one catalogue UDP port through its probe.
pub(crate) async fn probe_udp(settings: &ProbeSettings, addr: SocketAddr) -> Service {
    let mut service = Service::port_only(
        addr.port(),
        Transport::Udp,
        PortState::OpenFiltered,
        PortReason::NoResponse,
    );
    service.port_name = port_name(addr.port(), Transport::Udp);
    if let Some(e) = port_entry(addr.port(), Transport::Udp)
        && !e.never_send
    {
        for &kind in e.probes {
            proto::run(kind, &settings.context(addr), &mut service).await;
        }
    }
    service
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners() {
        assert_eq!(
            kinds_for_banner(b"SSH-2.0-OpenSSH_9.2p1\r\n"),
            vec![ProbeKind::Ssh]
        );
        assert_eq!(kinds_for_banner(b"RFB 003.008\n"), vec![ProbeKind::Vnc]);
        assert_eq!(
            kinds_for_banner(b"220 (vsFTPd 3.0.3)\r\n"),
            vec![ProbeKind::Ftp]
        );
        assert_eq!(
            kinds_for_banner(b"220 mail.clinic.local ESMTP Postfix\r\n"),
            vec![ProbeKind::SmtpStartTls]
        );
        assert_eq!(
            kinds_for_banner(b"220 ready\r\n"),
            vec![ProbeKind::Ftp, ProbeKind::SmtpStartTls]
        );
        let mut mysql = vec![0x4a, 0, 0, 0, 10];
        mysql.extend_from_slice(b"10.11.6-MariaDB\0");
        assert_eq!(kinds_for_banner(&mysql), vec![ProbeKind::Mysql]);
        assert_eq!(
            kinds_for_banner(&[0xff, 0xfd, 0x18]),
            vec![ProbeKind::Telnet]
        );
        assert!(kinds_for_banner(b"HTTP/1.0 400 Bad Request\r\n").is_empty());
        assert!(kinds_for_banner(b"").is_empty());
        assert!(
            kinds_for_banner(&[0, 0, 0, 0, 10]).is_empty(),
            "zero length"
        );
    }

    #[test]
    fn port_names_are_from_the_catalogue() {
        assert_eq!(
            port_name(3389, Transport::Tcp).as_deref(),
            Some("ms-wbt-server")
        );
        assert_eq!(port_name(161, Transport::Udp).as_deref(), Some("snmp"));
        assert_eq!(port_name(161, Transport::Tcp), None);
        assert_eq!(port_name(31337, Transport::Tcp), None);
    }
}
