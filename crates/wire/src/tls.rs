//! TLS and SSL 3.0 on the wire, as far as an auditor needs it: encode a ClientHello for any
//! version with chosen suites, and read what a server answers up to the point where its
//! flight becomes encrypted (ServerHello, HelloRetryRequest, Alert, Certificate,
//! CertificateRequest, ServerHelloDone).
//!
//! Hand-written because no maintained crate encodes hellos for protocols it refuses to speak:
//! rustls (rightly) has no SSL 3.0, TLS 1.0 or 1.1, and no way to offer a chosen list of
//! legacy suites. Like testssl.sh and sslyze, the audit sends raw hellos and never completes
//! a legacy handshake.
//!
//! Framing ([`record_complete`]) is separate from parsing ([`parse_record`], [`ServerFlight`]).
//! Every length read from the peer is checked against what is left and against a fixed bound
//! before it sizes anything.

use std::fmt;

use crate::{Error, Frame, Reader, frame};

mod suites;

pub use suites::{suite_name, suite_weaknesses, suites_for};

/// Record content type: change_cipher_spec.
pub const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
/// Record content type: alert.
pub const CONTENT_ALERT: u8 = 21;
/// Record content type: handshake.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Record content type: application_data.
pub const CONTENT_APPLICATION_DATA: u8 = 23;

/// Handshake type: client_hello.
pub const HS_CLIENT_HELLO: u8 = 1;
/// Handshake type: server_hello (also HelloRetryRequest in TLS 1.3).
pub const HS_SERVER_HELLO: u8 = 2;
/// Handshake type: certificate.
pub const HS_CERTIFICATE: u8 = 11;
/// Handshake type: server_key_exchange.
pub const HS_SERVER_KEY_EXCHANGE: u8 = 12;
/// Handshake type: certificate_request.
pub const HS_CERTIFICATE_REQUEST: u8 = 13;
/// Handshake type: server_hello_done.
pub const HS_SERVER_HELLO_DONE: u8 = 14;

/// SSL 3.0 wire version.
pub const SSL3: u16 = 0x0300;
/// TLS 1.0 wire version.
pub const TLS10: u16 = 0x0301;
/// TLS 1.1 wire version.
pub const TLS11: u16 = 0x0302;
/// TLS 1.2 wire version.
pub const TLS12: u16 = 0x0303;
/// TLS 1.3 wire version.
pub const TLS13: u16 = 0x0304;

/// The largest record a peer may send: TLSCiphertext (2^14 + 2048), RFC 5246 §6.2.3.
pub const MAX_RECORD_PAYLOAD: usize = 16_384 + 2_048;
/// The largest handshake message accepted (a certificate chain of a few large certs).
pub const MAX_HANDSHAKE_MESSAGE: usize = 65_536;
/// The most certificates read from one Certificate message.
pub const MAX_CHAIN: usize = 10;

/// The SHA-256 of "HelloRetryRequest": the ServerHello.random of an HRR (RFC 8446 §4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Named groups offered in supported_groups: x25519, secp256r1, secp384r1, secp521r1, x448,
/// ffdhe2048..ffdhe8192.
const GROUPS: &[u16] = &[
    0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
];
/// x25519, the group of the key share sent with TLS 1.3 hellos.
pub const GROUP_X25519: u16 = 0x001D;

/// Signature schemes offered: every scheme a certificate may need, weak ones included so
/// that a server with only a SHA-1 or DSA key still answers.
const SIGNATURE_SCHEMES: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B, 0x0401,
    0x0501, 0x0601, 0x0303, 0x0203, 0x0201, 0x0402, 0x0502, 0x0602, 0x0302, 0x0202, 0x0301,
];

fn invalid(msg: impl fmt::Display) -> Error {
    Error::invalid(msg)
}

// ---------------------------------------------------------------- ClientHello

