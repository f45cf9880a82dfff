//! IKE messages: IKEv1 (RFC 2408 ISAKMP, RFC 2409 IKE) main-mode and aggressive-mode first
//! messages, IKEv2 (RFC 7296) IKE_SA_INIT, and a parser for whatever a responder sends
//! back (SA choice, notifications, vendor IDs).
//!
//! The key exchange values clinicscan sends are random bytes of the right size: no
//! exchange is ever completed, and nothing is derived from a peer's reply.
//! Vendor ID values come from the RFCs that define them (RFC 3947 NAT-T, RFC 3706 DPD)
//! and from the public fingerprint lists of ike-scan (`ike-vendor-ids`, Roy Hills) and
//! nmap (`nselib/data/ike-fingerprints.lua`).

use crate::{Error, Reader};

/// The 4-byte non-ESP marker that precedes IKE on UDP 4500 (RFC 3948 section 2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// Largest IKE message clinicscan reads.
pub const MAX_MESSAGE: usize = 16_384;
/// Most payloads read from one message.
const MAX_PAYLOADS: usize = 64;
/// Most transforms read from one SA.
const MAX_TRANSFORMS: usize = 256;

/// ISAKMP header length.
pub const HEADER_LEN: usize = 28;

/// IKEv1 exchange types.
pub mod exchange {
    /// Identity Protection (main mode).
    pub const MAIN_MODE: u8 = 2;
    /// Aggressive mode.
    pub const AGGRESSIVE: u8 = 4;
    /// Informational (v1).
    pub const INFORMATIONAL_V1: u8 = 5;
    /// IKE_SA_INIT (v2).
    pub const IKE_SA_INIT: u8 = 34;
}

/// IKEv1 payload types.
mod p1 {
    pub const SA: u8 = 1;
    pub const TRANSFORM: u8 = 3;
    pub const KE: u8 = 4;
    pub const ID: u8 = 5;
    pub const HASH: u8 = 8;
    pub const NONCE: u8 = 10;
    pub const NOTIFY: u8 = 11;
    pub const VENDOR_ID: u8 = 13;
}

/// IKEv2 payload types.
mod p2 {
    pub const SA: u8 = 33;
    pub const KE: u8 = 34;
    pub const NONCE: u8 = 40;
    pub const NOTIFY: u8 = 41;
    pub const VENDOR_ID: u8 = 43;
    pub const SK: u8 = 46;
}

/// IKEv1 attribute values (RFC 2409 appendix A, RFC 3602 for AES, RFC 4868 for SHA-2).
pub mod v1 {
    /// DES-CBC.
    pub const ENC_DES: u16 = 1;
    /// 3DES-CBC.
    pub const ENC_3DES: u16 = 5;
    /// AES-CBC.
    pub const ENC_AES: u16 = 7;
    /// MD5.
    pub const HASH_MD5: u16 = 1;
    /// SHA-1.
    pub const HASH_SHA1: u16 = 2;
    /// SHA2-256.
    pub const HASH_SHA256: u16 = 4;
    /// Pre-shared key.
    pub const AUTH_PSK: u16 = 1;
    /// RSA signatures.
    pub const AUTH_RSA_SIG: u16 = 3;
}

/// An IKEv1 transform (the attributes clinicscan proposes and reads back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V1Transform {
    /// Encryption algorithm.
    pub enc: u16,
    /// Key length in bits (AES).
    pub key_len: Option<u16>,
    /// Hash algorithm.
    pub hash: u16,
    /// Authentication method.
    pub auth: u16,
    /// Diffie-Hellman group.
    pub group: u16,
}

fn enc_name(enc: u16, key_len: Option<u16>) -> String {
    match (enc, key_len) {
        (1, _) => "DES-CBC".into(),
        (5, _) => "3DES-CBC".into(),
        (7, Some(k)) => format!("AES-CBC-{k}"),
        (7, None) => "AES-CBC".into(),
        (2, _) => "IDEA-CBC".into(),
        (3, _) => "Blowfish-CBC".into(),
        (4, _) => "RC5-R16-B64-CBC".into(),
        (6, _) => "CAST-CBC".into(),
        (o, _) => format!("ENC-{o}"),
    }
}

fn hash_name(h: u16) -> String {
    match h {
        1 => "MD5".into(),
        2 => "SHA1".into(),
        3 => "Tiger".into(),
        4 => "SHA2-256".into(),
        5 => "SHA2-384".into(),
        6 => "SHA2-512".into(),
        o => format!("HASH-{o}"),
    }
}

fn auth_name(a: u16) -> String {
    match a {
        1 => "PSK".into(),
        2 => "DSS".into(),
        3 => "RSA-SIG".into(),
        4 => "RSA-ENC".into(),
        5 => "RSA-REV-ENC".into(),
        64_221 => "Hybrid-RSA".into(),
        65_001 => "XAUTH-PSK".into(),
        65_005 => "XAUTH-RSA".into(),
        o => format!("AUTH-{o}"),
    }
}

