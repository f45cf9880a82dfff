//! The RDP service probe: which security protocols the server accepts, whether a client can
//! connect without NLA, the TLS audit of RDP's TLS layer, and the NTLM target information a
//! CredSSP server discloses in its first challenge.
//!
//! # Connection count
//!
//! Each X.224 Connection Request yields one answer: the protocol the server selected from
//! those offered, or a failure code (MS-RDPBCGR 3.3.5.3.1: the server selects a protocol it
//! "supports and is configured to use"). clinicscan asks adaptively:
//!
//! 1. offer SSL | HYBRID | HYBRID_EX: the server picks its strongest. HYBRID_EX/HYBRID tells
//!    CredSSP (and early user authorization) is accepted; SSL tells TLS is accepted and that
//!    the server does not use CredSSP even when offered; RDP or SSL_NOT_ALLOWED tells
//!    neither TLS nor CredSSP is used.
//! 2. offer only PROTOCOL_RDP (skipped when step 1 already saw standard RDP selected):
//!    accepted means a client needs no NLA; HYBRID_REQUIRED_BY_SERVER is the server stating
//!    that both standard RDP and TLS-only are refused, which settles `nla_required`.
//! 3. offer only SSL, only when TLS-only is still unknown (a CredSSP server whose answer to
//!    step 2 was not HYBRID_REQUIRED).
//!
//! When standard RDP security is selected (step 1 or 2), the same connection goes on with an
//! MCS Connect Initial offering every encryption method: the server's SC_SECURITY names the
//! method it picks and its encryption level. Only at levels "low" and "client-compatible",
//! which let a client choose, are 40-bit and 56-bit asked for alone (one connection each).
//!
//! So one connection for a standard-RDP-only server at level high, two for an NLA-only
//! server or a negotiating xrdp, three for a Windows host that offers NLA without requiring
//! it; nmap's rdp-enum-encryption makes one connection per protocol and per encryption
//! method (nine to eleven in the lab). The TLS audit and the NTLM read are separate
//! connections on top, as in nmap (ssl-enum-ciphers, rdp-ntlm-info).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use clinicscan_model::{NtlmInfo, ProbeError, RdpFacts, Service};
use clinicscan_wire::ntlm;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget, IoError, invalid, read_framed};
use clinicscan_wire::rdp::{self as wire, Negotiation};

const PROBE: &str = "rdp";

/// One X.224 negotiation on a fresh connection; returns the stream for further use.
async fn negotiate_on(
    ctx: &ProbeContext,
    budget: &mut Budget,
    requested: u32,
) -> Result<(TcpStream, Negotiation), ProbeError> {
    let mut stream = io::connect(ctx)
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    io::write_all(ctx, &mut stream, &wire::connection_request(requested))
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    let mut buf = Vec::new();
    let n = read_framed(ctx, &mut stream, &mut buf, budget, wire::tpkt_complete)
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    let neg = wire::parse_connection_confirm(&buf[..n]).map_err(|e| invalid(PROBE, e))?;
    Ok((stream, neg))
}

async fn negotiate(
    ctx: &ProbeContext,
    budget: &mut Budget,
    requested: u32,
    facts: &mut RdpFacts,
    errors: &mut Vec<ProbeError>,
) -> Result<Negotiation, ProbeError> {
    let (mut stream, neg) = negotiate_on(ctx, budget, requested).await?;
    // Standard RDP security was selected: read the server's encryption method and level on
    // this same connection (MCS Connect Initial offering every method).
    let standard = matches!(
        neg,
        Negotiation::Legacy
            | Negotiation::Selected {
                protocol: wire::PROTOCOL_RDP,
                ..
            }
    );
    if standard && facts.encryption_level.is_none() {
        match mcs(ctx, &mut stream, budget, wire::ENCRYPTION_ALL).await {
            Ok(sec) => {
                facts.encryption_level = Some(wire::encryption_level_name(sec.level));
                facts
                    .encryption_methods
                    .push(wire::encryption_method_name(sec.method));
            }
            Err(e) => errors.push(e),
        }
    }
    let _ = stream.shutdown().await;
    Ok(neg)
}