/// A ClientHello to encode.
#[derive(Debug, Clone)]
pub struct ClientHello<'a> {
    /// The version to offer: [`SSL3`] ..= [`TLS13`]. For TLS 1.3 the legacy version is
    /// TLS 1.2 and supported_versions offers only TLS 1.3; below it, exactly this version is
    /// the highest offered (no supported_versions extension).
    pub version: u16,
    /// Cipher suites, in order of preference.
    pub suites: &'a [u16],
    /// Host name for SNI (omitted for IP addresses and SSL 3.0).
    pub server_name: Option<&'a str>,
    /// ClientHello.random.
    pub random: [u8; 32],
    /// The client's x25519 public key for a TLS 1.3 key_share (32 bytes); ignored below 1.3.
    pub x25519_public: [u8; 32],
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `body` prefixed with its length as a u16. Callers keep bodies far below 64 KiB.
fn put_vec_u16(out: &mut Vec<u8>, body: &[u8]) {
    put_u16(out, u16::try_from(body.len()).unwrap_or(u16::MAX));
    out.extend_from_slice(body);
}

fn put_ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    put_u16(out, ty);
    put_vec_u16(out, body);
}

impl ClientHello<'_> {
    /// The whole record (header included) carrying this ClientHello.
    pub fn encode(&self) -> Vec<u8> {
        let tls13 = self.version >= TLS13;
        let mut body = Vec::with_capacity(1024);
        put_u16(&mut body, if tls13 { TLS12 } else { self.version });
        body.extend_from_slice(&self.random);
        if tls13 {
            // Middlebox compatibility mode (RFC 8446 §D.4): a non-empty legacy session id.
            body.push(32);
            body.extend_from_slice(&self.random);
        } else {
            body.push(0);
        }
        let mut suites = Vec::with_capacity(self.suites.len() * 2);
        for s in self.suites.iter().take(32_000) {
            put_u16(&mut suites, *s);
        }
        put_vec_u16(&mut body, &suites);
        body.extend_from_slice(&[1, 0]); // compression: null only

        if self.version > SSL3 {
            let mut exts = Vec::with_capacity(256);
            if let Some(name) = self.server_name.filter(|n| !n.is_empty() && n.len() < 256) {
                let mut sni = Vec::new();
                let mut list = vec![0u8];
                put_vec_u16(&mut list, name.as_bytes());
                put_vec_u16(&mut sni, &list);
                put_ext(&mut exts, 0x0000, &sni);
            }
            let mut groups = Vec::new();
            for g in GROUPS {
                put_u16(&mut groups, *g);
            }
            let mut ext = Vec::new();
            put_vec_u16(&mut ext, &groups);
            put_ext(&mut exts, 0x000A, &ext);
            put_ext(&mut exts, 0x000B, &[1, 0]); // ec_point_formats: uncompressed
            if self.version >= TLS12 {
                let mut schemes = Vec::new();
                for s in SIGNATURE_SCHEMES {
                    put_u16(&mut schemes, *s);
                }
                let mut ext = Vec::new();
                put_vec_u16(&mut ext, &schemes);
                put_ext(&mut exts, 0x000D, &ext);
            }
            put_ext(&mut exts, 0x0017, &[]); // extended_master_secret
            put_ext(&mut exts, 0x0023, &[]); // session_ticket
            if tls13 {
                put_ext(&mut exts, 0x002B, &[2, 0x03, 0x04]); // supported_versions
                put_ext(&mut exts, 0x002D, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
                let mut share = Vec::new();
                put_u16(&mut share, GROUP_X25519);
                put_vec_u16(&mut share, &self.x25519_public);
                let mut ext = Vec::new();
                put_vec_u16(&mut ext, &share);
                put_ext(&mut exts, 0x0033, &ext);
            } else {
                put_ext(&mut exts, 0xFF01, &[0]); // renegotiation_info, initial
            }
            put_vec_u16(&mut body, &exts);
        }

        let mut hs = Vec::with_capacity(body.len() + 4);
        hs.push(HS_CLIENT_HELLO);
        let len = body.len();
        hs.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
        hs.extend_from_slice(&body);

        let mut rec = Vec::with_capacity(hs.len() + 5);
        rec.push(CONTENT_HANDSHAKE);
        put_u16(&mut rec, if self.version == SSL3 { SSL3 } else { TLS10 });
        put_vec_u16(&mut rec, &hs);
        rec
    }
}

// ---------------------------------------------------------------- records

/// One TLS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Content type.
    pub content_type: u8,
    /// Record-layer version.
    pub version: u16,
    /// Payload.
    pub payload: &'a [u8],
}

fn valid_content_type(t: u8) -> bool {
    (CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_APPLICATION_DATA).contains(&t)
}