/// The name of a Diffie-Hellman group (RFC 2409, RFC 3526, RFC 5903, RFC 8031).
pub fn group_name(g: u16) -> String {
    match g {
        1 => "MODP768".into(),
        2 => "MODP1024".into(),
        5 => "MODP1536".into(),
        14 => "MODP2048".into(),
        15 => "MODP3072".into(),
        16 => "MODP4096".into(),
        17 => "MODP6144".into(),
        18 => "MODP8192".into(),
        19 => "ECP256".into(),
        20 => "ECP384".into(),
        21 => "ECP521".into(),
        22 => "MODP1024S160".into(),
        23 => "MODP2048S224".into(),
        24 => "MODP2048S256".into(),
        31 => "Curve25519".into(),
        o => format!("GROUP-{o}"),
    }
}

/// The base point G of NIST P-256 (x || y, SEC 2 section 2.4.2): a valid ECP256 public
/// value (private key 1) for a key exchange that is never completed.
const P256_G: [u8; 64] = [
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
    0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
    0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
];

/// The base point G of NIST P-384 (x || y, SEC 2 section 2.5.1).
const P384_G: [u8; 96] = [
    0xaa, 0x87, 0xca, 0x22, 0xbe, 0x8b, 0x05, 0x37, 0x8e, 0xb1, 0xc7, 0x1e, 0xf3, 0x20, 0xad, 0x74,
    0x6e, 0x1d, 0x3b, 0x62, 0x8b, 0xa7, 0x9b, 0x98, 0x59, 0xf7, 0x41, 0xe0, 0x82, 0x54, 0x2a, 0x38,
    0x55, 0x02, 0xf2, 0x5d, 0xbf, 0x55, 0x29, 0x6c, 0x3a, 0x54, 0x5e, 0x38, 0x72, 0x76, 0x0a, 0xb7,
    0x36, 0x17, 0xde, 0x4a, 0x96, 0x26, 0x2c, 0x6f, 0x5d, 0x9e, 0x98, 0xbf, 0x92, 0x92, 0xdc, 0x29,
    0xf8, 0xf4, 0x1d, 0xbd, 0x28, 0x9a, 0x14, 0x7c, 0xe9, 0xda, 0x31, 0x13, 0xb5, 0xf0, 0xb8, 0xc0,
    0x0a, 0x60, 0xb1, 0xce, 0x1d, 0x7e, 0x81, 0x9d, 0x7a, 0x43, 0x1d, 0x7c, 0x90, 0xea, 0x0e, 0x5f,
];

/// A fixed, valid public value for an elliptic-curve group, where random bytes would not be
/// a point on the curve.
pub fn ecp_public_value(group: u16) -> Option<&'static [u8]> {
    match group {
        19 => Some(&P256_G),
        20 => Some(&P384_G),
        _ => None,
    }
}

/// The key exchange value size of a MODP group, of ECP256/384, or of Curve25519.
pub fn ke_len(group: u16) -> Option<usize> {
    Some(match group {
        1 => 96,
        2 => 128,
        5 => 192,
        14 => 256,
        15 => 384,
        16 => 512,
        19 => 64,
        20 => 96,
        31 => 32,
        _ => return None,
    })
}

impl V1Transform {
    /// "AES-CBC-256/SHA1/MODP2048/PSK".
    pub fn text(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            enc_name(self.enc, self.key_len),
            hash_name(self.hash),
            group_name(self.group),
            auth_name(self.auth)
        )
    }

    /// The weak parameters of this transform: DES, 3DES, MD5, DH groups 1, 2, 5.
    pub fn weaknesses(&self) -> Vec<String> {
        let mut w = Vec::new();
        match self.enc {
            v1::ENC_DES => w.push("DES".to_string()),
            v1::ENC_3DES => w.push("3DES".to_string()),
            _ => {}
        }
        if self.hash == v1::HASH_MD5 {
            w.push("MD5".to_string());
        }
        if matches!(self.group, 1 | 2 | 5) {
            w.push(format!(
                "DH group {} ({})",
                self.group,
                group_name(self.group)
            ));
        }
        w
    }

    fn encode(&self, number: u8, last: bool) -> Vec<u8> {
        let mut attrs = Vec::new();
        let mut tv = |t: u16, v: u16| {
            attrs.extend_from_slice(&(0x8000 | t).to_be_bytes());
            attrs.extend_from_slice(&v.to_be_bytes());
        };
        tv(1, self.enc);
        if let Some(k) = self.key_len {
            tv(14, k);
        }
        tv(2, self.hash);
        tv(3, self.auth);
        tv(4, self.group);
        tv(11, 1); // life type: seconds
        attrs.extend_from_slice(&12u16.to_be_bytes()); // life duration, TLV
        attrs.extend_from_slice(&4u16.to_be_bytes());
        attrs.extend_from_slice(&28_800u32.to_be_bytes());
        let mut body = vec![number, 1, 0, 0]; // transform id KEY_IKE
        body.extend_from_slice(&attrs);
        payload(if last { 0 } else { p1::TRANSFORM }, &body)
    }
}

/// The transforms of clinicscan's broad main-mode proposal, strongest first:
/// {AES-256, AES-128, 3DES, DES} x {SHA2-256, SHA1, MD5} x {MODP2048, MODP1536, MODP1024}
/// x {PSK, RSA signatures}.
pub fn broad_transforms() -> Vec<V1Transform> {
    let mut out = Vec::new();
    let encs = [
        (v1::ENC_AES, Some(256)),
        (v1::ENC_AES, Some(128)),
        (v1::ENC_3DES, None),
        (v1::ENC_DES, None),
    ];
    for (enc, key_len) in encs {
        for hash in [v1::HASH_SHA256, v1::HASH_SHA1, v1::HASH_MD5] {
            for group in [14, 5, 2] {
                for auth in [v1::AUTH_PSK, v1::AUTH_RSA_SIG] {
                    out.push(V1Transform {
                        enc,
                        key_len,
                        hash,
                        auth,
                        group,
                    });
                }
            }
        }
    }
    out
}

