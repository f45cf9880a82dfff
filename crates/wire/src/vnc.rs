//! RFB (VNC) handshake up to the security types (RFC 6143 §7.1): the ProtocolVersion
//! message, then the security type list (3.7+) or the single security type (3.3), or the
//! server's failure reason. clinicscan never picks a security type: it reads and closes.

use crate::{Error, Frame, Reader};

/// Longest failure reason we read.
pub const MAX_REASON: usize = 1024;

fn not_rfb() -> Error {
    Error::invalid("not an RFB ProtocolVersion message")
}

/// Parsed ProtocolVersion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl Version {
    /// "3.8", "3.889".
    pub fn text(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// How the security handshake goes on: `true` for the 3.7+ list form. RFC 6143 §7.1.1:
    /// unknown versions (3.4, 3.6 from UltraVNC, 3.5) are treated as 3.3; Apple's 3.889
    /// follows 3.8.
    pub fn has_type_list(&self) -> bool {
        self.major > 3 || (self.major == 3 && self.minor >= 7)
    }

    /// The version clinicscan answers with: the highest of 3.3/3.7/3.8 not above the server's.
    pub fn client_reply(&self) -> &'static [u8; 12] {
        if self.major > 3 || (self.major == 3 && self.minor >= 8) {
            b"RFB 003.008\n"
        } else if self.major == 3 && self.minor == 7 {
            b"RFB 003.007\n"
        } else {
            b"RFB 003.003\n"
        }
    }
}

/// Framing: the 12-byte ProtocolVersion at the start of `buf`.
pub fn version_complete(buf: &[u8]) -> Frame {
    Ok((buf.len() >= 12).then_some(12))
}

/// Parses the 12-byte ProtocolVersion.
pub fn parse_version(b: &[u8]) -> Result<Version, Error> {
    let b: [u8; 12] = Reader::new(b, "RFB ProtocolVersion")
        .array()
        .map_err(|_| not_rfb())?;
    if &b[..4] != b"RFB " || b[7] != b'.' || b[11] != b'\n' {
        return Err(not_rfb());
    }
    let num = |s: &[u8]| -> Result<u16, Error> {
        if !s.iter().all(u8::is_ascii_digit) {
            return Err(not_rfb());
        }
        Ok(s.iter().fold(0u16, |a, &d| a * 10 + (d - b'0') as u16))
    };
    Ok(Version {
        major: num(&b[4..7])?,
        minor: num(&b[8..11])?,
    })
}

/// The server's security answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Types offered (3.7+ list, or the one type a 3.3 server decided).
    Types(Vec<u8>),
    /// The server refused the connection, with its reason.
    Failure(String),
}

/// Framing and parsing of the security message after the version exchange:
/// `Ok(Some((security, n)))` once it is complete in `buf`.
pub fn parse_security(buf: &[u8], list_form: bool) -> Result<Option<(Security, usize)>, Error> {
    let mut r = Reader::new(buf, "RFB security message");
    if list_form {
        let Ok(count) = r.u8() else {
            return Ok(None);
        };
        if count > 0 {
            let types = r.take(usize::from(count)).ok();
            return Ok(types.map(|t| (Security::Types(t.to_vec()), r.position())));
        }
    } else {
        let Ok(t) = r.u32() else {
            return Ok(None);
        };
        if t != 0 {
            // 3.3: the server decides; types are small numbers
            return Ok(Some((Security::Types(vec![t.min(255) as u8]), 4)));
        }
    }
    // No type: the failure reason follows.
    let Ok(len) = r.u32() else {
        return Ok(None);
    };
    if len as usize > MAX_REASON {
        return Err(Error::bad_length("RFB failure reason", len));
    }
    let Ok(reason) = r.take(len as usize) else {
        return Ok(None);
    };
    let reason: String = String::from_utf8_lossy(reason)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    Ok(Some((Security::Failure(reason), r.position())))
}

/// Framing of the security message (see [`parse_security`]).
pub fn security_complete(buf: &[u8], list_form: bool) -> Frame {
    parse_security(buf, list_form).map(|o| o.map(|(_, n)| n))
}