/// MCS Connect Initial offering `methods`; the server's SC_SECURITY.
async fn mcs(
    ctx: &ProbeContext,
    stream: &mut TcpStream,
    budget: &mut Budget,
    methods: u32,
) -> Result<wire::ServerSecurity, ProbeError> {
    io::write_all(
        ctx,
        stream,
        &wire::mcs_connect_initial(methods, wire::PROTOCOL_RDP),
    )
    .await
    .map_err(|e| e.to_probe_error(PROBE))?;
    let mut buf = Vec::new();
    let n = read_framed(ctx, stream, &mut buf, budget, wire::tpkt_complete)
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    wire::parse_mcs_connect_response(&buf[..n]).map_err(|e| invalid(PROBE, e))
}

/// Whether a server whose level allows weak methods accepts `method` offered alone.
async fn accepts_method(ctx: &ProbeContext, budget: &mut Budget, method: u32) -> Option<bool> {
    let (mut stream, neg) = negotiate_on(ctx, budget, wire::PROTOCOL_RDP).await.ok()?;
    if !matches!(
        neg,
        Negotiation::Legacy
            | Negotiation::Selected {
                protocol: wire::PROTOCOL_RDP,
                ..
            }
    ) {
        return None;
    }
    let r = mcs(ctx, &mut stream, budget, method).await;
    let _ = stream.shutdown().await;
    match r {
        Ok(sec) => Some(sec.method == method),
        // refusing the connection is how a server says no to the method
        Err(e) if e.kind == clinicscan_model::ProbeErrorKind::ConnectionClosed => Some(false),
        Err(_) => None,
    }
}