/// Only transforms with a weak parameter (DES, 3DES, MD5, DH 1/2/5), for asking a
/// responder that chose a strong transform whether it would also accept a weak one.
pub fn weak_transforms() -> Vec<V1Transform> {
    let mut out: Vec<V1Transform> = broad_transforms()
        .into_iter()
        .filter(|t| !t.weaknesses().is_empty())
        .collect();
    for enc in [v1::ENC_3DES, v1::ENC_DES] {
        for hash in [v1::HASH_SHA1, v1::HASH_MD5] {
            for auth in [v1::AUTH_PSK, v1::AUTH_RSA_SIG] {
                out.push(V1Transform {
                    enc,
                    key_len: None,
                    hash,
                    auth,
                    group: 1,
                });
            }
        }
    }
    out
}

/// Aggressive-mode transforms: every cipher and hash with PSK on one DH group (aggressive
/// mode sends the KE up front, so the group is fixed).
pub fn aggressive_transforms(group: u16) -> Vec<V1Transform> {
    broad_transforms()
        .into_iter()
        .filter(|t| t.auth == v1::AUTH_PSK && t.group == 14)
        .map(|t| V1Transform { group, ..t })
        .collect()
}

fn payload(next: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![next, 0];
    p.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn header(
    spi: [u8; 8],
    next: u8,
    version: u8,
    exchange: u8,
    flags: u8,
    body_len: usize,
) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN + body_len);
    h.extend_from_slice(&spi);
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&[next, version, exchange, flags]);
    h.extend_from_slice(&0u32.to_be_bytes());
    h.extend_from_slice(&((HEADER_LEN + body_len) as u32).to_be_bytes());
    h
}

fn v1_sa(next: u8, transforms: &[V1Transform]) -> Vec<u8> {
    let n = transforms.len().min(255);
    let mut prop = vec![1, 1, 0, n as u8]; // proposal 1, PROTO_ISAKMP, no SPI
    for (i, t) in transforms.iter().take(n).enumerate() {
        prop.extend_from_slice(&t.encode((i + 1) as u8, i + 1 == n));
    }
    let mut sa = Vec::new();
    sa.extend_from_slice(&1u32.to_be_bytes()); // DOI IPsec
    sa.extend_from_slice(&1u32.to_be_bytes()); // SIT_IDENTITY_ONLY
    sa.extend_from_slice(&payload(0, &prop));
    payload(next, &sa)
}

/// IKEv1 main-mode message 1: HDR, SA.
pub fn v1_main_mode(cookie: [u8; 8], transforms: &[V1Transform]) -> Vec<u8> {
    let sa = v1_sa(0, transforms);
    let mut m = header(cookie, p1::SA, 0x10, exchange::MAIN_MODE, 0, sa.len());
    m.extend_from_slice(&sa);
    m
}

/// IKEv1 aggressive-mode message 1: HDR, SA, KE, Ni, IDii (ID_USER_FQDN `id`).
pub fn v1_aggressive(
    cookie: [u8; 8],
    transforms: &[V1Transform],
    ke: &[u8],
    nonce: &[u8],
    id: &str,
) -> Vec<u8> {
    let mut body = v1_sa(p1::KE, transforms);
    body.extend_from_slice(&payload(p1::NONCE, ke));
    body.extend_from_slice(&payload(p1::ID, nonce));
    let mut idp = vec![3, 17, 1, 244]; // ID_USER_FQDN, UDP, port 500
    idp.extend_from_slice(id.as_bytes());
    body.extend_from_slice(&payload(0, &idp));
    let mut m = header(cookie, p1::SA, 0x10, exchange::AGGRESSIVE, 0, body.len());
    m.extend_from_slice(&body);
    m
}

/// IKEv2 transform types and ids clinicscan offers.
fn v2_transforms() -> Vec<(u8, u16, Option<u16>)> {
    vec![
        (1, 12, Some(256)), // ENCR_AES_CBC 256
        (1, 12, Some(128)), // ENCR_AES_CBC 128
        (1, 3, None),       // ENCR_3DES
        (1, 2, None),       // ENCR_DES
        (2, 5, None),       // PRF_HMAC_SHA2_256
        (2, 2, None),       // PRF_HMAC_SHA1
        (2, 1, None),       // PRF_HMAC_MD5
        (3, 12, None),      // AUTH_HMAC_SHA2_256_128
        (3, 2, None),       // AUTH_HMAC_SHA1_96
        (3, 1, None),       // AUTH_HMAC_MD5_96
        (4, 14, None),      // MODP2048
        (4, 19, None),      // ECP256
        (4, 20, None),      // ECP384
        (4, 31, None),      // Curve25519
        (4, 15, None),      // MODP3072
        (4, 16, None),      // MODP4096
        (4, 5, None),       // MODP1536
        (4, 2, None),       // MODP1024
    ]
}

