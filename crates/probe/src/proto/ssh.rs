//! The SSH service probe: reads the server's identification line and its KEXINIT, then
//! closes. It sends only its own identification line; no key exchange is started.

use clinicscan_model::{Service, Software, SshFacts, WeakAlgorithm};
use clinicscan_wire::ssh as wire;
use tokio::io::AsyncWriteExt;

use super::ProbeContext;
use super::io::{self, Budget, invalid, read_framed};

const PROBE: &str = "ssh";

/// Fills `service.facts.ssh` from a real handshake.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut budget = Budget::new(ctx.max_bytes);
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => return service.probe_errors.push(e.to_probe_error(PROBE)),
    };
    // Both sides may send their identification at once (RFC 4253 §4.2).
    if let Err(e) = io::write_all(ctx, &mut stream, wire::CLIENT_IDENT).await {
        return service.probe_errors.push(e.to_probe_error(PROBE));
    }
    let mut buf = Vec::new();
    let n = match read_framed(
        ctx,
        &mut stream,
        &mut buf,
        &mut budget,
        wire::ident_complete,
    )
    .await
    {
        Ok(n) => n,
        Err(e) => return service.probe_errors.push(e.to_probe_error(PROBE)),
    };
    let id = match wire::parse_identification(&buf[..n]) {
        Ok(id) => id,
        Err(e) => return service.probe_errors.push(invalid(PROBE, e)),
    };
    buf.drain(..n);
    service.protocol = Some("ssh".to_string());
    let (product, version) = wire::split_software(&id.software);
    service.software = Some(Software {
        vendor: None,
        product,
        version,
        evidence: format!("identification line: {}", id.line),
    });
    let mut facts = SshFacts {
        banner: id.line.clone(),
        protocol_version: id.proto_version.clone(),
        software: id.software.clone(),
        comments: id.comments.clone(),
        ..SshFacts::default()
    };
    match read_framed(
        ctx,
        &mut stream,
        &mut buf,
        &mut budget,
        wire::packet_complete,
    )
    .await
    {
        Ok(n) => match wire::parse_kexinit(&buf[..n]) {
            Ok(k) => {
                facts.weak = wire::weaknesses(&k)
                    .into_iter()
                    .map(|w| WeakAlgorithm {
                        kind: w.kind.to_string(),
                        name: w.name,
                        reason: w.reason.to_string(),
                    })
                    .collect();
                facts.kex = k.kex;
                facts.host_key = k.host_key;
                facts.ciphers = k.ciphers_c2s;
                facts.macs = k.macs_c2s;
                facts.compression = k.compression_c2s;
            }
            Err(e) => service.probe_errors.push(invalid(PROBE, e)),
        },
        Err(e) => service.probe_errors.push(e.to_probe_error(PROBE)),
    }
    let _ = stream.shutdown().await;
    service.facts.ssh = Some(facts);
}
