//! RDP connection start (MS-RDPBCGR 2.2.1.1 / 2.2.1.2): the X.224 Connection Request with
//! RDP_NEG_REQ inside a TPKT (RFC 1006), the Connection Confirm with RDP_NEG_RSP or
//! RDP_NEG_FAILURE, and the CredSSP TSRequest (MS-CSSP 2.2.1) that carries the first NTLM
//! leg. Hand-written: no maintained crate exposes just the negotiation PDUs.

use crate::{Error, Frame, Reader, frame};

/// PROTOCOL_RDP: standard RDP security (no TLS, no NLA).
pub const PROTOCOL_RDP: u32 = 0;
/// PROTOCOL_SSL: TLS.
pub const PROTOCOL_SSL: u32 = 0x1;
/// PROTOCOL_HYBRID: CredSSP (NLA) over TLS.
pub const PROTOCOL_HYBRID: u32 = 0x2;
/// PROTOCOL_RDSTLS.
pub const PROTOCOL_RDSTLS: u32 = 0x4;
/// PROTOCOL_HYBRID_EX: CredSSP with Early User Authorization Result PDU.
pub const PROTOCOL_HYBRID_EX: u32 = 0x8;
/// PROTOCOL_RDSAAD.
pub const PROTOCOL_RDSAAD: u32 = 0x10;

/// Largest TPKT we accept (a Connection Confirm is 19 bytes; an MCS Connect Response
/// carries the server certificate).
pub const MAX_TPKT: usize = 32_768;
/// Largest TSRequest we accept.
pub const MAX_TS_REQUEST: usize = 16_384;

/// The X.224 Connection Request with an RDP_NEG_REQ asking for `requested` protocols.
pub fn connection_request(requested: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(19);
    p.extend_from_slice(&[3, 0, 0, 19]); // TPKT
    p.push(14); // length indicator: 6 + 8
    p.push(0xe0); // CR CDT
    p.extend_from_slice(&[0, 0, 0, 0, 0]); // DST-REF, SRC-REF, class 0
    p.extend_from_slice(&[0x01, 0x00, 0x08, 0x00]); // TYPE_RDP_NEG_REQ, flags, length 8
    p.extend_from_slice(&requested.to_le_bytes());
    p
}

/// Reads a TPKT header (RFC 1006): version 3 and the packet's total length.
fn tpkt_len(r: &mut Reader<'_>) -> Result<usize, Error> {
    let version = r.u8()?;
    if version != 3 {
        return Err(Error::unexpected(
            "TPKT version",
            format_args!("{version:#04x}"),
        ));
    }
    r.skip(1)?;
    let n = usize::from(r.u16()?);
    if !(7..=MAX_TPKT).contains(&n) {
        return Err(Error::bad_length("TPKT", n as u64));
    }
    Ok(n)
}

/// Framing: a whole TPKT at the start of `buf`.
pub fn tpkt_complete(buf: &[u8]) -> Frame {
    frame(buf, "TPKT", tpkt_len)
}

/// What the server answered to the negotiation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiation {
    /// RDP_NEG_RSP: the server selected this protocol; `flags` are its negotiation flags.
    Selected {
        /// selectedProtocol.
        protocol: u32,
        /// RDP_NEG_RSP flags.
        flags: u8,
    },
    /// RDP_NEG_FAILURE with this failureCode.
    Failure(u32),
    /// A Connection Confirm without negotiation data: a server that predates it
    /// (RDP 5.0 and older) and only speaks standard RDP security.
    Legacy,
}

/// Parses a Connection Confirm TPKT framed by [`tpkt_complete`].
pub fn parse_connection_confirm(tpkt: &[u8]) -> Result<Negotiation, Error> {
    let mut r = Reader::new(tpkt, "TPKT");
    let n = tpkt_len(&mut r)?;
    let mut x224 = r.sub(n - 4, "X.224 Connection Confirm")?;
    let li = usize::from(x224.u8()?);
    let mut hdr = x224.sub(li, "X.224 Connection Confirm")?;
    let code = hdr.u8()?;
    if code & 0xf0 != 0xd0 {
        return Err(Error::unexpected(
            "X.224 TPDU code",
            format_args!("{code:#04x}"),
        ));
    }
    hdr.skip(5)?; // DST-REF, SRC-REF, class
    if hdr.is_empty() {
        return Ok(Negotiation::Legacy);
    }
    let [ty, flags] = hdr.array()?;
    let len = hdr.u16_le()?;
    if len != 8 {
        return Err(Error::bad_length("RDP negotiation structure", len));
    }
    let value = hdr.u32_le()?;
    match ty {
        0x02 => Ok(Negotiation::Selected {
            protocol: value,
            flags,
        }),
        0x03 => Ok(Negotiation::Failure(value)),
        other => Err(Error::unexpected("RDP negotiation type", other)),
    }
}

