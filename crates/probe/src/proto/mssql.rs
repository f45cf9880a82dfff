//! Microsoft SQL Server: one TDS PRELOGIN exchange (what every client sends first), then
//! close. No LOGIN7 is ever sent.

use clinicscan_model::{MssqlFacts, ProbeError, Service, Software};
use clinicscan_wire::mssql::{self as wire, Encryption};

use super::ProbeContext;
use super::io::{self, Budget};

const NAME: &str = "mssql";

/// Fills `service.facts.mssql`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let pre = match run(ctx).await {
        Ok(p) => p,
        Err(e) => {
            service.probe_errors.push(e);
            return;
        }
    };
    service.protocol = Some("mssql".to_string());
    if let Some((major, minor, build, sub)) = pre.version {
        service.software = Some(Software {
            vendor: Some("Microsoft".to_string()),
            product: wire::product_name(major).to_string(),
            version: Some(format!("{major}.{minor}.{build}.{sub}")),
            evidence: "PRELOGIN VERSION option".to_string(),
        });
    }
    service.facts.mssql = Some(MssqlFacts {
        version: pre.version_text(),
        encryption: pre
            .encryption
            .map_or_else(|| "absent".to_string(), Encryption::as_text),
        encryption_forced: pre.encryption.map(|e| e == Encryption::Required),
    });
}

async fn run(ctx: &ProbeContext) -> Result<wire::Prelogin, ProbeError> {
    let mut stream = io::connect(ctx).await.map_err(|e| e.to_probe_error(NAME))?;
    io::write_all(ctx, &mut stream, &wire::prelogin_request())
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    let mut buf = Vec::new();
    let mut budget = Budget::new(ctx.max_bytes.min(wire::MAX_PACKET));
    let n = io::read_framed(ctx, &mut stream, &mut buf, &mut budget, wire::packet_len)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    wire::parse_prelogin_response(&buf[..n]).map_err(|e| io::invalid(NAME, e))
}
