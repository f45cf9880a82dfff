//! The TLS service probe (not yet written).
//!
//! Cross-probe API: [`audit`] enumerates versions, suites and the certificate of a TLS
//! endpoint. Protocols that carry TLS inside (RDP after X.224 negotiation, SMTP/FTP after
//! STARTTLS) pass a [`Prelude`] that opens a fresh connection and brings it to the point
//! where a ClientHello is expected; the audit calls it once per handshake it needs.

use std::future::Future;
use std::pin::Pin;

use clinicscan_model::{ProbeError, Service, TlsFacts};
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::IoError;

/// Opens a fresh connection ready for a TLS ClientHello.
pub(crate) type Prelude = for<'a> fn(
    &'a ProbeContext,
) -> Pin<Box<dyn Future<Output = Result<TcpStream, IoError>> + Send + 'a>>;

/// Audits the TLS endpoint at `ctx.addr`. `via` names how TLS was reached ("direct",
/// "rdp", "starttls-smtp", ...); `prelude` is `None` for TLS directly on the port.
pub(crate) async fn audit(
    _ctx: &ProbeContext,
    via: &'static str,
    _prelude: Option<Prelude>,
) -> Result<TlsFacts, ProbeError> {
    Ok(TlsFacts {
        via: via.to_string(),
        ..TlsFacts::default()
    })
}

/// Fills `service.facts.tls` for TLS directly on the port.
pub(crate) async fn probe(_ctx: &ProbeContext, _service: &mut Service) {}
