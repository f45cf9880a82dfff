//! The TLS audit: which of SSL 2.0, 3.0, TLS 1.0, 1.1, 1.2 and 1.3 a server accepts, the cipher
//! suites it accepts with each (in its preference order), its certificate chain, and whether
//! it asks for a client certificate.
//!
//! How (the testssl.sh / sslyze method, done with fewer connections):
//! - SSL 2.0: one SSLv2 CLIENT-HELLO (`wire::tls_sslv2`); its answer lists all shared ciphers;
//! - per version, offer every known suite in one raw ClientHello ([`wire::tls`]), note the
//!   suite the server chose, remove it, and offer the rest again until the server refuses:
//!   one connection per accepted suite plus one, and the server's preference order falls out;
//! - the five versions run concurrently on at most [`AUDIT_CONNECTIONS`] connections at a
//!   time (one, with pauses, for the gentle profile), each within `ctx.deadline`;
//! - the first accepted handshake of each version reads the plaintext flight up to
//!   ServerHelloDone: the certificate chain and CertificateRequest come from there, so no
//!   extra connection is needed below TLS 1.3;
//! - a connection closed without a TLS answer is how some stacks refuse an offer, but also
//!   how a server that counts connections per source (ocserv's ban score, appliances' brute
//!   force guards) shuts the scanner out mid-audit. The two are told apart by evidence: one
//!   control hello that the server accepted before. Answered, the close refused that offer;
//!   closed too, the server is refusing this scanner — the audit waits [`READMIT_WAITS`] for
//!   it to readmit us and resumes where it stopped, or ends with a `RefusedByPeer` error and
//!   no facts: a suite list cut short by a ban must never read as the server's whole list;
//! - a TLS 1.3-only server encrypts its certificate, so one rustls handshake fetches it with
//!   [`AcceptAnyCertificate`]. That is safe here: the audit only *reads facts* from the
//!   certificate (and reports expiry, self-signature, weak keys); it never trusts the peer,
//!   sends no credentials and no application data over that connection.
//!
//! Cross-probe API: [`audit`] is also called by RDP (after X.224 negotiation) and SMTP (after
//! STARTTLS) with a [`Prelude`] that brings each fresh connection to where a ClientHello is
//! expected.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clinicscan_model::{
    CipherSuite, ProbeError, ProbeErrorKind, Service, SuiteWeakness, TlsFacts, TlsVersion,
    TlsVersionResult,
};
use clinicscan_wire::cert::certificate_facts;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::ProbeContext;
use super::io::{self, Budget, FrameError, IoError};
use clinicscan_wire::tls::{
    self as wire, ClientHello, ServerFlight, parse_record, record_complete,
};
use clinicscan_wire::tls_sslv2 as sslv2;

/// Opens a fresh connection ready for a TLS ClientHello.
pub(crate) type Prelude =
    for<'a> fn(
        &'a ProbeContext,
    ) -> Pin<Box<dyn Future<Output = Result<TcpStream, IoError>> + Send + 'a>>;

/// The most connections the audit keeps open to one endpoint at a time.
pub(crate) const AUDIT_CONNECTIONS: usize = 4;

/// Suites per hello when a server refused the full list.
const FALLBACK_CHUNK: usize = 120;

/// How long the audit waits, one after the other, for a server that stopped answering this
/// scanner to readmit it (a short per-source ban: ocserv's lasts its `min-reauth-time`).
const READMIT_WAITS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// Bytes read from one handshake at most (a ServerHello flight with a long chain).
const PER_HANDSHAKE_BYTES: usize = 96 * 1024;

/// The versions audited, lowest first, with their wire codes.
const VERSIONS: [(TlsVersion, u16); 6] = [
    (TlsVersion::Ssl2, 0x0002),
    (TlsVersion::Ssl3, wire::SSL3),
    (TlsVersion::Tls10, wire::TLS10),
    (TlsVersion::Tls11, wire::TLS11),
    (TlsVersion::Tls12, wire::TLS12),
    (TlsVersion::Tls13, wire::TLS13),
];

/// Why one handshake attempt gave no ServerHello.
#[derive(Debug)]
enum HelloError {
    Io(IoError),
    Tls(clinicscan_wire::Error),
}

/// What one version's enumeration found.
#[derive(Debug, Default)]
struct VersionOutcome {
    accepted: Option<bool>,
    suites: Vec<u16>,
    /// The first accepted handshake's flight (chain, CertificateRequest).
    first_flight: Option<ServerFlight>,
    /// The server answered in TLS (ServerHello or alert) at least once.
    spoke_tls: bool,
    /// The first error that stopped this version, if any.
    error: Option<ProbeError>,
    /// SSL 2.0 only: the certificate in the SERVER-HELLO.
    sslv2_certificate: Option<Vec<u8>>,
    /// The version's first hello was closed before anything else in the audit had been
    /// answered, so there was no control hello to judge the close by.
    closed_unjudged: bool,
}

/// State shared by the concurrent enumerations of one audit.
struct Shared<'a> {
    ctx: &'a ProbeContext,
    prelude: Option<Prelude>,
    slots: Semaphore,
    bytes: AtomicUsize,
    x25519_public: [u8; 32],
    /// A (version, suite) the server accepted during this audit: the control hello.
    known_good: Mutex<Option<(u16, u16)>>,
    /// Handshakes the server answered with a ServerHello during this audit.
    answered: AtomicUsize,
    /// One enumeration at a time asks whether a close was a refusal of the scanner.
    judging_close: tokio::sync::Mutex<()>,
    /// How often the server was seen readmitting the scanner after shutting it out.
    readmissions: AtomicUsize,
    /// Set when the server was found refusing this scanner: the audit's result.
    refused: Mutex<Option<ProbeError>>,
}