/// Reads a record header (content type, version, payload length), refusing at the first
/// byte that cannot start a record: an unknown content type, a major version other than 3,
/// a length beyond [`MAX_RECORD_PAYLOAD`].
fn record_header(buf: &[u8], r: &mut Reader<'_>) -> Result<(u8, u16, usize), Error> {
    let content_type = r.u8()?;
    if !valid_content_type(content_type) {
        if content_type & 0x80 != 0 && buf.get(2) == Some(&4) {
            return Err(invalid("SSLv2 server hello"));
        }
        return Err(invalid(format_args!(
            "not TLS: record type 0x{content_type:02x}"
        )));
    }
    let major = r.u8()?;
    if major != 3 {
        return Err(Error::unexpected(
            "TLS record major version",
            format_args!("0x{major:02x}"),
        ));
    }
    let version = u16::from_be_bytes([major, r.u8()?]);
    let len = usize::from(r.u16()?);
    if len > MAX_RECORD_PAYLOAD {
        return Err(Error::TooLarge {
            what: "record",
            len,
        });
    }
    Ok((content_type, version, len))
}

/// Framing: a whole record (header and payload) at the start of `buf`.
pub fn record_complete(buf: &[u8]) -> Frame {
    frame(buf, "TLS record", |r| {
        let (_, _, len) = record_header(buf, r)?;
        Ok(5 + len)
    })
}

/// Parses the record at the start of `buf`, returning it and the bytes it used.
pub fn parse_record(buf: &[u8]) -> Result<(Record<'_>, usize), Error> {
    let mut r = Reader::new(buf, "TLS record");
    let (content_type, version, len) = record_header(buf, &mut r)?;
    let payload = r.take(len)?;
    Ok((
        Record {
            content_type,
            version,
            payload,
        },
        5 + len,
    ))
}

// ---------------------------------------------------------------- server messages

/// An alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// Alert description code.
    pub description: u8,
}

impl Alert {
    /// The alert's name (RFC 8446 §6 and SSL 3.0).
    pub fn name(&self) -> &'static str {
        match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            47 => "illegal_parameter",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            _ => "other",
        }
    }
}

/// Parses an alert record's payload.
pub fn parse_alert(payload: &[u8]) -> Result<Alert, Error> {
    let mut r = Reader::new(payload, "alert");
    Ok(Alert {
        level: r.u8()?,
        description: r.u8()?,
    })
}

/// A ServerHello or HelloRetryRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// ServerHello.legacy_version (server_version before TLS 1.3).
    pub legacy_version: u16,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
    /// The chosen compression method.
    pub compression: u8,
    /// The supported_versions extension's selected version, when present.
    pub selected_version: Option<u16>,
    /// This is a HelloRetryRequest.
    pub retry_request: bool,
    /// Extension types present, in order.
    pub extensions: Vec<u16>,
}

impl ServerHello {
    /// The negotiated version: supported_versions if present, else legacy_version.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Parses a ServerHello handshake body (without the 4-byte handshake header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, Error> {
    let mut r = Reader::new(body, "ServerHello");
    let legacy_version = r.u16()?;
    if legacy_version >> 8 != 3 {
        return Err(invalid(format_args!(
            "ServerHello version 0x{legacy_version:04x}"
        )));
    }
    let random = r.take(32)?;
    let session_id = r.vec_u8()?;
    if session_id.len() > 32 {
        return Err(invalid("ServerHello session id longer than 32"));
    }
    let cipher_suite = r.u16()?;
    let compression = r.u8()?;
    let mut selected_version = None;
    let mut extensions = Vec::new();
    if !r.is_empty() {
        let mut exts = Reader::new(r.vec_u16()?, "ServerHello extensions");
        while !exts.is_empty() {
            let ty = exts.u16()?;
            let data = exts.vec_u16()?;
            if extensions.len() < 64 {
                extensions.push(ty);
            }
            if ty == 0x002B {
                let mut d = Reader::new(data, "supported_versions");
                selected_version = Some(d.u16()?);
            }
        }
    }
    Ok(ServerHello {
        legacy_version,
        cipher_suite,
        compression,
        selected_version,
        retry_request: random == HRR_RANDOM,
        extensions,
    })
}

/// Parses a TLS ≤ 1.2 Certificate body: the chain as sent, leaf first (DER, not parsed).
pub fn parse_certificate_chain(body: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut r = Reader::new(body, "Certificate");
    let mut list = Reader::new(r.vec_u24()?, "certificate list");
    let mut chain = Vec::new();
    while !list.is_empty() {
        let der = list.vec_u24()?;
        if chain.len() < MAX_CHAIN {
            chain.push(der.to_vec());
        }
    }
    Ok(chain)
}

