//! Service probes: thin async code around the pure `wire` parsers.
//!
//! Contract for every probe module (`proto/<name>.rs`):
//! - `pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service)`;
//! - it sends only what a normal client sends in a handshake (no credential guessing, no
//!   exploit, nothing that stores data), ends by `ctx.deadline`, reads at most
//!   `ctx.max_bytes` in total, and never panics on peer input;
//! - it never looks like a failed login to the service: it completes a handshake the server
//!   counts as a success or stops before the server has anything to count, and sends no
//!   credential the server could reject. Clinic servers and devices lock out accounts and
//!   block sources after failed logins; a scan must never trip that, be blocked by it (and
//!   then miss what it found before), or fill the count meant for a real attacker. Where a
//!   protocol has no such way the fact stays unknown (docs/ARCHITECTURE.md lists each
//!   probe and what its daemon logs);
//! - a server that refuses the scanner itself gets a `RefusedByPeer` error with its words
//!   and no facts from that connection;
//! - on success it fills `service.facts.<proto>`, sets `service.protocol` when the handshake
//!   proved the protocol, and `service.software` when the peer named itself;
//! - on failure it pushes a `ProbeError` saying what the peer did, and guesses nothing;
//! - a UDP probe also sets `service.state` / `service.reason` from what came back
//!   (reply: open; ICMP port unreachable: closed; silence: stays open|filtered).

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clinicscan_model::Service;

pub(crate) mod io;

mod dicom;
mod ftp;
mod http;
mod ike;
mod mssql;
mod mysql;
mod openvpn;
mod postgres;
mod pptp;
mod rdp;
mod smb;
mod smb1_shares;
mod smb_shares;
mod smtp;
mod snmp;
mod ssdp;
mod ssh;
mod telnet;
mod tls;
mod vnc;

/// Hooks for this crate's integration tests (feature `test-hooks`): run one probe against an
/// address with a context built from plain arguments. Not part of the API.
#[cfg(feature = "test-hooks")]
pub mod hooks {
    use std::net::SocketAddr;
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use clinicscan_model::{PortReason, PortState, ProbeError, Service, TlsFacts, Transport};
    use tokio::net::TcpStream;

    use super::{ProbeContext, ProbeKind};

    /// What a test sets of a probe's context; the one way the hooks build a `ProbeContext`.
    /// The deadline is `budget` from when the probe starts; the pace is unlimited.
    #[derive(Debug, Clone)]
    pub struct ProbeOptions {
        /// The whole probe's time.
        pub budget: Duration,
        /// One connect or one read.
        pub io_timeout: Duration,
        /// Everything the probe may read from the peer.
        pub max_bytes: usize,
        /// The scan's clock, for certificate validity.
        pub now: DateTime<Utc>,
        /// SNI / Host header.
        pub server_name: Option<String>,
        /// SNMP v1/v2c communities to try.
        pub snmp_communities: Vec<String>,
    }

    impl Default for ProbeOptions {
        /// 15 s for the probe, 3 s per I/O step, 4 MiB, now, no name, no community.
        fn default() -> Self {
            ProbeOptions {
                budget: Duration::from_secs(15),
                io_timeout: Duration::from_secs(3),
                max_bytes: 4 << 20,
                now: Utc::now(),
                server_name: None,
                snmp_communities: Vec::new(),
            }
        }
    }

    impl ProbeOptions {
        fn context(&self, addr: SocketAddr) -> ProbeContext {
            ProbeContext {
                addr,
                deadline: tokio::time::Instant::now() + self.budget,
                io_timeout: self.io_timeout,
                // a fraction of the step, as the engine's (round trips, well under a step)
                retransmit: self.io_timeout / 4,
                max_bytes: self.max_bytes,
                now: self.now,
                server_name: self.server_name.clone(),
                snmp_communities: self.snmp_communities.clone(),
                pace: crate::pace::Pace::default(),
            }
        }
    }