/// Fills `service.facts.rdp` (and `service.facts.tls`) from real handshakes.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut budget = Budget::new(ctx.max_bytes);
    let mut facts = RdpFacts::default();
    let fail = |facts: &mut RdpFacts, code: u32| {
        let name = wire::failure_name(code);
        if !facts.negotiation_failures.contains(&name) {
            facts.negotiation_failures.push(name);
        }
    };

    // 1. the strongest the server will use
    let first = wire::PROTOCOL_SSL | wire::PROTOCOL_HYBRID | wire::PROTOCOL_HYBRID_EX;
    let mut answer = negotiate(
        ctx,
        &mut budget,
        first,
        &mut facts,
        &mut service.probe_errors,
    )
    .await;
    if let Ok(Negotiation::Failure(4)) = answer {
        // INCONSISTENT_FLAGS: a server that does not know HYBRID_EX; ask again without it
        fail(&mut facts, 4);
        facts.credssp_early_auth = Some(false);
        let again = wire::PROTOCOL_SSL | wire::PROTOCOL_HYBRID;
        answer = negotiate(
            ctx,
            &mut budget,
            again,
            &mut facts,
            &mut service.probe_errors,
        )
        .await;
    }
    match answer {
        Ok(Negotiation::Selected { protocol, .. }) => match protocol {
            wire::PROTOCOL_HYBRID_EX => {
                facts.credssp = Some(true);
                facts.credssp_early_auth = Some(true);
            }
            wire::PROTOCOL_HYBRID => {
                facts.credssp = Some(true);
                facts.credssp_early_auth = Some(false);
            }
            wire::PROTOCOL_SSL => {
                facts.tls = Some(true);
                facts.credssp = Some(false);
                facts.credssp_early_auth = Some(false);
            }
            wire::PROTOCOL_RDP => {
                facts.standard_rdp = Some(true);
                facts.tls = Some(false);
                facts.credssp = Some(false);
                facts.credssp_early_auth = Some(false);
            }
            other => {
                service.probe_errors.push(invalid(
                    PROBE,
                    format!(
                        "server selected {} which was not offered",
                        wire::protocol_name(other)
                    ),
                ));
            }
        },
        Ok(Negotiation::Failure(code)) => {
            fail(&mut facts, code);
            if code == 2 {
                // SSL_NOT_ALLOWED_BY_SERVER: standard RDP security only
                facts.tls = Some(false);
                facts.credssp = Some(false);
                facts.credssp_early_auth = Some(false);
            }
        }
        Ok(Negotiation::Legacy) => {
            // no negotiation support at all: standard RDP security only
            facts.standard_rdp = Some(true);
            facts.tls = Some(false);
            facts.credssp = Some(false);
            facts.credssp_early_auth = Some(false);
        }
        Err(e) => return service.probe_errors.push(e),
    }
    service.protocol = Some("rdp".to_string());

    // 2. standard RDP security alone
    if facts.standard_rdp.is_none() {
        match negotiate(
            ctx,
            &mut budget,
            wire::PROTOCOL_RDP,
            &mut facts,
            &mut service.probe_errors,
        )
        .await
        {
            Ok(Negotiation::Selected {
                protocol: wire::PROTOCOL_RDP,
                ..
            })
            | Ok(Negotiation::Legacy) => facts.standard_rdp = Some(true),
            Ok(Negotiation::Selected { .. }) => facts.standard_rdp = Some(false),
            Ok(Negotiation::Failure(code)) => {
                fail(&mut facts, code);
                facts.standard_rdp = Some(false);
                if code == 5 {
                    // HYBRID_REQUIRED_BY_SERVER: TLS without CredSSP is refused too
                    facts.tls.get_or_insert(false);
                    facts.credssp.get_or_insert(true);
                }
            }
            Err(e) => service.probe_errors.push(e),
        }
    }

    // 3. TLS without CredSSP
    if facts.tls.is_none() {
        match negotiate(
            ctx,
            &mut budget,
            wire::PROTOCOL_SSL,
            &mut facts,
            &mut service.probe_errors,
        )
        .await
        {
            Ok(Negotiation::Selected { protocol, .. }) => {
                facts.tls = Some(protocol == wire::PROTOCOL_SSL)
            }
            Ok(Negotiation::Failure(code)) => {
                fail(&mut facts, code);
                facts.tls = Some(false);
            }
            Ok(Negotiation::Legacy) => facts.tls = Some(false),
            Err(e) => service.probe_errors.push(e),
        }
    }

    // Levels low and client-compatible let the client pick weaker keys (MS-RDPBCGR
    // 5.3.1): ask for 40-bit and 56-bit alone. High and FIPS forbid them; not asked.
    if matches!(
        facts.encryption_level.as_deref(),
        Some("low" | "client-compatible")
    ) {
        for method in [wire::ENCRYPTION_40BIT, wire::ENCRYPTION_56BIT] {
            let name = wire::encryption_method_name(method);
            if !facts.encryption_methods.contains(&name)
                && accepts_method(ctx, &mut budget, method).await == Some(true)
            {
                facts.encryption_methods.push(name);
            }
        }
    }

    facts.nla_required = match (facts.standard_rdp, facts.tls) {
        (Some(true), _) | (_, Some(true)) => Some(false),
        (Some(false), Some(false)) => Some(facts.credssp == Some(true)).filter(|&b| b),
        _ => None,
    };

    // The TLS layer, reached the way a client would.
    let prelude: Option<super::tls::Prelude> = if facts.tls == Some(true) {
        Some(ssl_prelude)
    } else if facts.credssp == Some(true) {
        Some(hybrid_prelude)
    } else {
        None
    };
    if let Some(prelude) = prelude {
        match super::tls::audit(ctx, "rdp", Some(prelude)).await {
            Ok(tls) => service.facts.tls = Some(tls),
            Err(e) => service.probe_errors.push(e),
        }
    }

    // NTLM target information from CredSSP's first leg.
    if facts.credssp == Some(true) {
        let requested = if facts.credssp_early_auth == Some(true) {
            wire::PROTOCOL_HYBRID_EX
        } else {
            wire::PROTOCOL_HYBRID
        };
        match ntlm_info(ctx, &mut budget, requested).await {
            Ok(info) => facts.ntlm = Some(info),
            Err(e) => service.probe_errors.push(e),
        }
    }
    service.facts.rdp = Some(facts);
}

