//! MySQL / MariaDB: read the server greeting (server-first), then close without sending
//! anything.

use clinicscan_model::{MysqlFacts, ProbeError, ProbeErrorKind, Service, Software};
use clinicscan_wire::mysql::{self as wire, ServerHello};

use super::ProbeContext;
use super::io::{self, Budget};

const NAME: &str = "mysql";

/// Fills `service.facts.mysql`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let hello = match read_hello(ctx).await {
        Ok(h) => h,
        Err(e) => {
            service.probe_errors.push(e);
            return;
        }
    };
    service.protocol = Some("mysql".to_string());
    match hello {
        ServerHello::Greeting(g) => {
            let (product, version) = wire::product_and_version(&g.version);
            service.software = Some(Software {
                vendor: None,
                product: product.to_string(),
                version: Some(version),
                evidence: format!("greeting server version \"{}\"", g.version),
            });
            service.facts.mysql = Some(MysqlFacts {
                protocol: Some(g.protocol),
                version: Some(g.version),
                tls_supported: Some(g.capabilities & wire::CLIENT_SSL != 0),
                auth_plugin: g.auth_plugin,
                host_blocked: Some(false),
            });
        }
        ServerHello::Error { code, message } => {
            let blocked = matches!(
                code,
                wire::ER_HOST_IS_BLOCKED | wire::ER_HOST_NOT_PRIVILEGED
            );
            service.facts.mysql = Some(MysqlFacts {
                protocol: None,
                version: None,
                tls_supported: None,
                auth_plugin: None,
                host_blocked: Some(blocked),
            });
            if !blocked {
                service.probe_errors.push(ProbeError {
                    probe: NAME.to_string(),
                    kind: ProbeErrorKind::PeerIncompatible,
                    detail: format!("error {code}: {message}"),
                });
            }
        }
    }
}

async fn read_hello(ctx: &ProbeContext) -> Result<ServerHello, ProbeError> {
    let mut stream = io::connect(ctx).await.map_err(|e| e.to_probe_error(NAME))?;
    let mut buf = Vec::new();
    let mut budget = Budget::new(ctx.max_bytes.min(wire::MAX_PAYLOAD + 4));
    let n = io::read_framed(ctx, &mut stream, &mut buf, &mut budget, wire::packet_len)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    wire::parse_first_packet(&buf[..n]).map_err(|e| io::invalid(NAME, e))
}