/// What a server's first flight showed, up to where it becomes encrypted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFlight {
    /// The ServerHello (or HelloRetryRequest), once received.
    pub server_hello: Option<ServerHello>,
    /// The certificate chain (TLS ≤ 1.2), once received.
    pub chain: Option<Vec<Vec<u8>>>,
    /// A CertificateRequest was received.
    pub certificate_request: bool,
    /// A ServerKeyExchange was received.
    pub server_key_exchange: bool,
    /// ServerHelloDone was received: the plaintext flight is complete.
    pub hello_done: bool,
    /// The alert the server sent, if any.
    pub alert: Option<Alert>,
    /// Unconsumed handshake bytes (a message split across records).
    pending: Vec<u8>,
}

impl ServerFlight {
    /// A new, empty flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Nothing more in plaintext will follow: an alert, ServerHelloDone, or a TLS 1.3
    /// ServerHello / HelloRetryRequest (the rest is encrypted or needs a second hello).
    pub fn finished(&self) -> bool {
        if self.alert.is_some() || self.hello_done {
            return true;
        }
        match &self.server_hello {
            Some(sh) => sh.retry_request || sh.version() >= TLS13,
            None => false,
        }
    }

    /// Feeds one record from the server.
    pub fn push_record(&mut self, rec: &Record<'_>) -> Result<(), Error> {
        match rec.content_type {
            CONTENT_ALERT => {
                // An alert may be encrypted after a TLS 1.3 ServerHello; only the first counts.
                if self.alert.is_none() && !self.finished() {
                    self.alert = Some(parse_alert(rec.payload)?);
                }
                Ok(())
            }
            CONTENT_HANDSHAKE => {
                if self.finished() {
                    return Ok(());
                }
                if self.pending.len() + rec.payload.len() > MAX_HANDSHAKE_MESSAGE + 4 {
                    return Err(Error::TooLarge {
                        what: "handshake message",
                        len: self.pending.len() + rec.payload.len(),
                    });
                }
                self.pending.extend_from_slice(rec.payload);
                self.drain_messages()
            }
            CONTENT_CHANGE_CIPHER_SPEC if self.server_hello.is_some() => Ok(()),
            CONTENT_APPLICATION_DATA if self.finished() => Ok(()),
            t => Err(invalid(format_args!(
                "unexpected record type {t} before the handshake"
            ))),
        }
    }

    fn drain_messages(&mut self) -> Result<(), Error> {
        let mut used = 0;
        loop {
            if self.finished() {
                self.pending.clear();
                return Ok(());
            }
            let mut r = Reader::new(&self.pending[used..], "TLS handshake message");
            let (Ok(ty), Ok(len)) = (r.u8(), r.u24()) else {
                break;
            };
            if len > MAX_HANDSHAKE_MESSAGE {
                return Err(Error::TooLarge {
                    what: "handshake message",
                    len,
                });
            }
            let Ok(body) = r.take(len) else {
                break;
            };
            let body = body.to_vec();
            self.handle_message(ty, &body)?;
            used += 4 + len;
        }
        self.pending.drain(..used);
        Ok(())
    }

    fn handle_message(&mut self, ty: u8, body: &[u8]) -> Result<(), Error> {
        if self.server_hello.is_none() && ty != HS_SERVER_HELLO {
            return Err(invalid(format_args!(
                "handshake message {ty} before ServerHello"
            )));
        }
        match ty {
            HS_SERVER_HELLO => {
                if self.server_hello.is_some() {
                    return Err(invalid("second ServerHello"));
                }
                self.server_hello = Some(parse_server_hello(body)?);
            }
            HS_CERTIFICATE => self.chain = Some(parse_certificate_chain(body)?),
            HS_SERVER_KEY_EXCHANGE => self.server_key_exchange = true,
            HS_CERTIFICATE_REQUEST => {
                if body.is_empty() {
                    return Err(Error::Truncated {
                        what: "CertificateRequest",
                        len: 0,
                        need: 1,
                    });
                }
                self.certificate_request = true;
            }
            HS_SERVER_HELLO_DONE => self.hello_done = true,
            // Certificate status, NewSessionTicket and others are not needed.
            _ => {}
        }
        Ok(())
    }
}