    /// A probe context for `addr`: `budget` for the whole probe, 3 s per I/O step, 4 MiB.
    fn make(
        addr: SocketAddr,
        server_name: Option<&str>,
        now: DateTime<Utc>,
        budget: Duration,
    ) -> ProbeContext {
        ProbeOptions {
            budget,
            now,
            server_name: server_name.map(str::to_string),
            ..ProbeOptions::default()
        }
        .context(addr)
    }

    fn service(port: u16) -> Service {
        Service::port_only(port, Transport::Tcp, PortState::Open, PortReason::SynAck)
    }

    /// The TLS audit directly on the port.
    pub async fn tls_audit(
        addr: SocketAddr,
        server_name: Option<&str>,
        now: DateTime<Utc>,
        budget: Duration,
    ) -> Result<TlsFacts, ProbeError> {
        super::tls::audit(&make(addr, server_name, now, budget), "direct", None).await
    }

    /// One service probe (`kind`: "tls", "http", "https", "smtp") into a fresh `Service`.
    pub async fn probe(
        kind: &str,
        addr: SocketAddr,
        server_name: Option<&str>,
        now: DateTime<Utc>,
        budget: Duration,
    ) -> Service {
        let ctx = make(addr, server_name, now, budget);
        let mut svc = service(addr.port());
        match kind {
            "tls" => super::tls::probe(&ctx, &mut svc).await,
            "http" => super::http::probe(&ctx, &mut svc, false).await,
            "https" => super::http::probe(&ctx, &mut svc, true).await,
            "smtp" => super::smtp::probe(&ctx, &mut svc).await,
            _ => {}
        }
        svc
    }

    /// The probe of a name: the `ProbeKind` names, plus "openvpn-tcp" / "openvpn-udp" and
    /// "smtp" for STARTTLS.
    fn kind_named(kind: &str) -> Option<ProbeKind> {
        use super::ProbeKind as K;
        Some(match kind {
            "tls" => K::Tls,
            "http" => K::Http,
            "https" => K::Https,
            "smtp" => K::SmtpStartTls,
            "rdp" => K::Rdp,
            "smb" => K::Smb,
            "ssh" => K::Ssh,
            "ftp" => K::Ftp,
            "telnet" => K::Telnet,
            "vnc" => K::Vnc,
            "snmp" => K::Snmp,
            "dicom" => K::Dicom,
            "mssql" => K::Mssql,
            "postgres" => K::Postgres,
            "mysql" => K::Mysql,
            "ike" => K::Ike,
            "openvpn" | "openvpn-udp" => K::OpenVpnUdp,
            "openvpn-tcp" => K::OpenVpnTcp,
            "pptp" => K::Pptp,
            "ssdp" => K::Ssdp,
            _ => return None,
        })
    }

    /// Any probe by name (the `ProbeKind` names, plus "openvpn-tcp" / "openvpn-udp" and
    /// "smtp" for STARTTLS), through the same [`super::run`] the engine uses, with `budget`
    /// as the whole deadline, a third of it (at most 3 s) per I/O step, and `max_bytes` as
    /// the byte limit. The `Service` is TCP/open or
    /// UDP/open|filtered as the engine would hand it over. An unknown name returns the bare
    /// service with a `Local` probe error.
    pub async fn run_probe(
        kind: &str,
        addr: SocketAddr,
        budget: Duration,
        max_bytes: usize,
    ) -> Service {
        let options = ProbeOptions {
            budget,
            max_bytes,
            // one I/O step is a fraction of the whole, as in the engine (RTT-derived steps,
            // a probe timeout many times longer), so multi-step probes end on their own
            io_timeout: (budget / 3).min(Duration::from_secs(3)),
            snmp_communities: vec!["public".to_string()],
            ..ProbeOptions::default()
        };
        run_probe_with(&options, kind, addr).await
    }