/// The IANA "RFB Security Types" name of a type.
pub fn security_type_name(t: u8) -> String {
    match t {
        0 => "Invalid".into(),
        1 => "None".into(),
        2 => "VNC Authentication".into(),
        3..=4 | 7..=15 | 128..=255 => "RealVNC".into(),
        5 => "RA2".into(),
        6 => "RA2ne".into(),
        16 => "Tight".into(),
        17 => "Ultra".into(),
        18 => "TLS".into(),
        19 => "VeNCrypt".into(),
        20 => "GTK-VNC SASL".into(),
        21 => "MD5 hash authentication".into(),
        22 => "Colin Dean xvp".into(),
        23 => "Secure Tunnel".into(),
        24 => "Integrated SSH".into(),
        30..=35 => "Apple Inc.".into(),
        n => format!("Unassigned ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let v = parse_version(b"RFB 003.008\n").unwrap();
        assert_eq!(v.text(), "3.8");
        assert!(v.has_type_list());
        let apple = parse_version(b"RFB 003.889\n").unwrap();
        assert_eq!(
            (apple.text(), apple.client_reply()),
            ("3.889".to_string(), b"RFB 003.008\n")
        );
        let ultra = parse_version(b"RFB 003.006\n").unwrap();
        assert!(!ultra.has_type_list());
        assert_eq!(ultra.client_reply(), b"RFB 003.003\n");
        assert_eq!(parse_version(b"RFB 003.00"), Err(not_rfb()));
        assert_eq!(parse_version(b"RFB 0x3.008\n"), Err(not_rfb()));
        assert_eq!(parse_version(b"SSH-2.0-abcd"), Err(not_rfb()));
    }

    #[test]
    fn security_forms() {
        assert_eq!(
            parse_security(&[2, 1, 2, 9], true),
            Ok(Some((Security::Types(vec![1, 2]), 3)))
        );
        assert_eq!(parse_security(&[2, 1], true), Ok(None));
        assert_eq!(
            parse_security(&[0, 0, 0, 2], false),
            Ok(Some((Security::Types(vec![2]), 4)))
        );
        let fail = [&[0u8, 0, 0, 0, 3][..], b"no!"].concat();
        assert_eq!(
            parse_security(&fail, true),
            Ok(Some((Security::Failure("no!".into()), 8)))
        );
        let fail33 = [&[0u8, 0, 0, 0, 0, 0, 0, 2][..], b"go"].concat();
        assert_eq!(
            parse_security(&fail33, false),
            Ok(Some((Security::Failure("go".into()), 10)))
        );
        assert_eq!(
            parse_security(&[0, 0xff, 0, 0, 0], true),
            Err(Error::bad_length("RFB failure reason", 0xff00_0000u32))
        );
        assert_eq!(security_type_name(19), "VeNCrypt");
    }
}

/// Recorded TigerVNC handshakes and hand-made odd servers (fixtures/vnc/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;

    macro_rules! fx {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/vnc/",
                $name
            ))
        };
    }

    fn parse(b: &[u8]) -> Result<(String, Option<(Security, usize)>), Error> {
        let v = parse_version(b)?;
        Ok((v.text(), parse_security(&b[12..], v.has_type_list())?))
    }

    #[test]
    fn tigervnc() {
        assert_eq!(
            parse(fx!("tigervnc-none.bin")),
            Ok(("3.8".into(), Some((Security::Types(vec![1]), 2))))
        );
        assert_eq!(
            parse(fx!("tigervnc-vncauth.bin")),
            Ok(("3.8".into(), Some((Security::Types(vec![2]), 2))))
        );
    }

    #[test]
    fn odd_servers() {
        assert_eq!(
            parse(fx!("rfb-3.3-failure.bin")),
            Ok((
                "3.3".into(),
                Some((Security::Failure("Too many connections".into()), 28))
            ))
        );
        assert_eq!(
            parse(fx!("rfb-3.889-apple.bin")),
            Ok(("3.889".into(), Some((Security::Types(vec![30, 2]), 3))))
        );
        assert_eq!(
            parse(fx!("malformed-oversized-reason.bin")),
            Err(Error::bad_length("RFB failure reason", 0x7fff_ffffu32))
        );
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..128), list in any::<bool>()) {
            if let Ok(v) = super::parse_version(&b) {
                let _ = v.client_reply();
            }
            if let Ok(Some((_, n))) = super::parse_security(&b, list) {
                prop_assert!(n <= b.len());
            }
        }
    }
}