async fn prelude(ctx: &ProbeContext, requested: u32) -> Result<TcpStream, IoError> {
    let mut budget = Budget::new(ctx.max_bytes);
    let (stream, neg) = negotiate_on(ctx, &mut budget, requested)
        .await
        .map_err(|e| IoError::Io(std::io::Error::other(e.detail)))?;
    match neg {
        Negotiation::Selected { protocol, .. } if protocol == requested => Ok(stream),
        other => Err(IoError::Io(std::io::Error::other(format!(
            "RDP negotiation for TLS answered {other:?}"
        )))),
    }
}

/// TLS prelude: X.224 negotiation of PROTOCOL_SSL.
pub(super) fn ssl_prelude(
    ctx: &ProbeContext,
) -> Pin<Box<dyn Future<Output = Result<TcpStream, IoError>> + Send + '_>> {
    Box::pin(prelude(ctx, wire::PROTOCOL_SSL))
}

/// TLS prelude for NLA-only servers: X.224 negotiation of PROTOCOL_HYBRID.
pub(super) fn hybrid_prelude(
    ctx: &ProbeContext,
) -> Pin<Box<dyn Future<Output = Result<TcpStream, IoError>> + Send + '_>> {
    Box::pin(prelude(ctx, wire::PROTOCOL_HYBRID))
}

/// CredSSP first leg: TLS (any certificate: only facts are read), a TSRequest with an NTLM
/// NEGOTIATE, and the server's TSRequest with the CHALLENGE. The connection is then closed;
/// no AUTHENTICATE message, and so no credential, is ever sent.
async fn ntlm_info(
    ctx: &ProbeContext,
    budget: &mut Budget,
    requested: u32,
) -> Result<NtlmInfo, ProbeError> {
    let (stream, neg) = negotiate_on(ctx, budget, requested).await?;
    if !matches!(neg, Negotiation::Selected { protocol, .. } if protocol == requested) {
        return Err(invalid(
            PROBE,
            format!("CredSSP negotiation answered {neg:?}"),
        ));
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::new(accept_any_config()));
    let name = rustls::pki_types::ServerName::IpAddress(ctx.addr.ip().into());
    let mut tls = match tokio::time::timeout_at(
        io::step_deadline(ctx),
        connector.connect(name, stream),
    )
    .await
    {
        Err(_) => return Err(IoError::Timeout.to_probe_error(PROBE)),
        Ok(Err(e)) => return Err(invalid(PROBE, format!("TLS handshake for CredSSP: {e}"))),
        Ok(Ok(s)) => s,
    };
    io::write_all(ctx, &mut tls, &wire::ts_request(&ntlm::negotiate()))
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    let mut buf = Vec::new();
    let n = read_framed(ctx, &mut tls, &mut buf, budget, wire::der_complete)
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    let _ = tokio::time::timeout_at(io::step_deadline(ctx), tls.shutdown()).await;
    let c = ntlm::find_challenge(&buf[..n]).map_err(|e| invalid(PROBE, e))?;
    Ok(NtlmInfo {
        netbios_computer: c.netbios_computer,
        netbios_domain: c.netbios_domain,
        dns_computer: c.dns_computer,
        dns_domain: c.dns_domain,
        os_version: c.os_version,
    })
}

/// A rustls client configuration that accepts any server certificate: the NTLM read only
/// collects facts the server discloses to anyone, and certificate facts come from the TLS
/// audit.
pub(super) fn accept_any_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAny(provider.clone()));
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder_with_protocol_versions(rustls::DEFAULT_VERSIONS)
        });
    builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
