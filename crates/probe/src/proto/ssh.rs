//! The SSH service probe: reads the server's identification line and its KEXINIT, then
//! closes (the first connection sends only its own identification line). A second
//! connection asks which authentication methods the server offers: a full key exchange
//! (russh, any host key accepted: it is recorded, not trusted) and one `none` userauth
//! request (RFC 4252 §5.2), whose failure lists the methods; then the connection is closed.
//! No password or key is ever sent.
//!
//! What OpenSSH records for that (auth2.c, auth.c, monitor.c, checked in the labs' logs):
//! the first `none` request is not counted towards MaxAuthTries ("Allow initial try of
//! \"none\" auth without failure penalty"); with privilege separation `none` is not a
//! monitor request, so no "Failed none" line is logged; the user name is looked up in the
//! monitor, which logs "Invalid user X" (counted by fail2ban) for an unknown user — hence
//! `root`, which every Unix-like server has. The connection's end is logged as "Connection
//! closed by authenticating user root ADDR port N [preauth]" (fail2ban's default and
//! `extra` modes do not count it; its `ddos`/`aggressive` modes count any pre-auth close,
//! the identification-only connection's "Connection closed by ADDR port N [preauth]" too;
//! an SSH_MSG_DISCONNECT would make it "Disconnected from authenticating user ...", which
//! `extra` counts, so the probe just closes). Where `AllowUsers` leaves
//! out root or `DenyUsers` names it, OpenSSH logs "User root from ADDR not allowed",
//! which fail2ban counts: no SSH request can learn the methods without naming a user.

use clinicscan_model::{ProbeError, ProbeErrorKind, Service, Software, SshFacts, WeakAlgorithm};
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
    let mut kexinit_read = false;
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
                kexinit_read = true;
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
    // A second connection only to a server that sent a valid KEXINIT: one that did not
    // would fail the key exchange too, and its first error is the one worth reporting
    if kexinit_read {
        match auth_methods(ctx).await {
            Ok(methods) => {
                facts.auth_methods = methods;
                facts.auth_methods_user = Some(AUTH_USER.to_string());
            }
            Err(e) => service.probe_errors.push(e),
        }
    }
    service.facts.ssh = Some(facts);
}

/// The user of the `none` request (see the module doc).
const AUTH_USER: &str = "root";

/// Accepts any host key: the probe records servers, it does not trust them.
struct AnyHostKey;

impl russh::client::Handler for AnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// A stream that fails reads once `remaining` bytes have been read: the probe's byte limit
/// around a library that reads on its own.
struct Budgeted {
    inner: tokio::net::TcpStream,
    remaining: usize,
}

impl tokio::io::AsyncRead for Budgeted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.remaining == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("byte limit reached")));
        }
        let mut chunk = [0u8; 8192];
        let want = self.remaining.min(buf.remaining()).min(chunk.len());
        let mut limited = tokio::io::ReadBuf::new(&mut chunk[..want]);
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        if let std::task::Poll::Ready(Ok(())) = poll {
            let n = limited.filled().len();
            buf.put_slice(limited.filled());
            self.remaining -= n;
        }
        poll
    }
}

impl tokio::io::AsyncWrite for Budgeted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The methods the server lists after a `none` request, on a connection of its own.
async fn auth_methods(ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
    let stream = io::connect(ctx)
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    let config = std::sync::Arc::new(russh::client::Config {
        client_id: russh::SshId::Standard("SSH-2.0-clinicscan".into()),
        inactivity_timeout: Some(ctx.io_timeout),
        ..russh::client::Config::default()
    });
    let budgeted = Budgeted {
        inner: stream,
        remaining: ctx.max_bytes,
    };
    let session = async {
        let mut handle = russh::client::connect_stream(config, budgeted, AnyHostKey).await?;
        let result = handle.authenticate_none(AUTH_USER).await?;
        // Dropping the handle closes the connection without SSH_MSG_DISCONNECT: OpenSSH then
        // logs "Connection closed by authenticating user ...", which fail2ban's `extra`
        // mode does not count, where it counts "Disconnected from authenticating user ..."
        drop(handle);
        Ok::<_, russh::Error>(result)
    };
    let result = match tokio::time::timeout_at(ctx.deadline, session).await {
        Err(_) => return Err(io::IoError::Timeout.to_probe_error(PROBE)),
        Ok(Err(e)) => {
            return Err(ProbeError {
                probe: PROBE.to_string(),
                kind: ProbeErrorKind::PeerIncompatible,
                detail: format!("key exchange for the auth methods: {e}"),
            });
        }
        Ok(Ok(r)) => r,
    };
    Ok(match result {
        // `none` accepted: anyone may log in without any credential
        russh::client::AuthResult::Success => vec!["none".to_string()],
        russh::client::AuthResult::Failure {
            remaining_methods, ..
        } => remaining_methods.iter().map(String::from).collect(),
    })
}
