//! Microsoft SQL Server TDS PRELOGIN ([MS-TDS] 2.2.6.5) request and response.
//!
//! A TDS packet has an 8-byte header (type, status, big-endian length, SPID, packet id,
//! window). The PRELOGIN payload is a list of option tokens (token, big-endian offset and
//! length into the payload) ended by 0xFF, followed by the option data.
//!
//! clinicscan sends ENCRYPTION = ENCRYPT_OFF, so the server's answer tells the three cases
//! apart ([MS-TDS] 2.2.6.5, encryption table): OFF (TLS for the login only, offered),
//! NOT_SUP (no certificate: no TLS at all) and REQ (the server forces encryption).

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

/// Why a response does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MssqlError {
    /// Not enough bytes.
    #[error("truncated packet")]
    Truncated,
    /// Not a TDS response packet.
    #[error("unexpected TDS packet type 0x{0:02x}")]
    UnexpectedType(u8),
    /// Packet length out of bounds.
    #[error("packet length {0} out of bounds")]
    BadLength(usize),
    /// An option points outside the payload.
    #[error("option 0x{0:02x} points outside the payload")]
    BadOption(u8),
    /// No terminator within the payload.
    #[error("option list not terminated")]
    Unterminated,
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

/// Length of the TDS packet at the start of `buf`, once all of it is there.
pub fn packet_len(buf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?));
    if !(8..=MAX_PACKET).contains(&len) {
        return Some(buf.len());
    }
    (buf.len() >= len).then_some(len)
}

/// Parses the server's PRELOGIN response packet.
pub fn parse_prelogin_response(buf: &[u8]) -> Result<Prelogin, MssqlError> {
    let header = buf.get(..8).ok_or(MssqlError::Truncated)?;
    if header[0] != TYPE_RESPONSE {
        return Err(MssqlError::UnexpectedType(header[0]));
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if !(8..=MAX_PACKET).contains(&len) {
        return Err(MssqlError::BadLength(len));
    }
    let payload = buf.get(8..len).ok_or(MssqlError::Truncated)?;
    let mut out = Prelogin {
        version: None,
        encryption: None,
    };
    let mut pos = 0;
    loop {
        let token = *payload.get(pos).ok_or(MssqlError::Unterminated)?;
        if token == TOKEN_TERMINATOR {
            break;
        }
        let t = payload.get(pos + 1..pos + 5).ok_or(MssqlError::Truncated)?;
        let off = usize::from(u16::from_be_bytes([t[0], t[1]]));
        let olen = usize::from(u16::from_be_bytes([t[2], t[3]]));
        let value = payload
            .get(off..off + olen)
            .ok_or(MssqlError::BadOption(token))?;
        match token {
            TOKEN_VERSION if olen >= 6 => {
                out.version = Some((
                    value[0],
                    value[1],
                    u16::from_be_bytes([value[2], value[3]]),
                    u16::from_be_bytes([value[4], value[5]]),
                ));
            }
            TOKEN_ENCRYPTION if olen >= 1 => {
                out.encryption = Some(Encryption::from_byte(value[0]));
            }
            _ => {}
        }
        pos += 5;
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
        assert_eq!(packet_len(&r), Some(r.len()));
        // The ENCRYPTION option value is ENCRYPT_OFF.
        assert_eq!(&r[8 + 5..8 + 10], &[1, 0, 32, 0, 1]);
        assert_eq!(r[8 + 32], 0);
    }

    #[test]
    fn hand_built_2019_encryption_off() {
        let b = fixture("csv-2019-encrypt-off.bin");
        assert_eq!(packet_len(&b), Some(b.len()));
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
        assert_eq!(
            parse_prelogin_response(&[4, 1, 0]),
            Err(MssqlError::Truncated)
        );
        assert_eq!(
            parse_prelogin_response(&prelogin_request()),
            Err(MssqlError::UnexpectedType(0x12))
        );
        assert_eq!(
            parse_prelogin_response(&[4, 1, 0, 2, 0, 0, 1, 0]),
            Err(MssqlError::BadLength(2))
        );
        assert_eq!(
            parse_prelogin_response(&[4, 1, 0, 9, 0, 0, 1, 0, 0]),
            Err(MssqlError::Truncated)
        );
        assert_eq!(
            parse_prelogin_response(&[4, 1, 0, 14, 0, 0, 1, 0, 1, 0xff, 0xff, 0, 1, 0xff]),
            Err(MssqlError::BadOption(1))
        );
        assert_eq!(
            parse_prelogin_response(&[4, 1, 0, 8, 0, 0, 1, 0]),
            Err(MssqlError::Unterminated)
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