    /// [`run_probe`] with every part of the context chosen by the test.
    pub async fn run_probe_with(options: &ProbeOptions, kind: &str, addr: SocketAddr) -> Service {
        let Some(probe_kind) = kind_named(kind) else {
            let mut svc = service(addr.port());
            svc.probe_errors.push(ProbeError {
                probe: kind.to_string(),
                kind: clinicscan_model::ProbeErrorKind::Local,
                detail: "unknown probe name".to_string(),
            });
            return svc;
        };
        let udp = matches!(
            probe_kind,
            ProbeKind::Snmp | ProbeKind::Ike | ProbeKind::OpenVpnUdp | ProbeKind::Ssdp
        );
        let mut svc = if udp {
            Service::port_only(
                addr.port(),
                Transport::Udp,
                PortState::OpenFiltered,
                PortReason::NoResponse,
            )
        } else {
            service(addr.port())
        };
        // on the heap: every probe's state is in this future, too large for a test
        // thread's stack once a test's own futures wrap it (debug builds)
        Box::pin(super::run(probe_kind, &options.context(addr), &mut svc)).await;
        svc
    }

    /// What a probe does before it hands a stream to the TLS audit, on its own: "rdp-ssl"
    /// (X.224 negotiating TLS), "rdp-hybrid" (negotiating CredSSP), "ftp-auth-tls" (AUTH
    /// TLS). The stream is where the TLS handshake begins.
    pub async fn tls_prelude(
        options: &ProbeOptions,
        name: &str,
        addr: SocketAddr,
    ) -> Result<TcpStream, ProbeError> {
        let prelude: super::tls::Prelude = match name {
            "rdp-ssl" => super::rdp::ssl_prelude,
            "rdp-hybrid" => super::rdp::hybrid_prelude,
            "ftp-auth-tls" => super::ftp::auth_tls_prelude,
            other => {
                return Err(ProbeError {
                    probe: other.to_string(),
                    kind: clinicscan_model::ProbeErrorKind::Local,
                    detail: "unknown prelude name".to_string(),
                });
            }
        };
        prelude(&options.context(addr))
            .await
            .map_err(|e| e.to_probe_error(name))
    }

    /// The client configuration the probes complete TLS handshakes with: any certificate is
    /// accepted, since a certificate is a fact to record here, not a trust decision.
    pub fn accept_any_tls_config() -> rustls::ClientConfig {
        super::rdp::accept_any_config()
    }
}

/// Which service probe to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub(crate) enum ProbeKind {
    /// TLS versions, suites, certificate.
    Tls,
    /// HTTP over plain TCP.
    Http,
    /// HTTP over TLS.
    Https,
    /// SMTP with STARTTLS, then the TLS audit.
    SmtpStartTls,
    /// RDP negotiation (and the TLS audit of RDP's TLS layer).
    Rdp,
    /// SMB dialects and signing.
    Smb,
    /// SSH banner and algorithms.
    Ssh,
    /// FTP banner, anonymous login, AUTH TLS.
    Ftp,
    /// Telnet option negotiation and banner.
    Telnet,
    /// VNC / RFB security types.
    Vnc,
    /// SNMP v1/v2c community and v3 engine discovery (UDP).
    Snmp,
    /// DICOM A-ASSOCIATE for Verification.
    Dicom,
    /// MSSQL PRELOGIN.
    Mssql,
    /// PostgreSQL SSLRequest.
    Postgres,
    /// MySQL / MariaDB greeting.
    Mysql,
    /// IKEv1 / IKEv2 (UDP).
    Ike,
    /// OpenVPN over UDP.
    OpenVpnUdp,
    /// OpenVPN over TCP.
    OpenVpnTcp,
    /// PPTP control connection.
    Pptp,
    /// SSDP M-SEARCH (UDP).
    Ssdp,
}

/// Everything a service probe needs to know.
#[derive(Debug, Clone)]
pub(crate) struct ProbeContext {
    /// The service's address.
    pub addr: SocketAddr,
    /// The probe must be finished by then (covers every connection it makes).
    pub deadline: tokio::time::Instant,
    /// Timeout for one connect or one read, derived from the host's measured RTT.
    pub io_timeout: Duration,
    /// How long a UDP request waits for its reply before it goes again (the host's and its
    /// path's round trips, as the port scan's timeout).
    pub retransmit: Duration,
    /// Byte limit for everything read from the peer by this probe.
    pub max_bytes: usize,
    /// The scan's clock, for certificate validity.
    pub now: DateTime<Utc>,
    /// A host name to send as SNI / Host header, when the target was given by name.
    pub server_name: Option<String>,
    /// SNMP communities to try with v1/v2c (default: just "public").
    pub snmp_communities: Vec<String>,
    /// The pace every new connection to this host keeps (gentle profile for medical
    /// devices, the scan's rate); `proto::io::connect_to` waits for it.
    pub pace: crate::pace::Pace,
}