/// What a connection closed without a TLS answer meant.
enum CloseMeaning {
    /// Nothing in the audit has been answered yet: no control hello to judge by.
    Unjudged,
    /// The server answers this scanner: the close refused what that hello offered.
    RefusedOffer,
    /// The server stopped answering and readmitted the scanner: offer the same again.
    Readmitted,
    /// The server refuses this scanner (the error says how); the audit stops.
    RefusedScanner,
}

fn x25519_public_key() -> [u8; 32] {
    // A real key, so that TLS 1.3 servers accept the key share; the handshake never
    // completes, the private half is dropped at once.
    let rng = ring::rand::SystemRandom::new();
    ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::X25519, &rng)
        .and_then(|k| k.compute_public_key())
        .ok()
        .and_then(|p| <[u8; 32]>::try_from(p.as_ref()).ok())
        // RFC 7748 §6.1 test vector (Alice's public key): a valid point, if the RNG failed.
        .unwrap_or([
            0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e,
            0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e,
            0xaa, 0x9b, 0x4e, 0x6a,
        ])
}

fn random32() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut r = [0u8; 32];
    let _ = ring::rand::SystemRandom::new().fill(&mut r);
    r
}

/// SNI is sent only for a host name (never an IP literal).
fn sni(ctx: &ProbeContext) -> Option<&str> {
    ctx.server_name
        .as_deref()
        .filter(|n| n.parse::<std::net::IpAddr>().is_err())
}