/// The name MS-RDPBCGR 2.2.1.2.2 gives a failureCode.
pub fn failure_name(code: u32) -> String {
    match code {
        1 => "SSL_REQUIRED_BY_SERVER".into(),
        2 => "SSL_NOT_ALLOWED_BY_SERVER".into(),
        3 => "SSL_CERT_NOT_ON_SERVER".into(),
        4 => "INCONSISTENT_FLAGS".into(),
        5 => "HYBRID_REQUIRED_BY_SERVER".into(),
        6 => "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER".into(),
        n => format!("UNKNOWN_FAILURE_{n:#x}"),
    }
}

/// The name of a single selected protocol.
pub fn protocol_name(p: u32) -> String {
    match p {
        PROTOCOL_RDP => "PROTOCOL_RDP".into(),
        PROTOCOL_SSL => "PROTOCOL_SSL".into(),
        PROTOCOL_HYBRID => "PROTOCOL_HYBRID".into(),
        PROTOCOL_RDSTLS => "PROTOCOL_RDSTLS".into(),
        PROTOCOL_HYBRID_EX => "PROTOCOL_HYBRID_EX".into(),
        PROTOCOL_RDSAAD => "PROTOCOL_RDSAAD".into(),
        n => format!("PROTOCOL_{n:#x}"),
    }
}

// ------------------------------------------------------------------ CredSSP TSRequest

use super::ntlm::der;

/// A TSRequest (MS-CSSP 2.2.1) version 2 carrying one SPNEGO-less NTLM token in negoTokens,
/// as a CredSSP client's first message.
pub fn ts_request(nego_token: &[u8]) -> Vec<u8> {
    let version = der(0xa0, &der(0x02, &[2]));
    let token = der(0xa0, &der(0x04, nego_token));
    let nego_data = der(0xa1, &der(0x30, &der(0x30, &token)));
    der(0x30, &[version, nego_data].concat())
}

/// Framing for a DER SEQUENCE (a TSRequest) of at most [`MAX_TS_REQUEST`] bytes.
pub fn der_complete(buf: &[u8]) -> Frame {
    frame(buf, "TSRequest", |r| {
        let tag = r.u8()?;
        if tag != 0x30 {
            return Err(Error::unexpected(
                "TSRequest tag",
                format_args!("{tag:#04x}"),
            ));
        }
        let l0 = r.u8()?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let k = usize::from(l0 & 0x7f);
            if !(1..=3).contains(&k) {
                return Err(Error::bad_length("TSRequest length field", k as u64));
            }
            r.take(k)?
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x))
        };
        let total = r.position() + len;
        if total > MAX_TS_REQUEST {
            return Err(Error::bad_length("TSRequest", total as u64));
        }
        Ok(total)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        assert_eq!(
            connection_request(PROTOCOL_SSL | PROTOCOL_HYBRID),
            [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0]
        );
    }

    #[test]
    fn confirm_variants() {
        let rsp = [
            3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 1, 0, 0, 0,
        ];
        assert_eq!(
            parse_connection_confirm(&rsp),
            Ok(Negotiation::Selected {
                protocol: PROTOCOL_SSL,
                flags: 0x1f
            })
        );
        let fail = [3, 0, 0, 19, 14, 0xd0, 0, 0, 0, 0, 0, 3, 0, 8, 0, 5, 0, 0, 0];
        assert_eq!(parse_connection_confirm(&fail), Ok(Negotiation::Failure(5)));
        assert_eq!(failure_name(5), "HYBRID_REQUIRED_BY_SERVER");
        let legacy = [3, 0, 0, 11, 6, 0xd0, 0, 0, 0, 0, 0];
        assert_eq!(parse_connection_confirm(&legacy), Ok(Negotiation::Legacy));
    }

    #[test]
    fn confirm_malformed() {
        assert_eq!(
            tpkt_complete(b"H"),
            Err(Error::unexpected("TPKT version", "0x48"))
        );
        assert_eq!(
            tpkt_complete(&[3, 0, 0xff, 0xff]),
            Err(Error::bad_length("TPKT", 65535u64))
        );
        assert_eq!(tpkt_complete(&[3, 0, 0, 19, 14]), Ok(None));
        // CR instead of CC
        assert_eq!(
            parse_connection_confirm(&connection_request(0)),
            Err(Error::unexpected("X.224 TPDU code", "0xe0"))
        );
        // length indicator past the end
        assert!(parse_connection_confirm(&[3, 0, 0, 8, 40, 0xd0, 0, 0]).is_err());
        // negotiation structure with a wrong length field
        let bad = [3, 0, 0, 19, 14, 0xd0, 0, 0, 0, 0, 0, 2, 0, 9, 0, 1, 0, 0, 0];
        assert!(parse_connection_confirm(&bad).is_err());
    }

    #[test]
    fn ts_request_framing() {
        let t = ts_request(b"NTLMSSP\0abc");
        assert_eq!(der_complete(&t), Ok(Some(t.len())));
        assert_eq!(der_complete(&t[..t.len() - 1]), Ok(None));
        assert!(der_complete(&[0x30, 0x84, 1, 2, 3, 4]).is_err());
        assert!(der_complete(&[0x30, 0x82, 0xff, 0xff]).is_err());
        assert!(der_complete(&[0x02]).is_err());
        assert_eq!(&t[..7], &[0x30, 0x1a, 0xa0, 3, 2, 1, 2]);
    }
}

