//! Microsoft SQL Server TDS PRELOGIN ([MS-TDS] 2.2.6.5) request and response.
//!
//! A TDS packet has an 8-byte header (type, status, big-endian length, SPID, packet id,
//! window). The PRELOGIN payload is a list of option tokens (token, big-endian offset and
//! length into the payload) ended by 0xFF, followed by the option data.
//!
//! clinicscan sends ENCRYPTION = ENCRYPT_OFF, so the server's answer tells the three cases
//! apart ([MS-TDS] 2.2.6.5, encryption table): OFF (TLS for the login only, offered),
//! NOT_SUP (no certificate: no TLS at all) and REQ (the server forces encryption).

use crate::{Error, Frame, Reader, frame};

/// TDS packet type PRELOGIN.
pub const TYPE_PRELOGIN: u8 = 0x12;
/// TDS packet type Tabular Result (the server's PRELOGIN response).
pub const TYPE_RESPONSE: u8 = 0x04;
/// Largest response packet clinicscan accepts.
pub const MAX_PACKET: usize = 4096;

const TOKEN_VERSION: u8 = 0x00;
const TOKEN_ENCRYPTION: u8 = 0x01;
const TOKEN_INSTOPT: u8 = 0x02;
const TOKEN_THREADID: u8 = 0x03;
const TOKEN_MARS: u8 = 0x04;
const TOKEN_TERMINATOR: u8 = 0xff;

/// The encryption option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// ENCRYPT_OFF (0): encryption available, used for the login only.
    Off,
    /// ENCRYPT_ON (1).
    On,
    /// ENCRYPT_NOT_SUP (2): no encryption at all.
    NotSupported,
    /// ENCRYPT_REQ (3): the server requires encryption.
    Required,
    /// Another value (e.g. ENCRYPT_CLIENT_CERT bits).
    Other(u8),
}

impl Encryption {
    fn from_byte(b: u8) -> Self {
        match b {
            0 => Encryption::Off,
            1 => Encryption::On,
            2 => Encryption::NotSupported,
            3 => Encryption::Required,
            o => Encryption::Other(o),
        }
    }

    /// The fact's text: "off", "on", "not-supported", "required", or "other-0xNN".
    pub fn as_text(self) -> String {
        match self {
            Encryption::Off => "off".into(),
            Encryption::On => "on".into(),
            Encryption::NotSupported => "not-supported".into(),
            Encryption::Required => "required".into(),
            Encryption::Other(b) => format!("other-0x{b:02x}"),
        }
    }
}

/// The server's PRELOGIN response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prelogin {
    /// Version major, minor, build, sub-build.
    pub version: Option<(u8, u8, u16, u16)>,
    /// Encryption option.
    pub encryption: Option<Encryption>,
}

impl Prelogin {
    /// "major.minor.build", e.g. "15.0.2000".
    pub fn version_text(&self) -> Option<String> {
        self.version.map(|(a, b, c, _)| format!("{a}.{b}.{c}"))
    }
}

/// The PRELOGIN request: client version 0.0.0.0, encryption off, no instance, MARS off.
pub fn prelogin_request() -> Vec<u8> {
    // Five option tokens (5 bytes each) and the terminator.
    let options: [(u8, &[u8]); 5] = [
        (TOKEN_VERSION, &[0, 0, 0, 0, 0, 0]),
        (TOKEN_ENCRYPTION, &[0]),
        (TOKEN_INSTOPT, &[0]),
        (TOKEN_THREADID, &[0, 0, 0, 0]),
        (TOKEN_MARS, &[0]),
    ];
    let mut head = Vec::new();
    let mut data = Vec::new();
    let base = options.len() * 5 + 1;
    for (token, value) in options {
        head.push(token);
        head.extend_from_slice(&((base + data.len()) as u16).to_be_bytes());
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        data.extend_from_slice(value);
    }
    head.push(TOKEN_TERMINATOR);
    head.extend_from_slice(&data);
    let total = 8 + head.len();
    let mut pkt = vec![TYPE_PRELOGIN, 0x01];
    pkt.extend_from_slice(&(total as u16).to_be_bytes());
    pkt.extend_from_slice(&[0, 0, 1, 0]);
    pkt.extend_from_slice(&head);
    pkt
}

/// Reads a TDS packet header: the type and the packet's total length, within
/// 8..=[`MAX_PACKET`].
fn header(r: &mut Reader<'_>) -> Result<(u8, usize), Error> {
    let ty = r.u8()?;
    r.skip(1)?;
    let len = usize::from(r.u16()?);
    if !(8..=MAX_PACKET).contains(&len) {
        return Err(Error::bad_length("TDS packet", len as u64));
    }
    r.skip(4)?;
    Ok((ty, len))
}

/// Framing: a whole TDS packet at the start of `buf`.
pub fn packet_len(buf: &[u8]) -> Frame {
    frame(buf, "TDS packet", |r| Ok(header(r)?.1))
}