impl Shared<'_> {
    async fn open(&self) -> Result<TcpStream, IoError> {
        match self.prelude {
            Some(p) => p(self.ctx).await,
            None => io::connect(self.ctx).await,
        }
    }

    /// One ClientHello; reads until the ServerHello (or the whole plaintext flight if
    /// `full`), an alert, or an error.
    async fn hello(
        &self,
        version: u16,
        suites: &[u16],
        full: bool,
    ) -> Result<ServerFlight, HelloError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| HelloError::Io(IoError::Timeout))?;
        let used = self.bytes.load(Ordering::Relaxed);
        if used >= self.ctx.max_bytes {
            return Err(HelloError::Io(IoError::TooLarge(self.ctx.max_bytes)));
        }
        let mut stream = self.open().await.map_err(HelloError::Io)?;
        let hello = ClientHello {
            version,
            suites,
            server_name: sni(self.ctx),
            random: random32(),
            x25519_public: self.x25519_public,
        }
        .encode();
        io::write_all(self.ctx, &mut stream, &hello)
            .await
            .map_err(|e| match e {
                IoError::Io(e) if is_reset(&e) => HelloError::Io(IoError::Closed(0)),
                e => HelloError::Io(e),
            })?;
        let limit = PER_HANDSHAKE_BYTES.min(self.ctx.max_bytes - used);
        let mut budget = Budget::new(limit);
        let mut buf = Vec::new();
        let mut flight = ServerFlight::new();
        let result = loop {
            match io::read_framed(
                self.ctx,
                &mut stream,
                &mut buf,
                &mut budget,
                record_complete,
            )
            .await
            {
                Ok(_) => {}
                Err(FrameError::Io(e)) => break Err(HelloError::Io(e)),
                Err(FrameError::Wire(e)) => break Err(HelloError::Tls(e)),
            }
            let (rec, n) = match parse_record(&buf) {
                Ok(r) => r,
                Err(e) => break Err(HelloError::Tls(e)),
            };
            if let Err(e) = flight.push_record(&rec) {
                break Err(HelloError::Tls(e));
            }
            buf.drain(..n);
            if flight.finished() || (!full && flight.server_hello.is_some()) {
                break Ok(());
            }
        };
        self.bytes
            .fetch_add(limit - budget.remaining(), Ordering::Relaxed);
        match result {
            Ok(()) => Ok(flight),
            // A flight cut short after the ServerHello still answers the version question.
            Err(HelloError::Io(_)) if flight.server_hello.is_some() => Ok(flight),
            Err(e) => Err(e),
        }
    }

    /// SSL 2.0: one CLIENT-HELLO. The SERVER-HELLO lists every shared cipher kind at once;
    /// those are 3-byte SSLv2 codes outside the cipher-suite registry, so the version result
    /// carries no suites (accepting SSL 2.0 at all is the finding).
    async fn sslv2(&self) -> VersionOutcome {
        let mut out = VersionOutcome::default();
        let _slot = match self.slots.acquire().await {
            Ok(s) => s,
            Err(_) => return out,
        };
        let result = async {
            let mut stream = self.open().await?;
            let mut challenge = [0u8; 16];
            challenge.copy_from_slice(&random32()[..16]);
            io::write_all(
                self.ctx,
                &mut stream,
                &sslv2::encode_client_hello(challenge),
            )
            .await?;
            let mut budget = Budget::new(PER_HANDSHAKE_BYTES.min(self.ctx.max_bytes));
            let mut buf = Vec::new();
            let n = match io::read_framed(
                self.ctx,
                &mut stream,
                &mut buf,
                &mut budget,
                sslv2::record_complete,
            )
            .await
            {
                Ok(n) => n,
                // Not an SSLv2 record: the checks below tell what came instead.
                Err(FrameError::Wire(_)) => 0,
                Err(FrameError::Io(e)) => return Err(e),
            };
            buf.truncate(n.max(buf.len().min(7)));
            Ok::<_, IoError>(buf)
        }
        .await;
        match result {
            Ok(bytes) => match sslv2::parse_server_hello(&bytes) {
                Ok(sh) => {
                    out.spoke_tls = true;
                    let accepted = sh.version == 2 && !sh.cipher_kinds.is_empty();
                    out.accepted = Some(accepted);
                    if accepted {
                        out.sslv2_certificate = sh.certificate;
                    }
                }
                // A TLS alert: a TLS server refusing SSL 2.0.
                Err(_) if bytes.first() == Some(&wire::CONTENT_ALERT) => {
                    out.spoke_tls = true;
                    out.accepted = Some(false);
                }
                // Another TLS record: not SSL 2.0 (the TLS hellos judge the rest).
                Err(_)
                    if !matches!(wire::record_complete(&bytes), Ok(None))
                        && bytes.get(1) == Some(&3) =>
                {
                    out.accepted = Some(false);
                }
                Err(e) => out.error = Some(tls_probe_error(&e)),
            },
            Err(e) => match closed_without_answer(&e) {
                Some(closed) => {
                    out.accepted = Some(false);
                    out.error = Some(closed);
                }
                None => out.error = Some(e.to_probe_error("tls")),
            },
        }
        out
    }

    /// Enumerates the suites of one version (see the module comment). Some TLS stacks
    /// (old load balancers, embedded devices) refuse a hello with hundreds of suites; when
    /// the full list is refused, the list is offered again in chunks of
    /// [`FALLBACK_CHUNK`] before the version is called refused.
    async fn enumerate(&self, version: u16) -> VersionOutcome {
        let all = wire::suites_for(version);
        let mut out = self.enumerate_list(version, all.clone()).await;
        if out.accepted != Some(false) || all.len() <= FALLBACK_CHUNK {
            return out;
        }
        for chunk in all.chunks(FALLBACK_CHUNK) {
            let sub = self.enumerate_list(version, chunk.to_vec()).await;
            if sub.accepted == Some(true) {
                out.accepted = Some(true);
                out.suites.extend(sub.suites);
                if out.first_flight.is_none() {
                    out.first_flight = sub.first_flight;
                }
            }
            if out.error.is_none() {
                out.error = sub.error;
            }
        }
        out
    }

    /// Offers `offered`, removes the chosen suite, and repeats until refused.
    async fn enumerate_list(&self, version: u16, mut offered: Vec<u16>) -> VersionOutcome {
        let mut out = VersionOutcome::default();
        while !offered.is_empty() {
            if self.is_refused() {
                break;
            }
            if tokio::time::Instant::now() >= self.ctx.deadline {
                out.error.get_or_insert(ProbeError {
                    probe: "tls".into(),
                    kind: ProbeErrorKind::Timeout,
                    detail: format!(
                        "deadline passed while enumerating {}",
                        version_name(version)
                    ),
                });
                break;
            }
            let first = out.suites.is_empty();
            let readmissions = self.readmissions.load(Ordering::Relaxed);
            match self.hello(version, &offered, first).await {
                Ok(flight) => {
                    out.spoke_tls = true;
                    match chosen_suite(version, &flight) {
                        Some(suite) => {
                            if !offered.contains(&suite) {
                                out.error.get_or_insert(ProbeError {
                                    probe: "tls".into(),
                                    kind: ProbeErrorKind::InvalidMessage,
                                    detail: format!(
                                        "server chose suite 0x{suite:04x} that was not offered"
                                    ),
                                });
                                break;
                            }
                            out.accepted = Some(true);
                            self.answered.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut good) = self.known_good.lock() {
                                good.get_or_insert((version, suite));
                            }
                            out.suites.push(suite);
                            offered.retain(|s| *s != suite);
                            if first {
                                out.first_flight = Some(flight);
                            }
                        }
                        None => {
                            if first {
                                out.accepted = Some(false);
                            }
                            break;
                        }
                    }
                }
                // Closing or resetting instead of answering is how some servers refuse an
                // offer, and how others shut out a source they count (see the module
                // comment). The close is the error fact only if the peer never spoke TLS.
                Err(HelloError::Io(e)) if closed_without_answer(&e).is_some() => {
                    match self.judge_close(readmissions).await {
                        CloseMeaning::Readmitted => continue,
                        CloseMeaning::RefusedScanner => break,
                        meaning @ (CloseMeaning::RefusedOffer | CloseMeaning::Unjudged) => {
                            if first {
                                out.accepted = Some(false);
                                out.closed_unjudged = matches!(meaning, CloseMeaning::Unjudged);
                            }
                            if let Some(error) = closed_without_answer(&e) {
                                out.error.get_or_insert(error);
                            }
                            break;
                        }
                    }
                }
                Err(HelloError::Io(e)) => {
                    out.error.get_or_insert(e.to_probe_error("tls"));
                    break;
                }
                Err(HelloError::Tls(e)) => {
                    out.error.get_or_insert(tls_probe_error(&e));
                    break;
                }
            }
        }
        out
    }
}