/// Recorded Connection Confirms (fixtures/rdp/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;

    macro_rules! fx {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/rdp/",
                $name
            ))
        };
    }

    fn cc(b: &[u8]) -> Result<Negotiation, Error> {
        let n = tpkt_complete(b)?.unwrap_or(0);
        assert_eq!(n, b.len());
        parse_connection_confirm(b)
    }

    #[test]
    fn xrdp_negotiate() {
        // offered SSL|HYBRID|HYBRID_EX: xrdp has no CredSSP and picks TLS
        let sel = |protocol| Ok(Negotiation::Selected { protocol, flags: 1 });
        assert_eq!(
            cc(fx!("xrdp-negotiate-cc-ssl-hybrid-ex.bin")),
            sel(PROTOCOL_SSL)
        );
        assert_eq!(cc(fx!("xrdp-negotiate-cc-rdp.bin")), sel(PROTOCOL_RDP));
        assert_eq!(cc(fx!("xrdp-negotiate-cc-ssl.bin")), sel(PROTOCOL_SSL));
    }

    /// What misleads nmap's rdp-enum-encryption ("CredSSP (NLA): SUCCESS" on xrdp): xrdp
    /// answers a CredSSP-only request with an RDP_NEG_RSP that selects standard RDP security
    /// (negotiate and rdp layers) or refuses it (tls layer); only freerdp selects HYBRID.
    #[test]
    fn hybrid_only_requests() {
        let sel = |protocol, flags| Ok(Negotiation::Selected { protocol, flags });
        assert_eq!(
            cc(fx!("xrdp-negotiate-cc-hybrid.bin")),
            sel(PROTOCOL_RDP, 1)
        );
        assert_eq!(cc(fx!("xrdp-rdp-cc-hybrid.bin")), sel(PROTOCOL_RDP, 1));
        assert_eq!(
            cc(fx!("xrdp-tls-cc-hybrid.bin")),
            Ok(Negotiation::Failure(1))
        );
        assert_eq!(
            cc(fx!("freerdp-nla-cc-hybrid.bin")),
            sel(PROTOCOL_HYBRID, 3)
        );
    }

    #[test]
    fn xrdp_rdp_only_and_tls_only() {
        let sel = |protocol| Ok(Negotiation::Selected { protocol, flags: 1 });
        // security_layer=rdp answers every request with standard RDP security
        assert_eq!(cc(fx!("xrdp-rdp-cc-ssl-hybrid-ex.bin")), sel(PROTOCOL_RDP));
        assert_eq!(cc(fx!("xrdp-rdp-cc-ssl.bin")), sel(PROTOCOL_RDP));
        assert_eq!(cc(fx!("xrdp-tls-cc-ssl-hybrid-ex.bin")), sel(PROTOCOL_SSL));
        assert_eq!(cc(fx!("xrdp-tls-cc-rdp.bin")), Ok(Negotiation::Failure(1)));
    }

    #[test]
    fn freerdp_nla_only() {
        assert_eq!(
            cc(fx!("freerdp-nla-cc-ssl-hybrid-ex.bin")),
            Ok(Negotiation::Selected {
                protocol: PROTOCOL_HYBRID,
                flags: 3
            })
        );
        assert_eq!(
            cc(fx!("freerdp-nla-cc-rdp.bin")),
            Ok(Negotiation::Failure(5))
        );
        assert_eq!(
            cc(fx!("freerdp-nla-cc-ssl.bin")),
            Ok(Negotiation::Failure(5))
        );
    }

    #[test]
    fn xrdp_mcs_connect_response() {
        let high = fx!("xrdp-negotiate-high-mcs-connect-response.bin");
        assert_eq!(tpkt_complete(high), Ok(Some(high.len())));
        assert_eq!(
            parse_mcs_connect_response(high),
            Ok(ServerSecurity {
                method: ENCRYPTION_128BIT,
                level: 3
            })
        );
        // crypt_level=low: 40-bit chosen although 128-bit was offered
        assert_eq!(
            parse_mcs_connect_response(fx!("xrdp-rdp-low-mcs-connect-response.bin")),
            Ok(ServerSecurity {
                method: ENCRYPTION_40BIT,
                level: 1
            })
        );
        assert!(parse_mcs_connect_response(&high[..300]).is_err());
    }

    #[test]
    fn malformed() {
        assert_eq!(tpkt_complete(fx!("malformed-truncated-cc.bin")), Ok(None));
        assert!(parse_connection_confirm(fx!("malformed-truncated-cc.bin")).is_err());
        assert_eq!(
            tpkt_complete(fx!("malformed-oversized-tpkt.bin")),
            Err(Error::bad_length("TPKT", 65535u64))
        );
        assert_eq!(
            tpkt_complete(fx!("malformed-http-reply.bin")),
            Err(Error::unexpected("TPKT version", "0x48"))
        );
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = super::tpkt_complete(&b);
            let _ = super::parse_connection_confirm(&b);
            let _ = super::der_complete(&b);
            let _ = super::parse_mcs_connect_response(&b);
        }

        #[test]
        fn confirm_shaped(li in any::<u8>(), code in any::<u8>(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut b = vec![3, 0, 0, (5 + tail.len()) as u8, li, code];
            b.extend_from_slice(&tail);
            let _ = super::parse_connection_confirm(&b);
        }
    }
}