/// IKEv2 IKE_SA_INIT request: HDR, [N(COOKIE)], SAi1 (one broad IKE proposal), KEi
/// (`group`, `ke`), Ni. `cookie` echoes a responder's COOKIE (RFC 7296 section 2.6).
pub fn v2_sa_init(
    spi: [u8; 8],
    group: u16,
    ke: &[u8],
    nonce: &[u8],
    cookie: Option<&[u8]>,
) -> Vec<u8> {
    let list = v2_transforms();
    let mut prop = vec![1, 1, 0, list.len() as u8]; // proposal 1, IKE, no SPI
    for (i, (kind, id, key_len)) in list.iter().enumerate() {
        let mut t = vec![*kind, 0];
        t.extend_from_slice(&id.to_be_bytes());
        if let Some(k) = key_len {
            t.extend_from_slice(&0x800eu16.to_be_bytes());
            t.extend_from_slice(&k.to_be_bytes());
        }
        let last = i + 1 == list.len();
        prop.extend_from_slice(&payload(if last { 0 } else { 3 }, &t));
    }
    let sa = payload(p2::KE, &payload(0, &prop));
    let mut ke_body = group.to_be_bytes().to_vec();
    ke_body.extend_from_slice(&[0, 0]);
    ke_body.extend_from_slice(ke);
    let mut body = Vec::new();
    let first = match cookie {
        Some(c) => {
            let mut n = vec![0, 0]; // protocol none, no SPI
            n.extend_from_slice(&16_390u16.to_be_bytes());
            n.extend_from_slice(c);
            body.extend_from_slice(&payload(p2::SA, &n));
            p2::NOTIFY
        }
        None => p2::SA,
    };
    body.extend_from_slice(&sa);
    body.extend_from_slice(&payload(p2::NONCE, &ke_body));
    body.extend_from_slice(&payload(0, nonce));
    let mut m = header(spi, first, 0x20, exchange::IKE_SA_INIT, 0x08, body.len());
    m.extend_from_slice(&body);
    m
}

/// One IKEv2 transform read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Transform {
    /// Transform type (1 ENCR, 2 PRF, 3 INTEG, 4 DH).
    pub kind: u8,
    /// Transform id.
    pub id: u16,
    /// Key length attribute.
    pub key_len: Option<u16>,
}

impl V2Transform {
    /// A name such as "AES-CBC-256", "PRF-HMAC-SHA2-256", "MODP2048".
    pub fn text(&self) -> String {
        match (self.kind, self.id) {
            (1, 2) => "DES-CBC".into(),
            (1, 3) => "3DES-CBC".into(),
            (1, 12) => match self.key_len {
                Some(k) => format!("AES-CBC-{k}"),
                None => "AES-CBC".into(),
            },
            (1, 20) => format!("AES-GCM-16-{}", self.key_len.unwrap_or(0)),
            (2, 1) => "PRF-HMAC-MD5".into(),
            (2, 2) => "PRF-HMAC-SHA1".into(),
            (2, 5) => "PRF-HMAC-SHA2-256".into(),
            (2, 6) => "PRF-HMAC-SHA2-384".into(),
            (2, 7) => "PRF-HMAC-SHA2-512".into(),
            (3, 1) => "HMAC-MD5-96".into(),
            (3, 2) => "HMAC-SHA1-96".into(),
            (3, 12) => "HMAC-SHA2-256-128".into(),
            (3, 13) => "HMAC-SHA2-384-192".into(),
            (3, 14) => "HMAC-SHA2-512-256".into(),
            (4, g) => group_name(g),
            (k, i) => format!("T{k}-{i}"),
        }
    }
}

/// A payload read from a responder's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// IKEv1 SA: the transforms in the (chosen) proposal.
    SaV1(Vec<V1Transform>),
    /// IKEv2 SA: the transforms of the chosen proposal.
    SaV2(Vec<V2Transform>),
    /// Notification: type and data.
    Notify(u16, Vec<u8>),
    /// Vendor ID.
    VendorId(Vec<u8>),
    /// IKEv1 HASH (in an aggressive-mode reply: the responder's PSK-keyed hash).
    Hash,
    /// Key exchange (IKEv2: the group).
    Ke(Option<u16>),
    /// Any other payload type.
    Other(u8),
}

/// A responder's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Initiator SPI / cookie.
    pub initiator_spi: [u8; 8],
    /// Responder SPI / cookie.
    pub responder_spi: [u8; 8],
    /// Major version (1 or 2).
    pub major_version: u8,
    /// Exchange type.
    pub exchange: u8,
    /// Flags.
    pub flags: u8,
    /// Payloads in order.
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Notify types in the message.
    pub fn notifications(&self) -> impl Iterator<Item = u16> + '_ {
        self.payloads.iter().filter_map(|p| match p {
            Payload::Notify(t, _) => Some(*t),
            _ => None,
        })
    }
}

/// Strips the non-ESP marker of a UDP 4500 datagram, if present.
pub fn strip_non_esp_marker(buf: &[u8]) -> &[u8] {
    buf.strip_prefix(&NON_ESP_MARKER[..]).unwrap_or(buf)
}