/// Random bytes for cookies, nonces, session ids and throw-away key exchange values (not
/// secrets: nothing is derived from them).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; N];
    let state = std::collections::hash_map::RandomState::new();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let v = h.finish().to_be_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    out
}

/// Runs one probe against one service, filling its facts.
pub(crate) async fn run(kind: ProbeKind, ctx: &ProbeContext, service: &mut Service) {
    let outer = ctx.deadline;
    let errors_before = service.probe_errors.len();
    tracing::debug!(target_addr = %ctx.addr, probe = kind.name(), "probe started");
    let work = async {
        match kind {
            ProbeKind::Tls => tls::probe(ctx, service).await,
            ProbeKind::Http => http::probe(ctx, service, false).await,
            ProbeKind::Https => http::probe(ctx, service, true).await,
            ProbeKind::SmtpStartTls => smtp::probe(ctx, service).await,
            ProbeKind::Rdp => rdp::probe(ctx, service).await,
            ProbeKind::Smb => smb::probe(ctx, service).await,
            ProbeKind::Ssh => ssh::probe(ctx, service).await,
            ProbeKind::Ftp => ftp::probe(ctx, service).await,
            ProbeKind::Telnet => telnet::probe(ctx, service).await,
            ProbeKind::Vnc => vnc::probe(ctx, service).await,
            ProbeKind::Snmp => snmp::probe(ctx, service).await,
            ProbeKind::Dicom => dicom::probe(ctx, service).await,
            ProbeKind::Mssql => mssql::probe(ctx, service).await,
            ProbeKind::Postgres => postgres::probe(ctx, service).await,
            ProbeKind::Mysql => mysql::probe(ctx, service).await,
            ProbeKind::Ike => ike::probe(ctx, service).await,
            ProbeKind::OpenVpnUdp => openvpn::probe(ctx, service, false).await,
            ProbeKind::OpenVpnTcp => openvpn::probe(ctx, service, true).await,
            ProbeKind::Pptp => pptp::probe(ctx, service).await,
            ProbeKind::Ssdp => ssdp::probe(ctx, service).await,
        }
    };
    // The outer deadline is a backstop: each probe is expected to honour it itself.
    if tokio::time::timeout_at(outer, work).await.is_err() {
        service.probe_errors.push(clinicscan_model::ProbeError {
            probe: kind.name().to_string(),
            kind: clinicscan_model::ProbeErrorKind::Timeout,
            detail: "probe deadline passed".to_string(),
        });
    }
    for e in &service.probe_errors[errors_before.min(service.probe_errors.len())..] {
        tracing::info!(target_addr = %ctx.addr, probe = %e.probe, kind = ?e.kind, detail = %e.detail, "probe failed");
    }
}

impl ProbeKind {
    /// Short name used in `ProbeError::probe`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ProbeKind::Tls => "tls",
            ProbeKind::Http => "http",
            ProbeKind::Https => "https",
            ProbeKind::SmtpStartTls => "smtp",
            ProbeKind::Rdp => "rdp",
            ProbeKind::Smb => "smb",
            ProbeKind::Ssh => "ssh",
            ProbeKind::Ftp => "ftp",
            ProbeKind::Telnet => "telnet",
            ProbeKind::Vnc => "vnc",
            ProbeKind::Snmp => "snmp",
            ProbeKind::Dicom => "dicom",
            ProbeKind::Mssql => "mssql",
            ProbeKind::Postgres => "postgres",
            ProbeKind::Mysql => "mysql",
            ProbeKind::Ike => "ike",
            ProbeKind::OpenVpnUdp | ProbeKind::OpenVpnTcp => "openvpn",
            ProbeKind::Pptp => "pptp",
            ProbeKind::Ssdp => "ssdp",
        }
    }
}