/// Feeds every whole record in `buf` to `flight`; returns the bytes used. Stops early once
/// the flight is finished. For tests and fuzzing over recorded server bytes.
pub fn read_flight(buf: &[u8], flight: &mut ServerFlight) -> Result<usize, Error> {
    let mut used = 0;
    while !flight.finished() {
        let rest = &buf[used..];
        if record_complete(rest)?.is_none() {
            break;
        }
        let (rec, n) = parse_record(rest)?;
        flight.push_record(&rec)?;
        used += n;
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/tls/",
                $name
            ))
        };
    }

    fn flight(bytes: &[u8]) -> Result<ServerFlight, Error> {
        let mut f = ServerFlight::new();
        read_flight(bytes, &mut f)?;
        Ok(f)
    }

    #[test]
    fn client_hello_tls12_round_trips_its_fields() {
        let suites = suites_for(TLS12);
        let rec = ClientHello {
            version: TLS12,
            suites: &suites,
            server_name: Some("emr.clinic.invalid"),
            random: [1; 32],
            x25519_public: [9; 32],
        }
        .encode();
        let (r, n) = parse_record(&rec).unwrap();
        assert_eq!(
            (r.content_type, r.version, n),
            (CONTENT_HANDSHAKE, TLS10, rec.len())
        );
        assert_eq!(r.payload[0], HS_CLIENT_HELLO);
        // client_version, random, empty session id, then the suites.
        assert_eq!(&r.payload[4..6], &[3, 3]);
        assert_eq!(r.payload[38], 0);
        let n_suites = usize::from(u16::from_be_bytes([r.payload[39], r.payload[40]])) / 2;
        assert_eq!(n_suites, suites.len());
        assert!(rec.windows(18).any(|w| w == b"emr.clinic.invalid"));
        // No supported_versions below TLS 1.3.
        assert!(!rec.windows(4).any(|w| w == [0x00, 0x2B, 0x00, 0x03]));
    }

    #[test]
    fn client_hello_tls13_offers_only_tls13_with_a_key_share() {
        let suites = suites_for(TLS13);
        assert_eq!(suites, vec![0x1301, 0x1302, 0x1303, 0x1304, 0x1305]);
        let rec = ClientHello {
            version: TLS13,
            suites: &suites,
            server_name: None,
            random: [2; 32],
            x25519_public: [9; 32],
        }
        .encode();
        assert!(
            rec.windows(7)
                .any(|w| w == [0x00, 0x2B, 0x00, 0x03, 0x02, 0x03, 0x04])
        );
        let mut share = vec![0x00, 0x1D, 0x00, 0x20];
        share.extend([9; 32]);
        assert!(rec.windows(share.len()).any(|w| w == share.as_slice()));
    }

    #[test]
    fn ssl3_hello_has_no_extensions() {
        let rec = ClientHello {
            version: SSL3,
            suites: &[0x000A, 0x0005],
            server_name: Some("x.invalid"),
            random: [3; 32],
            x25519_public: [0; 32],
        }
        .encode();
        // header 5 + hs header 4 + version 2 + random 32 + sid 1 + suites 2+4 + compression 2
        assert_eq!(rec.len(), 5 + 4 + 2 + 32 + 1 + 6 + 2);
        assert_eq!(&rec[1..3], &[3, 0]);
    }

    #[test]
    fn recorded_hellos_are_what_the_encoder_makes() {
        let (r, _) = parse_record(fixture!("client-hello-tls12.bin")).unwrap();
        assert_eq!(r.payload[0], HS_CLIENT_HELLO);
        let (r, _) = parse_record(fixture!("client-hello-tls13.bin")).unwrap();
        assert_eq!(r.payload[0], HS_CLIENT_HELLO);
    }

    #[test]
    fn nginx_weak_tls10_flight() {
        let f = flight(fixture!("nginx-weak-tls10-flight.bin")).unwrap();
        let sh = f.server_hello.as_ref().unwrap();
        assert_eq!(
            (sh.legacy_version, sh.cipher_suite, sh.selected_version),
            (TLS10, 0xC013, None)
        );
        assert!(!sh.retry_request);
        assert!(f.hello_done && f.server_key_exchange && !f.certificate_request);
        assert_eq!(f.chain.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            f.chain.as_ref().unwrap()[0].as_slice(),
            fixture!("cert-weak.der")
        );
        assert_eq!(f.alert, None);
    }

    #[test]
    fn nginx_weak_tls12_flight_prefers_gcm() {
        let f = flight(fixture!("nginx-weak-tls12-flight.bin")).unwrap();
        let sh = f.server_hello.unwrap();
        assert_eq!((sh.version(), sh.cipher_suite), (TLS12, 0xC030));
        assert_eq!(
            suite_name(sh.cipher_suite),
            Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
        );
    }

    #[test]
    fn refusals_are_alerts() {
        for bytes in [
            &fixture!("nginx-weak-tls13-alert.bin")[..],
            &fixture!("nginx-good-tls11-alert.bin")[..],
        ] {
            let f = flight(bytes).unwrap();
            assert_eq!(f.server_hello, None);
            let alert = f.alert.unwrap();
            assert_eq!((alert.level, alert.name()), (2, "protocol_version"));
            assert!(f.finished());
        }
    }

    #[test]
    fn nginx_good_tls13_server_hello() {
        let f = flight(fixture!("nginx-good-tls13-serverhello.bin")).unwrap();
        let sh = f.server_hello.unwrap();
        assert_eq!(
            (sh.legacy_version, sh.selected_version),
            (TLS12, Some(TLS13))
        );
        assert_eq!(sh.cipher_suite, 0x1302);
        assert!(!sh.retry_request && sh.extensions.contains(&0x0033));
        // The rest is encrypted: no chain in plaintext.
        assert_eq!(f.chain, None);
    }

    #[test]
    fn nginx_good_tls12_flight_has_chain_of_two() {
        let f = flight(fixture!("nginx-good-tls12-flight.bin")).unwrap();
        let chain = f.chain.unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0].as_slice(), fixture!("cert-good.der"));
        assert_eq!(chain[1].as_slice(), fixture!("cert-ca.der"));
    }

    #[test]
    fn s_server_requests_a_client_certificate() {
        let f = flight(fixture!("s_server-tls12-certreq-flight.bin")).unwrap();
        assert!(f.certificate_request && f.hello_done);
    }

    #[test]
    fn gnutls_accepts_3des() {
        let f = flight(fixture!("gnutls-tls10-3des-flight.bin")).unwrap();
        let sh = f.server_hello.unwrap();
        assert_eq!((sh.version(), sh.cipher_suite), (TLS10, 0x000A));
        let w = suite_weaknesses(suite_name(0x000A).unwrap());
        use clinicscan_model::SuiteWeakness::*;
        assert_eq!(w, vec![Des64BitBlock, CbcSha1, NoForwardSecrecy]);
    }

    #[test]
    fn hello_retry_request_is_recognised() {
        let f = flight(fixture!("s_server-tls13-hrr.bin")).unwrap();
        let sh = f.server_hello.unwrap();
        assert!(sh.retry_request);
        assert_eq!(
            (sh.selected_version, sh.cipher_suite),
            (Some(TLS13), 0x1301)
        );
    }

    #[test]
    fn http_reply_is_not_tls() {
        let bytes = fixture!("nginx-http-port-reply.bin");
        assert!(bytes.starts_with(b"HTTP/1.1 400"));
        assert_eq!(
            record_complete(bytes),
            Err(Error::Invalid("not TLS: record type 0x48".into()))
        );
        assert_eq!(
            flight(bytes).unwrap_err().to_string(),
            "invalid message: not TLS: record type 0x48"
        );
    }

    #[test]
    fn truncated_flights_wait_or_fail_but_never_panic() {
        let bytes = fixture!("nginx-weak-tls10-flight.bin");
        for cut in 0..bytes.len() {
            let mut f = ServerFlight::new();
            let used = read_flight(&bytes[..cut], &mut f).unwrap();
            assert!(used <= cut);
            assert!(!f.hello_done);
        }
        // A record whose payload is cut inside the ServerHello body.
        let mut rec = vec![22, 3, 1, 0, 6, HS_SERVER_HELLO, 0, 0, 0x46, 3, 1];
        assert_eq!(flight(&rec).unwrap().server_hello, None); // waits for the rest
        rec[8] = 2; // body length 2: version only
        assert_eq!(
            flight(&rec).unwrap_err().to_string(),
            "ServerHello: length 2 bytes, need 34"
        );
    }

    #[test]
    fn oversized_records_and_messages_are_refused() {
        let rec = [22, 3, 3, 0xFF, 0xFF];
        assert_eq!(
            record_complete(&rec),
            Err(Error::TooLarge {
                what: "record",
                len: 0xFFFF
            })
        );
        assert_eq!(
            parse_record(&rec).unwrap_err(),
            Error::TooLarge {
                what: "record",
                len: 0xFFFF
            }
        );
        // A handshake header announcing 16 MiB.
        let rec = [22, 3, 3, 0, 4, HS_CERTIFICATE, 0xFF, 0xFF, 0xFF];
        let err = flight(&rec).unwrap_err();
        assert!(matches!(
            err,
            Error::TooLarge {
                what: "handshake message",
                ..
            }
        ));
    }

    #[test]
    fn messages_before_server_hello_are_invalid() {
        let rec = [22, 3, 3, 0, 4, HS_SERVER_HELLO_DONE, 0, 0, 0];
        assert!(matches!(flight(&rec).unwrap_err(), Error::Invalid(_)));
        let rec = [23, 3, 3, 0, 1, 0];
        assert!(matches!(flight(&rec).unwrap_err(), Error::Invalid(_)));
    }

    #[test]
    fn ssh_banner_is_not_tls() {
        let err = flight(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n").unwrap_err();
        assert_eq!(err, Error::Invalid("not TLS: record type 0x53".into()));
    }

    #[test]
    fn handshake_split_across_records_is_reassembled() {
        let bytes = fixture!("nginx-weak-tls10-flight.bin");
        let (rec, _) = parse_record(bytes).unwrap();
        // Re-frame the first record's payload as 1-byte records.
        let mut split = Vec::new();
        for b in rec.payload {
            split.extend_from_slice(&[22, 3, 1, 0, 1, *b]);
        }
        let f = flight(&split).unwrap();
        assert_eq!(f.server_hello.unwrap().cipher_suite, 0xC013);
    }

    #[test]
    fn suite_table_is_sorted_unique_and_classified() {
        use super::suites::SUITES;
        use clinicscan_model::SuiteWeakness::*;
        assert!(SUITES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(SUITES.len() >= 340, "{}", SUITES.len());
        let w = |code| suite_weaknesses(suite_name(code).unwrap());
        assert_eq!(w(0x0000), vec![Null, Anonymous]);
        assert_eq!(w(0x0003), vec![Export, Rc4, NoForwardSecrecy, Md5]);
        assert_eq!(w(0x0004), vec![Rc4, NoForwardSecrecy, Md5]);
        assert_eq!(w(0x0018), vec![Anonymous, Rc4, Md5]);
        assert_eq!(w(0xC012), vec![Des64BitBlock, CbcSha1]);
        assert_eq!(w(0x002F), vec![CbcSha1, NoForwardSecrecy]);
        assert_eq!(w(0xC013), vec![CbcSha1]);
        assert_eq!(w(0x003C), vec![NoForwardSecrecy]);
        assert_eq!(w(0xC018), vec![Anonymous, CbcSha1]);
        assert_eq!(w(0x0002), vec![Null, NoForwardSecrecy]);
        assert_eq!(w(0x0007), vec![Des64BitBlock, CbcSha1, NoForwardSecrecy]); // IDEA
        assert_eq!(w(0xC02F), vec![]);
        assert_eq!(w(0xCCA9), vec![]);
        assert_eq!(w(0x1301), vec![]);
        assert_eq!(w(0x009E), vec![]); // DHE-RSA-AES128-GCM
        assert_eq!(w(0xC00C), vec![Rc4, NoForwardSecrecy]); // ECDH_RSA static
        assert_eq!(suite_name(0xABCD), None);
    }

    proptest::proptest! {
        #[test]
        fn flight_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let mut f = ServerFlight::new();
            let _ = read_flight(&bytes, &mut f);
            let _ = parse_server_hello(&bytes);
            let _ = parse_certificate_chain(&bytes);
            let _ = record_complete(&bytes);
        }

        #[test]
        fn handshake_records_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            // Valid record framing around arbitrary handshake bytes reaches the inner parsers.
            let mut rec = vec![22, 3, 3];
            rec.extend_from_slice(&(body.len() as u16).to_be_bytes());
            rec.extend_from_slice(&body);
            let mut f = ServerFlight::new();
            let _ = read_flight(&rec, &mut f);
        }
    }
}