/// Parses a responder's message (without the non-ESP marker).
pub fn parse_message(buf: &[u8]) -> Result<Message, Error> {
    let mut r = Reader::new(buf, "IKE message");
    let mut h = r.sub(HEADER_LEN, "IKE header")?;
    let initiator_spi = h.array()?;
    let responder_spi = h.array()?;
    let [mut next, version, exchange, flags] = h.array()?;
    h.skip(4)?; // message id
    let len = h.u32()?;
    if (len as usize) < HEADER_LEN || len as usize > MAX_MESSAGE {
        return Err(Error::bad_length("IKE message", len));
    }
    let mut rest = r
        .sub(len as usize - HEADER_LEN, "IKE payload")
        .map_err(|_| Error::bad_length("IKE message", len))?;
    let major = version >> 4;
    if major != 1 && major != 2 {
        return Err(Error::unexpected(
            "IKE version",
            format_args!("0x{version:02x}"),
        ));
    }
    let mut payloads = Vec::new();
    // IKEv1 with the encryption flag: payloads are ciphertext.
    let encrypted_v1 = major == 1 && flags & 0x01 != 0;
    while next != 0 && !encrypted_v1 {
        if payloads.len() >= MAX_PAYLOADS {
            return Err(Error::TooMany {
                what: "IKE payloads",
                max: MAX_PAYLOADS,
            });
        }
        let following = rest.u8()?;
        rest.skip(1)?;
        let plen = usize::from(rest.u16()?);
        if plen < 4 {
            return Err(Error::bad_length("IKE payload", plen as u64));
        }
        let mut body = rest.sub(plen - 4, "IKE payload")?;
        let kind = next;
        next = following;
        let p = match (major, kind) {
            (1, p1::SA) => Payload::SaV1(parse_v1_sa(body)?),
            (2, p2::SA) => Payload::SaV2(parse_v2_sa(body.rest())?),
            (1, p1::NOTIFY) => {
                // DOI (4), protocol (1), SPI size (1), type (2), SPI, data
                body.skip(5)?;
                let spi = usize::from(body.u8()?);
                notify(body, spi)?
            }
            (2, p2::NOTIFY) => {
                // protocol (1), SPI size (1), type (2), SPI, data
                body.skip(1)?;
                let spi = usize::from(body.u8()?);
                notify(body, spi)?
            }
            (1, p1::VENDOR_ID) | (2, p2::VENDOR_ID) => Payload::VendorId(body.rest().to_vec()),
            (1, p1::HASH) => Payload::Hash,
            (1, p1::KE) => Payload::Ke(None),
            (2, p2::KE) => Payload::Ke(Some(body.u16()?)),
            (2, p2::SK) => {
                payloads.push(Payload::Other(kind));
                break;
            }
            (_, other) => Payload::Other(other),
        };
        payloads.push(p);
    }
    Ok(Message {
        initiator_spi,
        responder_spi,
        major_version: major,
        exchange,
        flags,
        payloads,
    })
}

/// The notify type and data after the SPI size; data is empty when the SPI runs past the
/// payload.
fn notify(mut body: Reader<'_>, spi: usize) -> Result<Payload, Error> {
    let t = body.u16()?;
    let data = if body.skip(spi).is_ok() {
        body.rest()
    } else {
        &[]
    };
    Ok(Payload::Notify(t, data.to_vec()))
}

fn parse_v1_sa(mut sa: Reader<'_>) -> Result<Vec<V1Transform>, Error> {
    // DOI (4), situation (4), then the proposal payload.
    sa.skip(8)?;
    sa.skip(2)?;
    let plen = usize::from(sa.u16()?);
    let plen = plen
        .checked_sub(4)
        .ok_or_else(|| Error::bad_length("IKE proposal", plen as u64))?;
    let mut p = sa.sub(plen, "IKE proposal")?;
    p.skip(2)?; // proposal number, protocol
    let spi = usize::from(p.u8()?);
    let count = usize::from(p.u8()?);
    p.skip(spi)?;
    let mut out = Vec::new();
    for _ in 0..count.min(MAX_TRANSFORMS) {
        p.skip(2)?;
        let tlen = usize::from(p.u16()?);
        if tlen < 8 {
            return Err(Error::bad_length("IKE transform", tlen as u64));
        }
        let mut t = p.sub(tlen - 4, "IKE transform")?;
        t.skip(4)?; // transform number, id, reserved
        let mut tr = V1Transform {
            enc: 0,
            key_len: None,
            hash: 0,
            auth: 0,
            group: 0,
        };
        while t.remaining() >= 4 {
            let ty = t.u16()?;
            let v = t.u16()?;
            if ty & 0x8000 == 0 {
                // TLV: skip the variable value.
                t.skip(usize::from(v))?;
                continue;
            }
            match ty & 0x7fff {
                1 => tr.enc = v,
                2 => tr.hash = v,
                3 => tr.auth = v,
                4 => tr.group = v,
                14 => tr.key_len = Some(v),
                _ => {}
            }
        }
        out.push(tr);
    }
    Ok(out)
}

fn parse_v2_sa(body: &[u8]) -> Result<Vec<V2Transform>, Error> {
    let [_, _, l0, l1, _, _, spi, count] = Reader::new(body, "IKE proposal").array()?;
    let plen = usize::from(u16::from_be_bytes([l0, l1]));
    let mut p = Reader::new(body, "IKE proposal").sub(plen, "IKE proposal")?;
    p.skip(8 + usize::from(spi))?;
    let mut out = Vec::new();
    for _ in 0..usize::from(count).min(MAX_TRANSFORMS) {
        let [_, _, t0, t1, kind, _, i0, i1] = p.array()?;
        let tlen = usize::from(u16::from_be_bytes([t0, t1]));
        if tlen < 8 {
            return Err(Error::bad_length("IKE transform", tlen as u64));
        }
        let attrs = p.take(tlen - 8)?;
        let key_len = (attrs.len() >= 4 && attrs[..2] == [0x80, 0x0e])
            .then(|| u16::from_be_bytes([attrs[2], attrs[3]]));
        out.push(V2Transform {
            kind,
            id: u16::from_be_bytes([i0, i1]),
            key_len,
        });
    }
    Ok(out)
}