/// Parses the server's PRELOGIN response packet.
pub fn parse_prelogin_response(buf: &[u8]) -> Result<Prelogin, Error> {
    let mut r = Reader::new(buf, "TDS packet");
    let (ty, len) = header(&mut r)?;
    if ty != TYPE_RESPONSE {
        return Err(Error::unexpected(
            "TDS packet type",
            format_args!("0x{ty:02x}"),
        ));
    }
    let payload = r.take(len - 8)?;
    let mut out = Prelogin {
        version: None,
        encryption: None,
    };
    let mut tokens = Reader::new(payload, "PRELOGIN option list");
    loop {
        let token = tokens
            .u8()
            .map_err(|_| Error::invalid("PRELOGIN option list not terminated"))?;
        if token == TOKEN_TERMINATOR {
            break;
        }
        let off = usize::from(tokens.u16()?);
        let olen = usize::from(tokens.u16()?);
        let mut data = Reader::new(payload, "PRELOGIN option data");
        data.seek(off)?;
        let mut value = data.sub(olen, "PRELOGIN option data")?;
        match token {
            TOKEN_VERSION if olen >= 6 => {
                let [major, minor] = value.array()?;
                out.version = Some((major, minor, value.u16()?, value.u16()?));
            }
            TOKEN_ENCRYPTION if olen >= 1 => {
                out.encryption = Some(Encryption::from_byte(value.u8()?));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The product name for a major version ("Microsoft SQL Server 2019" for 15).
pub fn product_name(major: u8) -> &'static str {
    match major {
        8 => "Microsoft SQL Server 2000",
        9 => "Microsoft SQL Server 2005",
        10 => "Microsoft SQL Server 2008",
        11 => "Microsoft SQL Server 2012",
        12 => "Microsoft SQL Server 2014",
        13 => "Microsoft SQL Server 2016",
        14 => "Microsoft SQL Server 2017",
        15 => "Microsoft SQL Server 2019",
        16 => "Microsoft SQL Server 2022",
        _ => "Microsoft SQL Server",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/mssql/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn request_layout() {
        let r = prelogin_request();
        assert_eq!(r.len(), 8 + 26 + 13);
        assert_eq!(packet_len(&r), Ok(Some(r.len())));
        // The ENCRYPTION option value is ENCRYPT_OFF.
        assert_eq!(&r[8 + 5..8 + 10], &[1, 0, 32, 0, 1]);
        assert_eq!(r[8 + 32], 0);
    }

    #[test]
    fn hand_built_2019_encryption_off() {
        let b = fixture("csv-2019-encrypt-off.bin");
        assert_eq!(packet_len(&b), Ok(Some(b.len())));
        let p = parse_prelogin_response(&b).unwrap();
        assert_eq!(p.version_text().as_deref(), Some("15.0.2000"));
        assert_eq!(p.encryption, Some(Encryption::Off));
    }

    #[test]
    fn hand_built_2022_encryption_required() {
        let p = parse_prelogin_response(&fixture("csv-2022-encrypt-req.bin")).unwrap();
        assert_eq!(p.version_text().as_deref(), Some("16.0.1000"));
        assert_eq!(p.encryption, Some(Encryption::Required));
    }

    #[test]
    fn hand_built_2008_no_encryption() {
        let p = parse_prelogin_response(&fixture("csv-2008r2-encrypt-not-sup.bin")).unwrap();
        assert_eq!(p.version_text().as_deref(), Some("10.50.1600"));
        assert_eq!(p.encryption, Some(Encryption::NotSupported));
        assert_eq!(
            p.encryption.map(Encryption::as_text).as_deref(),
            Some("not-supported")
        );
    }

    #[test]
    fn malformed_responses_are_errors() {
        let err = |b: &[u8]| parse_prelogin_response(b).unwrap_err().to_string();
        assert_eq!(err(&[4, 1, 0]), "TDS packet: length 3 bytes, need 4");
        assert_eq!(err(&prelogin_request()), "unexpected TDS packet type 0x12");
        assert_eq!(
            err(&[4, 1, 0, 2, 0, 0, 1, 0]),
            "TDS packet length 2 out of bounds"
        );
        assert!(packet_len(&[4, 1, 0, 2]).is_err());
        assert_eq!(
            err(&[4, 1, 0, 9, 0, 0, 1, 0, 0]),
            "PRELOGIN option list: length 1 bytes, need 3"
        );
        assert_eq!(
            err(&[4, 1, 0, 14, 0, 0, 1, 0, 1, 0xff, 0xff, 0, 1, 0xff]),
            "PRELOGIN option data: length 6 bytes, need 65535"
        );
        assert_eq!(
            err(&[4, 1, 0, 8, 0, 0, 1, 0]),
            "invalid message: PRELOGIN option list not terminated"
        );
        let b = fixture("csv-2019-encrypt-off.bin");
        for cut in 0..b.len() {
            assert!(parse_prelogin_response(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = packet_len(&b);
            let _ = parse_prelogin_response(&b);
        }
    }
}