impl Shared<'_> {
    fn is_refused(&self) -> bool {
        self.refused.lock().is_ok_and(|r| r.is_some())
    }

    /// Whether the server still answers the control hello (a version and suite it accepted
    /// during this audit): `Some(true)` answered with that suite, `Some(false)` closed, reset
    /// or stayed silent, `None` answered otherwise (an alert: it still speaks TLS to us).
    async fn control_answered(&self, (version, suite): (u16, u16)) -> Option<bool> {
        match self.hello(version, &[suite], false).await {
            Ok(flight) => {
                let chosen = chosen_suite(version, &flight) == Some(suite);
                if chosen {
                    self.answered.fetch_add(1, Ordering::Relaxed);
                }
                chosen.then_some(true)
            }
            Err(HelloError::Io(e))
                if closed_without_answer(&e).is_some() || matches!(e, IoError::Timeout) =>
            {
                Some(false)
            }
            Err(_) => None,
        }
    }

    /// What a connection closed without a TLS answer meant, from evidence: the control hello
    /// first, then (if the server closes that too) [`READMIT_WAITS`] for it to readmit us.
    /// `readmissions` is the count when the closed hello was sent: if another enumeration
    /// has seen the scanner readmitted since, this close fell in the same shut-out.
    async fn judge_close(&self, readmissions: usize) -> CloseMeaning {
        let Some(control) = self.known_good.lock().ok().and_then(|g| *g) else {
            return CloseMeaning::Unjudged;
        };
        let _one_at_a_time = self.judging_close.lock().await;
        if self.is_refused() {
            return CloseMeaning::RefusedScanner;
        }
        if self.readmissions.load(Ordering::Relaxed) != readmissions {
            return CloseMeaning::Readmitted;
        }
        if self.control_answered(control).await != Some(false) {
            return CloseMeaning::RefusedOffer;
        }
        let answered = self.answered.load(Ordering::Relaxed);
        let mut waited = Duration::ZERO;
        for wait in READMIT_WAITS {
            if tokio::time::Instant::now() + wait >= self.ctx.deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            waited += wait;
            if self.control_answered(control).await != Some(false) {
                tracing::info!(
                    target_addr = %self.ctx.addr,
                    answered,
                    waited_ms = waited.as_millis() as u64,
                    "TLS server shut the scanner out for a while, then answered again"
                );
                self.readmissions.fetch_add(1, Ordering::Relaxed);
                return CloseMeaning::Readmitted;
            }
        }
        if let Ok(mut refused) = self.refused.lock() {
            refused.get_or_insert(ProbeError {
                probe: "tls".into(),
                kind: ProbeErrorKind::RefusedByPeer,
                detail: format!(
                    "after answering {answered} TLS handshakes the server closed every \
                     connection without a TLS alert, even a hello it had accepted, for {} s \
                     (a per-source ban or connection limit)",
                    waited.as_secs()
                ),
            });
        }
        CloseMeaning::RefusedScanner
    }
}

/// The error fact for a connection closed or reset without a TLS answer, or `None` for
/// other I/O errors.
fn closed_without_answer(e: &IoError) -> Option<ProbeError> {
    match e {
        IoError::Closed(_) => Some(e.to_probe_error("tls")),
        IoError::Io(io) if is_reset(io) => Some(ProbeError {
            probe: "tls".into(),
            kind: ProbeErrorKind::ConnectionClosed,
            detail: format!("connection reset: {io}"),
        }),
        _ => None,
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    )
}

fn version_name(v: u16) -> &'static str {
    match v {
        wire::SSL3 => "SSLv3",
        wire::TLS10 => "TLSv1.0",
        wire::TLS11 => "TLSv1.1",
        wire::TLS12 => "TLSv1.2",
        wire::TLS13 => "TLSv1.3",
        _ => "unknown version",
    }
}

/// The error fact for a TLS parse failure.
pub(crate) fn tls_probe_error(e: &clinicscan_wire::Error) -> ProbeError {
    ProbeError {
        probe: "tls".into(),
        kind: match e {
            clinicscan_wire::Error::TooLarge { .. } => ProbeErrorKind::TooLarge,
            _ => ProbeErrorKind::InvalidMessage,
        },
        detail: e.to_string(),
    }
}

/// The suite the server accepted for exactly `version`, or `None` if it refused it (alert,
/// or answered with another version).
fn chosen_suite(version: u16, flight: &ServerFlight) -> Option<u16> {
    let sh = flight.server_hello.as_ref()?;
    if version >= wire::TLS13 {
        (sh.selected_version == Some(wire::TLS13)).then_some(sh.cipher_suite)
    } else {
        (sh.selected_version.is_none() && sh.legacy_version == version && !sh.retry_request)
            .then_some(sh.cipher_suite)
    }
}

fn cipher_suite(code: u16) -> CipherSuite {
    let name = wire::suite_name(code)
        .map(str::to_string)
        .unwrap_or_else(|| format!("UNKNOWN_0x{code:04X}"));
    CipherSuite {
        id: code,
        weaknesses: wire::suite_weaknesses(&name),
        name,
    }
}