/// The name of a notify message type (RFC 2408 section 3.14.1, RFC 7296 section 3.10.1).
pub fn notify_name(t: u16, major: u8) -> String {
    let name = match (major, t) {
        (_, 1) => "INVALID_PAYLOAD_TYPE",
        (1, 7) => "INVALID_EXCHANGE_TYPE",
        (2, 4) => "INVALID_IKE_SPI",
        (2, 5) => "INVALID_MAJOR_VERSION",
        (2, 7) => "INVALID_SYNTAX",
        (_, 5) => "INVALID_MAJOR_VERSION",
        (1, 13) => "ATTRIBUTES_NOT_SUPPORTED",
        (_, 14) => "NO_PROPOSAL_CHOSEN",
        (1, 16) => "PAYLOAD_MALFORMED",
        (2, 17) => "INVALID_KE_PAYLOAD",
        (1, 17) => "INVALID_KEY_INFORMATION",
        (1, 18) => "INVALID_ID_INFORMATION",
        (_, 24) => "AUTHENTICATION_FAILED",
        (2, 16_388) => "NAT_DETECTION_SOURCE_IP",
        (2, 16_389) => "NAT_DETECTION_DESTINATION_IP",
        (2, 16_390) => "COOKIE",
        (2, 16_404) => "MULTIPLE_AUTH_SUPPORTED",
        (2, 16_417) => "REDIRECT_SUPPORTED",
        (2, 16_418) => "CHILDLESS_IKEV2_SUPPORTED",
        (2, 16_430) => "IKEV2_FRAGMENTATION_SUPPORTED",
        (2, 16_431) => "SIGNATURE_HASH_ALGORITHMS",
        (2, 16_441) => "USE_PPK",
        (1, 24_578) => "INITIAL-CONTACT",
        (1, 36_136) => "R-U-THERE",
        _ => return format!("NOTIFY_{t}"),
    };
    name.to_string()
}