// ------------------------------------------------------------------ MCS / GCC (standard RDP security)

/// ENCRYPTION_METHOD_40BIT.
pub const ENCRYPTION_40BIT: u32 = 0x01;
/// ENCRYPTION_METHOD_128BIT.
pub const ENCRYPTION_128BIT: u32 = 0x02;
/// ENCRYPTION_METHOD_56BIT.
pub const ENCRYPTION_56BIT: u32 = 0x08;
/// ENCRYPTION_METHOD_FIPS.
pub const ENCRYPTION_FIPS: u32 = 0x10;
/// Every standard RDP security encryption method.
pub const ENCRYPTION_ALL: u32 =
    ENCRYPTION_40BIT | ENCRYPTION_128BIT | ENCRYPTION_56BIT | ENCRYPTION_FIPS;

fn ber(tag: &[u8], content: &[u8]) -> Vec<u8> {
    let mut v = tag.to_vec();
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

/// The Client MCS Connect Initial PDU with GCC Conference Create Request
/// (MS-RDPBCGR 2.2.1.3): client core data, security data offering `encryption_methods`,
/// no virtual channels. `selected_protocol` echoes what the server chose (PROTOCOL_RDP).
pub fn mcs_connect_initial(encryption_methods: u32, selected_protocol: u32) -> Vec<u8> {
    let mut core = Vec::with_capacity(216);
    core.extend_from_slice(&0xc001u16.to_le_bytes());
    core.extend_from_slice(&216u16.to_le_bytes());
    core.extend_from_slice(&0x0008_0004u32.to_le_bytes()); // RDP 5.0+
    core.extend_from_slice(&1024u16.to_le_bytes());
    core.extend_from_slice(&768u16.to_le_bytes());
    core.extend_from_slice(&0xca01u16.to_le_bytes()); // RNS_UD_COLOR_8BPP
    core.extend_from_slice(&0xaa03u16.to_le_bytes()); // RNS_UD_SAS_DEL
    core.extend_from_slice(&0x409u32.to_le_bytes()); // en-US keyboard
    core.extend_from_slice(&2600u32.to_le_bytes()); // client build
    let mut name = [0u8; 32];
    for (i, u) in "clinicscan".encode_utf16().enumerate() {
        name[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
    }
    core.extend_from_slice(&name);
    core.extend_from_slice(&4u32.to_le_bytes()); // IBM enhanced keyboard
    core.extend_from_slice(&0u32.to_le_bytes());
    core.extend_from_slice(&12u32.to_le_bytes());
    core.extend_from_slice(&[0; 64]); // IME file name
    core.extend_from_slice(&0xca01u16.to_le_bytes());
    core.extend_from_slice(&1u16.to_le_bytes());
    core.extend_from_slice(&0u32.to_le_bytes());
    core.extend_from_slice(&24u16.to_le_bytes());
    core.extend_from_slice(&0x0007u16.to_le_bytes());
    core.extend_from_slice(&0x0001u16.to_le_bytes()); // RNS_UD_CS_SUPPORT_ERRINFO_PDU
    core.extend_from_slice(&[0; 64]); // dig product id
    core.extend_from_slice(&[0, 0]); // connection type, pad
    core.extend_from_slice(&selected_protocol.to_le_bytes());
    let mut blocks = core;
    blocks.extend_from_slice(&0xc002u16.to_le_bytes());
    blocks.extend_from_slice(&12u16.to_le_bytes());
    blocks.extend_from_slice(&encryption_methods.to_le_bytes());
    blocks.extend_from_slice(&0u32.to_le_bytes());
    blocks.extend_from_slice(&0xc003u16.to_le_bytes());
    blocks.extend_from_slice(&8u16.to_le_bytes());
    blocks.extend_from_slice(&0u32.to_le_bytes());

    // GCC Conference Create Request (T.124, PER), as in MS-RDPBCGR 4.1.3
    let per_len = |n: usize| [0x80 | (n >> 8) as u8, n as u8];
    let mut gcc = vec![0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01];
    gcc.extend_from_slice(&per_len(14 + blocks.len()));
    gcc.extend_from_slice(&[
        0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0, 0x00, b'D', b'u', b'c', b'a',
    ]);
    gcc.extend_from_slice(&per_len(blocks.len()));
    gcc.extend_from_slice(&blocks);

    let params = |v: [&[u8]; 8]| {
        let ints: Vec<u8> = v.iter().flat_map(|i| ber(&[0x02], i)).collect();
        ber(&[0x30], &ints)
    };
    let mut mcs = Vec::new();
    mcs.extend_from_slice(&ber(&[0x04], &[1])); // calling domain selector
    mcs.extend_from_slice(&ber(&[0x04], &[1])); // called domain selector
    mcs.extend_from_slice(&ber(&[0x01], &[0xff])); // upward flag
    mcs.extend_from_slice(&params([
        &[34],
        &[2],
        &[0],
        &[1],
        &[0],
        &[1],
        &[0xff, 0xff],
        &[2],
    ]));
    mcs.extend_from_slice(&params([
        &[1],
        &[1],
        &[1],
        &[1],
        &[0],
        &[1],
        &[0x04, 0x20],
        &[2],
    ]));
    mcs.extend_from_slice(&params([
        &[0xff, 0xff],
        &[0xfc, 0x17],
        &[0xff, 0xff],
        &[1],
        &[0],
        &[1],
        &[0xff, 0xff],
        &[2],
    ]));
    mcs.extend_from_slice(&ber(&[0x04], &gcc));
    let mcs = ber(&[0x7f, 0x65], &mcs);

    let total = 4 + 3 + mcs.len();
    let mut p = vec![3, 0, (total >> 8) as u8, total as u8, 0x02, 0xf0, 0x80];
    p.extend_from_slice(&mcs);
    p
}

/// What the server's security data (SC_SECURITY, MS-RDPBCGR 2.2.1.4.3) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSecurity {
    /// The encryption method the server chose (0: none).
    pub method: u32,
    /// The server's encryption level (0 none, 1 low, 2 client compatible, 3 high, 4 FIPS).
    pub level: u32,
}

/// Finds the server data blocks in an MCS Connect Response TPKT and returns SC_SECURITY.
///
/// The BER/PER wrapping before the blocks varies in length, so the blocks are found by their
/// first header (SC_CORE, 0x0C01, with a plausible length) and then walked one by one.
pub fn parse_mcs_connect_response(tpkt: &[u8]) -> Result<ServerSecurity, Error> {
    let mut r = Reader::new(tpkt, "TPKT");
    let n = tpkt_len(&mut r)?;
    let mut pdu = r.sub(n - 4, "MCS Connect Response")?;
    pdu.skip(3)?; // X.224 data TPDU
    let body = pdu.rest();
    if !body.starts_with(&[0x7f, 0x66]) {
        return Err(Error::invalid("not an MCS Connect Response"));
    }
    let start = body
        .windows(4)
        .position(|w| {
            w[0] == 0x01 && w[1] == 0x0c && (8..=64).contains(&u16::from_le_bytes([w[2], w[3]]))
        })
        .ok_or_else(|| Error::invalid("MCS Connect Response without server data blocks"))?;
    let mut blocks = Reader::new(&body[start..], "server data block");
    while blocks.remaining() >= 4 {
        let ty = blocks.u16_le()?;
        let len = usize::from(blocks.u16_le()?);
        if len < 4 {
            return Err(Error::bad_length("server data block", len as u64));
        }
        let mut block = blocks.sub(len - 4, "server data block")?;
        if ty == 0x0c02 && len >= 12 {
            return Ok(ServerSecurity {
                method: block.u32_le()?,
                level: block.u32_le()?,
            });
        }
    }
    Err(Error::invalid("MCS Connect Response without SC_SECURITY"))
}

/// Name of an encryption method.
pub fn encryption_method_name(m: u32) -> String {
    match m {
        0 => "none".into(),
        ENCRYPTION_40BIT => "40-bit RC4".into(),
        ENCRYPTION_56BIT => "56-bit RC4".into(),
        ENCRYPTION_128BIT => "128-bit RC4".into(),
        ENCRYPTION_FIPS => "FIPS 140-1 3DES".into(),
        n => format!("method {n:#x}"),
    }
}

/// Name of an encryption level.
pub fn encryption_level_name(l: u32) -> String {
    match l {
        0 => "none".into(),
        1 => "low".into(),
        2 => "client-compatible".into(),
        3 => "high".into(),
        4 => "fips".into(),
        n => format!("level {n}"),
    }
}

#[cfg(test)]
mod mcs_tests {
    use super::*;

    #[test]
    fn connect_initial_shape() {
        let p = mcs_connect_initial(ENCRYPTION_ALL, PROTOCOL_RDP);
        assert_eq!(tpkt_complete(&p), Ok(Some(p.len())));
        assert_eq!(&p[4..9], &[0x02, 0xf0, 0x80, 0x7f, 0x65]);
        // the security block carries the methods offered
        let at = p.windows(4).position(|w| w == [0x02, 0xc0, 12, 0]).unwrap();
        assert_eq!(&p[at + 4..at + 8], &ENCRYPTION_ALL.to_le_bytes());
    }

    #[test]
    fn response_blocks() {
        let mut body = vec![0x7f, 0x66, 0x82, 0, 0, 0x0a, 1, 0, 0, 0, 0];
        body.extend_from_slice(&[0x01, 0x0c, 8, 0, 4, 0, 8, 0]); // SC_CORE
        body.extend_from_slice(&[0x02, 0x0c, 12, 0, 2, 0, 0, 0, 3, 0, 0, 0]); // SC_SECURITY
        let n = 7 + body.len();
        let mut p = vec![3, 0, (n >> 8) as u8, n as u8, 2, 0xf0, 0x80];
        p.extend_from_slice(&body);
        assert_eq!(
            parse_mcs_connect_response(&p),
            Ok(ServerSecurity {
                method: ENCRYPTION_128BIT,
                level: 3
            })
        );
        p[7] = 0x30;
        assert!(parse_mcs_connect_response(&p).is_err());
    }
}