/// Audits the TLS endpoint at `ctx.addr`. `via` names how TLS was reached ("direct",
/// "rdp", "starttls-smtp", ...); `prelude` is `None` for TLS directly on the port.
///
/// `Err` only when the peer never spoke TLS (garbage, silence, resets): what it did is the
/// error fact. Partial results (a version cut short by the deadline) are `accepted: null`.
pub(crate) async fn audit(
    ctx: &ProbeContext,
    via: &'static str,
    prelude: Option<Prelude>,
) -> Result<TlsFacts, ProbeError> {
    let connections = if !ctx.pace.is_gentle() {
        AUDIT_CONNECTIONS
    } else {
        1
    };
    let shared = Shared {
        ctx,
        prelude,
        slots: Semaphore::new(connections),
        bytes: AtomicUsize::new(0),
        x25519_public: x25519_public_key(),
        known_good: Mutex::new(None),
        answered: AtomicUsize::new(0),
        judging_close: tokio::sync::Mutex::new(()),
        readmissions: AtomicUsize::new(0),
        refused: Mutex::new(None),
    };
    // TLS 1.2 and 1.3 first: they decide the common case and carry the certificate.
    let (t12, t13, t11, t10, s3, s2) = tokio::join!(
        shared.enumerate(wire::TLS12),
        shared.enumerate(wire::TLS13),
        shared.enumerate(wire::TLS11),
        shared.enumerate(wire::TLS10),
        shared.enumerate(wire::SSL3),
        shared.sslv2(),
    );
    let mut outcomes = [s2, s3, t10, t11, t12, t13];
    // A version whose first hello was closed while nothing had yet been answered (the
    // versions start together) is asked again now that a control hello exists: a ban that
    // began at the start of the audit must not read as the version being refused.
    if shared.known_good.lock().is_ok_and(|g| g.is_some()) {
        for (outcome, (_, code)) in outcomes.iter_mut().zip(VERSIONS).skip(1) {
            if outcome.closed_unjudged && !shared.is_refused() {
                *outcome = shared.enumerate(code).await;
            }
        }
    }
    // A server that shut the scanner out mid-audit: what was enumerated is not its whole
    // list, so nothing of it is a fact (earlier knowledge stays: "not re-checked").
    if let Some(refused) = shared.refused.lock().ok().and_then(|mut r| r.take()) {
        return Err(refused);
    }

    if !outcomes.iter().any(|o| o.spoke_tls) {
        // Prefer the error that says most about the peer.
        let rank = |e: &ProbeError| match e.kind {
            ProbeErrorKind::InvalidMessage | ProbeErrorKind::TooLarge => 0,
            ProbeErrorKind::ConnectionClosed => 1,
            ProbeErrorKind::Timeout => 2,
            ProbeErrorKind::ConnectFailed => 3,
            _ => 4,
        };
        // SSL 2.0's error only if nothing else failed: its hello is the oddest, and its
        // answer the least telling.
        let best = outcomes[1..]
            .iter()
            .filter_map(|o| o.error.clone())
            .min_by_key(rank)
            .or_else(|| outcomes[0].error.clone());
        return Err(best.unwrap_or_else(|| ProbeError {
            probe: "tls".into(),
            kind: ProbeErrorKind::ConnectionClosed,
            detail: "the peer closed the connection after every ClientHello".into(),
        }));
    }

    let mut facts = TlsFacts {
        via: via.to_string(),
        ..TlsFacts::default()
    };
    let mut weak: Vec<String> = Vec::new();
    let mut weaknesses: Vec<SuiteWeakness> = Vec::new();
    for ((version, _), outcome) in VERSIONS.iter().zip(&outcomes) {
        let suites: Vec<CipherSuite> = outcome.suites.iter().map(|c| cipher_suite(*c)).collect();
        for s in &suites {
            if !s.weaknesses.is_empty() && !weak.contains(&s.name) {
                weak.push(s.name.clone());
            }
            weaknesses.extend(s.weaknesses.iter().copied());
        }
        if outcome.accepted == Some(true) {
            facts.accepted_versions.push(*version);
        }
        facts.versions.push(TlsVersionResult {
            version: *version,
            accepted: outcome.accepted,
            suites,
        });
    }
    weaknesses.sort();
    weaknesses.dedup();
    facts.weak_suites = weak;
    facts.weaknesses = weaknesses;

    // The certificate: from the highest version below 1.3 that sent its flight in plaintext.
    let flight = outcomes[1..5]
        .iter()
        .rev()
        .filter_map(|o| o.first_flight.as_ref())
        .find(|f| f.chain.is_some() || f.hello_done);
    let mut chain_der: Vec<Vec<u8>> = Vec::new();
    if let Some(f) = flight {
        if f.hello_done {
            facts.client_cert_requested = Some(f.certificate_request);
        }
        chain_der = f.chain.clone().unwrap_or_default();
    } else if outcomes[5].accepted == Some(true) {
        chain_der = tls13_chain(&shared).await.unwrap_or_default();
    } else if let Some(cert) = &outcomes[0].sslv2_certificate {
        chain_der = vec![cert.clone()];
    }
    facts.chain = chain_der
        .iter()
        .filter_map(|der| certificate_facts(der, ctx.now).ok())
        .collect();
    facts.certificate = chain_der
        .first()
        .and_then(|der| certificate_facts(der, ctx.now).ok());
    Ok(facts)
}

/// Fills `service.facts.tls` for TLS directly on the port.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    match audit(ctx, "direct", None).await {
        Ok(facts) => {
            service.protocol = Some("tls".to_string());
            service.facts.tls = Some(facts);
        }
        Err(e) => service.probe_errors.push(e),
    }
}

// ---------------------------------------------------------------- rustls, for facts only

/// A certificate verifier that accepts any certificate and any signature.
///
/// Used only where clinicscan reads facts from a peer it does not trust: the TLS 1.3
/// certificate (encrypted, so raw hellos cannot see it) and HTTPS pages of devices with
/// self-signed certificates. Nothing secret is ever sent over such a connection, and every
/// fact read is reported as what the peer claimed, never as verified.
#[derive(Debug)]
pub(crate) struct AcceptAnyCertificate(Vec<SignatureScheme>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

/// A rustls client configuration (TLS 1.2 and 1.3) that accepts any certificate: see
/// [`AcceptAnyCertificate`] for why that is safe for a scanner.
pub(crate) fn facts_only_client_config(alpn: &[&[u8]]) -> Option<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let schemes = provider
        .signature_verification_algorithms
        .supported_schemes();
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(schemes)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Some(Arc::new(config))
}