/// Known vendor IDs: hex prefix and meaning. The longest matching prefix wins.
const VENDOR_IDS: &[(&str, &str)] = &[
    // RFC 3947 and the NAT-T drafts (MD5 of the draft name).
    ("4a131c81070358455c5728f20e95452f", "RFC 3947 NAT-T"),
    (
        "4485152d18b6bbcd0be8a8469579ddcc",
        "draft-ietf-ipsec-nat-t-ike-00",
    ),
    (
        "16f6ca16e4a4066d83821a0f0aeaa862",
        "draft-ietf-ipsec-nat-t-ike-01",
    ),
    (
        "90cb80913ebb696e086381b5ec427b1f",
        "draft-ietf-ipsec-nat-t-ike-02\\n",
    ),
    (
        "cd60464335df21f87cfdb2fc68b6a448",
        "draft-ietf-ipsec-nat-t-ike-02",
    ),
    (
        "7d9419a65310ca6f2c179d9215529d56",
        "draft-ietf-ipsec-nat-t-ike-03",
    ),
    (
        "4df37928e9fc4fd1b3262170d515c662",
        "draft-ietf-ipsec-nat-t-ike",
    ),
    // RFC 3706.
    (
        "afcad71368a1f1c96b8696fc77570100",
        "Dead Peer Detection v1.0",
    ),
    ("afcad71368a1f1c96b8696fc7757", "Dead Peer Detection"),
    // XAUTH (draft-ietf-ipsec-isakmp-xauth).
    ("09002689dfd6b712", "XAUTH"),
    // IKE fragmentation (Cisco / Microsoft, before RFC 7383).
    ("4048b7d56ebce88525e7de7f00d6c2d3", "IKE Fragmentation"),
    // Vendors (ike-scan ike-vendor-ids, nmap ike-fingerprints).
    ("882fe56d6fd20dbc2251613b2ebe5beb", "strongSwan"),
    ("12f5f28c457168a9702d9fe274cc0100", "Cisco Unity"),
    ("1f07f70eaa6514d3b0fa96542a", "Cisco VPN Concentrator"),
    ("3e984048", "Cisco"),
    ("1e2b516905991c7d7c96fcbfb587e461", "Microsoft Windows"),
    ("1d6e178f6c2c0be284985465450fe9d4", "Fortinet FortiGate"),
    ("8299031757a36082c6a621de", "Fortinet FortiGate"),
    (
        "f4ed19e0c114eb516faaac0ee37daf2807b4381f",
        "Check Point VPN-1 / Firewall-1",
    ),
    (
        "699369228741c6d4ca094c93e242c9de19e7b7c6",
        "Juniper NetScreen",
    ),
    (
        "4a4340b543e02b84c88a8b96a8af9ebe77d9accc",
        "Juniper NetScreen",
    ),
    (
        "299ee8289f40a8973bc78687e2e7226b532c3b76",
        "Juniper NetScreen",
    ),
    (
        "64405f46f03b7660a23be116a1975058e69e8387",
        "Juniper NetScreen",
    ),
    ("5b362bc820f6", "SonicWall"),
    ("5b362bc820f7", "SonicWall"),
    ("404bf439522ca3f6", "SonicWall"),
    ("da8e937880010000", "SonicWall"),
    ("7003cbc1097dbe9c2600ba6983bc8b35", "KAME/racoon"),
    ("4f45", "Openswan/Libreswan"),
];

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The meaning of a vendor ID, if known.
pub fn vendor_id_name(vid: &[u8]) -> Option<&'static str> {
    let h = hex(vid);
    VENDOR_IDS
        .iter()
        .filter(|(prefix, _)| h.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, name)| *name)
        // The Openswan prefix is two bytes of ASCII "OE": only trust it with a 12-byte VID.
        .filter(|name| *name != "Openswan/Libreswan" || vid.len() == 12)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/ike/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const COOKIE: [u8; 8] = *b"clinicsc";

    #[test]
    fn main_mode_request_parses_back() {
        let t = broad_transforms();
        assert_eq!(t.len(), 72);
        let m = v1_main_mode(COOKIE, &t);
        let p = parse_message(&m).unwrap();
        assert_eq!(p.major_version, 1);
        assert_eq!(p.exchange, exchange::MAIN_MODE);
        let [Payload::SaV1(back)] = &p.payloads[..] else {
            panic!("{:?}", p.payloads)
        };
        assert_eq!(back, &t);
        assert_eq!(back[0].text(), "AES-CBC-256/SHA2-256/MODP2048/PSK");
        assert!(back[0].weaknesses().is_empty());
    }

    #[test]
    fn weak_set_has_only_weak_transforms() {
        let w = weak_transforms();
        assert!(w.iter().all(|t| !t.weaknesses().is_empty()));
        assert!(w.len() <= 255);
        let t = V1Transform {
            enc: v1::ENC_DES,
            key_len: None,
            hash: v1::HASH_MD5,
            auth: v1::AUTH_PSK,
            group: 1,
        };
        assert_eq!(t.weaknesses(), vec!["DES", "MD5", "DH group 1 (MODP768)"]);
    }

    #[test]
    fn aggressive_request_parses_back() {
        let m = v1_aggressive(
            COOKIE,
            &aggressive_transforms(2),
            &[0x55; 128],
            &[1; 20],
            "a@b",
        );
        let p = parse_message(&m).unwrap();
        assert_eq!(p.exchange, exchange::AGGRESSIVE);
        assert_eq!(p.payloads.len(), 4);
        let Payload::SaV1(t) = &p.payloads[0] else {
            panic!()
        };
        assert!(t.iter().all(|t| t.group == 2 && t.auth == v1::AUTH_PSK));
    }

    #[test]
    fn sa_init_request_parses_back() {
        let m = v2_sa_init(COOKIE, 14, &[0x55; 256], &[2; 32], None);
        let p = parse_message(&m).unwrap();
        assert_eq!(p.major_version, 2);
        assert_eq!(p.flags, 0x08);
        assert_eq!(p.payloads[1], Payload::Ke(Some(14)));
        let Payload::SaV2(t) = &p.payloads[0] else {
            panic!()
        };
        assert_eq!(t[0].text(), "AES-CBC-256");
        assert_eq!(t.len(), 18);
        let c = v2_sa_init(COOKIE, 14, &[0x55; 256], &[2; 32], Some(b"abcd"));
        let p = parse_message(&c).unwrap();
        assert_eq!(p.payloads[0], Payload::Notify(16_390, b"abcd".to_vec()));
        assert_eq!(p.payloads.len(), 4);
    }

    #[test]
    fn recorded_strongswan_main_mode_reply() {
        let p = parse_message(&fixture("csv-charon-v1-main-reply.bin")).unwrap();
        assert_eq!(p.exchange, exchange::MAIN_MODE);
        assert_ne!(p.responder_spi, [0; 8]);
        let t = p
            .payloads
            .iter()
            .find_map(|p| match p {
                Payload::SaV1(t) => Some(t.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].text(), "AES-CBC-256/SHA2-256/MODP2048/PSK");
        let vids: Vec<_> = p
            .payloads
            .iter()
            .filter_map(|p| match p {
                Payload::VendorId(v) => vendor_id_name(v),
                _ => None,
            })
            .collect();
        assert_eq!(
            vids,
            vec!["strongSwan", "XAUTH", "Dead Peer Detection v1.0"]
        );
    }

    #[test]
    fn recorded_strongswan_accepts_a_weak_transform() {
        let p = parse_message(&fixture("csv-charon-v1-main-reply-weak.bin")).unwrap();
        let Some(Payload::SaV1(t)) = p.payloads.first() else {
            panic!("{:?}", p.payloads)
        };
        assert_eq!(t[0].text(), "3DES-CBC/SHA1/MODP1024/PSK");
        assert_eq!(t[0].weaknesses(), vec!["3DES", "DH group 2 (MODP1024)"]);
    }

    #[test]
    fn recorded_nat_t_port_replies_carry_the_marker() {
        let raw = fixture("csv-charon-v1-main-reply-4500.bin");
        assert_eq!(&raw[..4], &NON_ESP_MARKER);
        assert!(parse_message(&raw).is_err());
        let p = parse_message(strip_non_esp_marker(&raw)).unwrap();
        assert_eq!(p.exchange, exchange::MAIN_MODE);
        let c = parse_message(strip_non_esp_marker(&fixture(
            "csv-charon-v2-cookie-4500.bin",
        )))
        .unwrap();
        assert_eq!(c.major_version, 2);
        assert_eq!(c.notifications().collect::<Vec<_>>(), vec![16_390]);
        assert_eq!(notify_name(16_390, 2), "COOKIE");
    }

    #[test]
    fn recorded_strongswan_refuses_aggressive_psk() {
        let p = parse_message(&fixture("csv-charon-v1-aggressive-refused.bin")).unwrap();
        assert_eq!(p.exchange, exchange::INFORMATIONAL_V1);
        assert_eq!(p.notifications().collect::<Vec<_>>(), vec![24]);
        assert_eq!(notify_name(24, 1), "AUTHENTICATION_FAILED");
    }

    #[test]
    fn recorded_ikev2_no_proposal_chosen() {
        let p = parse_message(&fixture("csv-charon-v2-no-proposal.bin")).unwrap();
        assert_eq!(p.major_version, 2);
        assert_eq!(p.notifications().collect::<Vec<_>>(), vec![14]);
    }

    #[test]
    fn recorded_strongswan_no_proposal_chosen() {
        let p = parse_message(&fixture("csv-charon-v1-no-proposal.bin")).unwrap();
        assert_eq!(p.exchange, exchange::INFORMATIONAL_V1);
        assert_eq!(p.notifications().collect::<Vec<_>>(), vec![14]);
        assert_eq!(notify_name(14, 1), "NO_PROPOSAL_CHOSEN");
    }

    #[test]
    fn recorded_strongswan_aggressive_reply_exposes_hash() {
        let p = parse_message(&fixture("csv-charon-v1-aggressive-reply.bin")).unwrap();
        assert_eq!(p.exchange, exchange::AGGRESSIVE);
        assert!(p.payloads.contains(&Payload::Hash));
        let Some(Payload::SaV1(t)) = p.payloads.first() else {
            panic!("{:?}", p.payloads)
        };
        assert_eq!(t[0].text(), "AES-CBC-128/SHA1/MODP1024/PSK");
    }

    #[test]
    fn recorded_strongswan_sa_init_reply() {
        let p = parse_message(&fixture("csv-charon-v2-sa-init-reply.bin")).unwrap();
        assert_eq!(p.major_version, 2);
        let Payload::SaV2(t) = &p.payloads[0] else {
            panic!("{:?}", p.payloads)
        };
        let names: Vec<_> = t.iter().map(V2Transform::text).collect();
        assert_eq!(
            names,
            vec![
                "AES-CBC-256",
                "HMAC-SHA2-256-128",
                "PRF-HMAC-SHA2-256",
                "MODP2048"
            ]
        );
        assert!(p.payloads.contains(&Payload::Ke(Some(14))));
        let n: Vec<_> = p.notifications().map(|t| notify_name(t, 2)).collect();
        assert_eq!(
            n,
            // No NAT detection: the request carried none.
            vec!["CHILDLESS_IKEV2_SUPPORTED", "MULTIPLE_AUTH_SUPPORTED"]
        );
    }

    #[test]
    fn ecp_values_have_the_group_size() {
        for g in [19, 20] {
            assert_eq!(ecp_public_value(g).map(<[u8]>::len), ke_len(g));
        }
        assert_eq!(ecp_public_value(14), None);
    }

    #[test]
    fn vendor_id_table() {
        let rfc3947 = [
            0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95,
            0x45, 0x2f,
        ];
        assert_eq!(vendor_id_name(&rfc3947), Some("RFC 3947 NAT-T"));
        let mut dpd = vec![
            0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57,
            0x01, 0x00,
        ];
        assert_eq!(vendor_id_name(&dpd), Some("Dead Peer Detection v1.0"));
        dpd[15] = 2;
        assert_eq!(vendor_id_name(&dpd), Some("Dead Peer Detection"));
        assert_eq!(vendor_id_name(b"OE"), None);
        assert_eq!(vendor_id_name(&[0; 16]), None);
    }

    #[test]
    fn malformed_messages_are_errors() {
        let err = |b: &[u8]| parse_message(b).unwrap_err().to_string();
        assert_eq!(err(&[0; 27]), "IKE message: length 27 bytes, need 28");
        let mut m = v1_main_mode(COOKIE, &broad_transforms()[..2]);
        let good = m.clone();
        m[24..28].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(err(&m), "IKE message length 4294967295 out of bounds");
        let mut v = good.clone();
        v[17] = 0x30;
        assert_eq!(err(&v), "unexpected IKE version 0x30");
        let mut p = good.clone();
        p[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(err(&p), "IKE payload length 2 out of bounds");
        for cut in 0..good.len() {
            assert!(parse_message(&good[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(strip_non_esp_marker(&[0, 0, 0, 0, 1]), &[1]);
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_message(&b);
            let _ = vendor_id_name(&b);
        }

        #[test]
        fn never_panics_on_valid_header(body in proptest::collection::vec(any::<u8>(), 0..400), next in any::<u8>(), major in 1u8..=2) {
            let mut m = header(COOKIE, next, major << 4, 2, 0, body.len());
            m.extend_from_slice(&body);
            let _ = parse_message(&m);
        }
    }
}