/// The server name rustls sends: the host name when known, else the IP address (no SNI).
pub(crate) fn rustls_server_name(ctx: &ProbeContext) -> ServerName<'static> {
    sni(ctx)
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(ctx.addr.ip().into()))
}

/// The chain a TLS 1.3 server sends (encrypted): one rustls handshake (after the prelude,
/// if any), then close.
async fn tls13_chain(shared: &Shared<'_>) -> Option<Vec<Vec<u8>>> {
    let ctx = shared.ctx;
    let config = facts_only_client_config(&[])?;
    let stream = shared.open().await.ok()?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout_at(
        io::step_deadline(ctx),
        connector.connect(rustls_server_name(ctx), stream),
    )
    .await
    .ok()?
    .ok()?;
    let (_, conn) = tls.get_ref();
    let chain = conn
        .peer_certificates()?
        .iter()
        .take(wire::MAX_CHAIN)
        .map(|c| c.as_ref().to_vec())
        .collect();
    Some(chain)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use clinicscan_model::ProbeErrorKind;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn ctx(addr: SocketAddr, budget: Duration) -> ProbeContext {
        ProbeContext {
            addr,
            deadline: tokio::time::Instant::now() + budget,
            io_timeout: Duration::from_millis(300),
            retransmit: Duration::from_millis(100),
            max_bytes: 1 << 20,
            now: chrono::Utc::now(),
            server_name: None,
            snmp_communities: Vec::new(),
            pace: crate::pace::Pace::default(),
        }
    }

    /// A loopback server that answers every connection with `reply` after reading the hello,
    /// then closes (or, with `hold`, keeps the connection open).
    async fn hostile(reply: Vec<u8>, hold: bool) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(&reply).await;
                    if hold {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                });
            }
        });
        addr
    }

    /// Reads one whole TLS record (the client's hello) from `s`.
    async fn read_record(s: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        while n < 5 || n < 5 + usize::from(u16::from_be_bytes([buf[3], buf[4]])) {
            match s.read(&mut buf[n..]).await {
                Ok(0) | Err(_) => return None,
                Ok(k) => n += k,
            }
        }
        buf.truncate(n);
        Some(buf)
    }

    async fn audit_err(reply: &[u8], hold: bool) -> ProbeError {
        let addr = hostile(reply.to_vec(), hold).await;
        let started = std::time::Instant::now();
        let err = audit(&ctx(addr, Duration::from_secs(3)), "direct", None)
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "ended by its deadline"
        );
        err
    }

    #[tokio::test]
    async fn garbage_is_an_invalid_message() {
        let err = audit_err(b"HTTP/1.1 400 Bad Request\r\n\r\n", false).await;
        assert_eq!(err.kind, ProbeErrorKind::InvalidMessage);
        assert_eq!(err.detail, "invalid message: not TLS: record type 0x48");
    }

    #[tokio::test]
    async fn oversized_record_is_too_large() {
        let err = audit_err(&[22, 3, 3, 0xFF, 0xFF, 2, 0, 0], false).await;
        assert_eq!(err.kind, ProbeErrorKind::TooLarge);
    }

    #[tokio::test]
    async fn truncated_handshake_then_close() {
        // A record header promising 80 bytes, 3 of them sent, then FIN.
        let err = audit_err(&[22, 3, 3, 0, 80, 2, 0, 0], false).await;
        assert_eq!(err.kind, ProbeErrorKind::ConnectionClosed);
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let err = audit_err(&[], true).await;
        assert_eq!(err.kind, ProbeErrorKind::Timeout);
    }

    #[tokio::test]
    async fn truncated_handshake_held_open_is_a_timeout() {
        let err = audit_err(&[22, 3, 3, 0, 80, 2, 0, 0], true).await;
        assert_eq!(err.kind, ProbeErrorKind::Timeout);
    }

    #[tokio::test]
    async fn reset_before_any_reply() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                // SO_LINGER 0: close sends RST.
                let _ = s.set_zero_linger();
                drop(s);
            }
        });
        let err = audit(&ctx(addr, Duration::from_secs(3)), "direct", None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ProbeErrorKind::ConnectionClosed);
    }

    #[tokio::test]
    async fn alert_to_everything_is_tls_with_nothing_accepted() {
        let addr = hostile(vec![21, 3, 3, 0, 2, 2, 40], false).await;
        let facts = audit(&ctx(addr, Duration::from_secs(3)), "direct", None)
            .await
            .unwrap();
        assert!(facts.accepted_versions.is_empty());
        assert!(facts.versions.iter().all(|v| v.accepted == Some(false)));
        assert_eq!(facts.certificate, None);
    }

    #[tokio::test]
    async fn servers_refusing_long_hellos_are_enumerated_in_chunks() {
        // Answers with nginx's recorded TLS 1.0 flight (suite 0xC013) only to hellos under
        // 600 bytes that offer 0xC013; closes on anything longer, as some old stacks do.
        let flight = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/tls/nginx-weak-tls10-flight.bin"
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Some(hello) = read_record(&mut s).await else {
                        return;
                    };
                    let offers = hello.windows(2).any(|w| w == [0xC0, 0x13]);
                    if hello.len() < 600 && offers && hello[9..11] == [3, 1] {
                        let _ = s.write_all(flight).await;
                    } else {
                        let _ = s.write_all(&[21, 3, 1, 0, 2, 2, 40]).await;
                    }
                });
            }
        });
        let facts = audit(&ctx(addr, Duration::from_secs(3)), "direct", None)
            .await
            .unwrap();
        assert_eq!(facts.accepted_versions, vec![TlsVersion::Tls10]);
        assert_eq!(facts.versions[2].suites.len(), 1);
        assert_eq!(facts.versions[2].suites[0].id, 0xC013);
    }

    /// A scripted server: accepts `versions`, chooses the first of `suites` (its own
    /// preference order) that the hello offers, answers ServerHello + ServerHelloDone, and
    /// alerts handshake_failure otherwise.
    async fn scripted(versions: &'static [u16], suites: &'static [u16]) -> SocketAddr {
        scripted_with(versions, suites, Script::default()).await
    }

    /// How a scripted server departs from answering every hello.
    #[derive(Clone, Copy, Default)]
    struct Script {
        /// Refuse an offer by closing the connection instead of an alert (old stacks).
        refuse_by_close: bool,
        /// After this many connections, close every new one at once (a per-source ban)...
        ban_after: Option<usize>,
        /// ...for this long (`None`: for good).
        ban_for: Option<Duration>,
    }

    /// [`scripted`], departing from it as `script` says.
    async fn scripted_with(
        versions: &'static [u16],
        suites: &'static [u16],
        script: Script,
    ) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut connections = 0usize;
            let mut banned_at: Option<tokio::time::Instant> = None;
            while let Ok((mut s, _)) = listener.accept().await {
                connections += 1;
                if script.ban_after.is_some_and(|n| connections > n) {
                    let since = *banned_at.get_or_insert_with(tokio::time::Instant::now);
                    if script.ban_for.is_none_or(|d| since.elapsed() < d) {
                        drop(s);
                        continue;
                    }
                }
                tokio::spawn(async move {
                    let Some(buf) = read_record(&mut s).await else {
                        return;
                    };
                    let version = u16::from_be_bytes([buf[9], buf[10]]);
                    let sid = usize::from(buf[43]);
                    let at = 44 + sid;
                    let len = usize::from(u16::from_be_bytes([buf[at], buf[at + 1]]));
                    let offered: Vec<u16> = buf[at + 2..at + 2 + len]
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                    let choice = suites.iter().find(|c| offered.contains(c));
                    let reply = match choice {
                        Some(suite) if versions.contains(&version) => {
                            let mut body = version.to_be_bytes().to_vec();
                            body.extend([0x42; 32]);
                            body.push(0);
                            body.extend(suite.to_be_bytes());
                            body.push(0);
                            let mut hs = vec![2, 0, 0, body.len() as u8];
                            hs.extend(body);
                            hs.extend([14, 0, 0, 0]);
                            let mut rec = vec![22];
                            rec.extend(version.to_be_bytes());
                            rec.extend((hs.len() as u16).to_be_bytes());
                            rec.extend(hs);
                            rec
                        }
                        _ if script.refuse_by_close => return,
                        _ => vec![21, 3, 0, 0, 2, 2, 40],
                    };
                    let _ = s.write_all(&reply).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn ssl3_server_enumerated_in_its_preference_order() {
        let addr = scripted(
            &[wire::SSL3, wire::TLS10],
            &[0x0005, 0x000A, 0x0004, 0x0003],
        )
        .await;
        let facts = audit(&ctx(addr, Duration::from_secs(3)), "direct", None)
            .await
            .unwrap();
        assert_eq!(
            facts.accepted_versions,
            vec![TlsVersion::Ssl3, TlsVersion::Tls10]
        );
        let names: Vec<&str> = facts.versions[1]
            .suites
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            names,
            vec![
                "TLS_RSA_WITH_RC4_128_SHA",
                "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                "TLS_RSA_WITH_RC4_128_MD5",
                "TLS_RSA_EXPORT_WITH_RC4_40_MD5"
            ]
        );
        assert_eq!(facts.versions[2].suites, facts.versions[1].suites);
        assert_eq!(
            facts.weaknesses,
            vec![
                SuiteWeakness::Export,
                SuiteWeakness::Rc4,
                SuiteWeakness::Des64BitBlock,
                SuiteWeakness::CbcSha1,
                SuiteWeakness::NoForwardSecrecy,
                SuiteWeakness::Md5
            ]
        );
        // ServerHelloDone without a Certificate: anonymous flight, nothing requested.
        assert_eq!(facts.client_cert_requested, Some(false));
        assert_eq!(facts.certificate, None);
    }

    const BAN_VERSIONS: &[u16] = &[wire::TLS12];
    const BAN_SUITES: &[u16] = &[
        0xC030, 0xC02F, 0xC014, 0xC013, 0x009D, 0x009C, 0x0035, 0x002F,
    ];

    fn suite_ids(facts: &TlsFacts, version: usize) -> Vec<u16> {
        facts.versions[version]
            .suites
            .iter()
            .map(|s| s.id)
            .collect()
    }

    #[tokio::test]
    async fn a_server_refusing_offers_by_closing_is_enumerated_to_the_end() {
        let script = Script {
            refuse_by_close: true,
            ..Script::default()
        };
        let addr = scripted_with(BAN_VERSIONS, BAN_SUITES, script).await;
        let facts = audit(&ctx(addr, Duration::from_secs(5)), "direct", None)
            .await
            .unwrap();
        assert_eq!(suite_ids(&facts, 4), BAN_SUITES);
        assert_eq!(facts.accepted_versions, vec![TlsVersion::Tls12]);
    }

    /// ocserv's ban: every connection scores a point; at the limit the source is shut out
    /// for a short while, then readmitted. The audit waits and gets the whole list.
    #[tokio::test]
    async fn a_short_ban_mid_audit_is_waited_out_and_the_list_is_whole() {
        let script = Script {
            ban_after: Some(5),
            ban_for: Some(Duration::from_millis(1500)),
            ..Script::default()
        };
        let addr = scripted_with(BAN_VERSIONS, BAN_SUITES, script).await;
        let facts = audit(&ctx(addr, Duration::from_secs(10)), "direct", None)
            .await
            .unwrap();
        assert_eq!(suite_ids(&facts, 4), BAN_SUITES);
        assert_eq!(facts.accepted_versions, vec![TlsVersion::Tls12]);
    }

    /// A ban that lasts: the enumerated part is not the server's list, so there are no
    /// facts, only the refusal.
    #[tokio::test]
    async fn a_lasting_ban_mid_audit_is_a_refusal_not_a_short_list() {
        let script = Script {
            ban_after: Some(5),
            ban_for: None,
            ..Script::default()
        };
        let addr = scripted_with(BAN_VERSIONS, BAN_SUITES, script).await;
        let err = audit(&ctx(addr, Duration::from_secs(12)), "direct", None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ProbeErrorKind::RefusedByPeer, "{err:?}");
        assert!(err.detail.contains("per-source ban"), "{}", err.detail);
    }

    #[tokio::test]
    async fn byte_limit_stops_the_audit_with_unknowns() {
        let addr = scripted(
            &[wire::SSL3, wire::TLS10, wire::TLS11, wire::TLS12],
            &[0x0005, 0x000A, 0x002F, 0x0035],
        )
        .await;
        let mut c = ctx(addr, Duration::from_secs(3));
        c.max_bytes = 150; // about two ServerHello flights
        let facts = audit(&c, "direct", None).await.unwrap();
        let enumerated: usize = facts.versions.iter().map(|v| v.suites.len()).sum();
        assert!(enumerated < 16, "{enumerated}");
        assert!(facts.versions.iter().any(|v| v.accepted.is_none()));
    }

    #[tokio::test]
    async fn sslv2_only_server() {
        // Answers an SSLv2 CLIENT-HELLO with a SERVER-HELLO (RC4-MD5, 3DES-MD5 and the weak
        // lab certificate); alerts every TLS hello.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let reply = if n > 2 && buf[0] == 0x80 && buf[2] == 1 {
                        let cert = include_bytes!(concat!(
                            env!("CARGO_MANIFEST_DIR"),
                            "/../../fixtures/tls/cert-weak.der"
                        ));
                        let mut msg = vec![4, 0, 1, 0, 2];
                        msg.extend((cert.len() as u16).to_be_bytes());
                        msg.extend(6u16.to_be_bytes());
                        msg.extend(16u16.to_be_bytes());
                        msg.extend(cert);
                        msg.extend([0x01, 0x00, 0x80, 0x07, 0x00, 0xC0]);
                        msg.extend([0x5A; 16]);
                        let mut rec = vec![0x80 | (msg.len() >> 8) as u8, msg.len() as u8];
                        rec.extend(msg);
                        rec
                    } else {
                        vec![21, 3, 0, 0, 2, 2, 40]
                    };
                    let _ = s.write_all(&reply).await;
                });
            }
        });
        let facts = audit(&ctx(addr, Duration::from_secs(3)), "direct", None)
            .await
            .unwrap();
        assert_eq!(facts.accepted_versions, vec![TlsVersion::Ssl2]);
        assert_eq!(facts.versions[0].version, TlsVersion::Ssl2);
        assert!(facts.versions[0].suites.is_empty());
        let cert = facts.certificate.unwrap();
        assert_eq!(cert.signature_algorithm, "sha1WithRSAEncryption");
    }

    #[tokio::test]
    async fn gentle_profile_uses_one_connection_at_a_time() {
        let addr = scripted(&[wire::TLS12], &[0xC02F]).await;
        let mut c = ctx(addr, Duration::from_secs(5));
        c.pace = crate::pace::Pace::new(Duration::from_millis(5), None);
        let facts = audit(&c, "direct", None).await.unwrap();
        assert_eq!(facts.accepted_versions, vec![TlsVersion::Tls12]);
        assert!(facts.weak_suites.is_empty());
    }

    #[tokio::test]
    async fn recorded_weak_flight_replayed() {
        // Replays nginx's TLS 1.0 answer to every hello: TLS 1.0 is accepted with the one
        // suite, the other versions are refused (wrong version), and the chain is read.
        let bytes = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/tls/nginx-weak-tls10-flight.bin"
        ));
        let addr = hostile(bytes.to_vec(), false).await;
        let facts = audit(&ctx(addr, Duration::from_secs(3)), "direct", None)
            .await
            .unwrap();
        assert_eq!(facts.accepted_versions, vec![TlsVersion::Tls10]);
        let t10 = &facts.versions[2];
        assert_eq!(t10.suites.len(), 1);
        assert_eq!(t10.suites[0].name, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(facts.weaknesses, vec![SuiteWeakness::CbcSha1]);
        assert_eq!(facts.client_cert_requested, Some(false));
        let cert = facts.certificate.unwrap();
        assert!(cert.expired && cert.self_signed);
    }
}
