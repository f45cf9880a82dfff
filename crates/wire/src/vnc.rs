//! RFB (VNC) handshake up to the end of authentication (RFC 6143 §7.1-7.3): the
//! ProtocolVersion message, the security type list (3.7+) or the single security type (3.3)
//! or the server's failure reason, then — only where the server offers `None` — the client's
//! choice of `None` and the SecurityResult (3.8), or ClientInit and ServerInit (3.3, 3.7,
//! which send no SecurityResult for `None`).
//!
//! Why choose `None` at all: a server may count a connection that ends before it
//! authenticates as a failure. TigerVNC black-marks every connection from an address until
//! one authenticates (`Blacklist::isBlackmarked` at accept, `clearBlackmark` once security
//! succeeds); after five marks it answers "Too many security failures". Completing the
//! handshake with `None` is a successful connection and clears the marks. With a password
//! type the client cannot authenticate, so it closes after reading the list (nothing is
//! sent that a server could take for a wrong password).

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

    /// Whether the server sends a SecurityResult after `None` (3.8+; 3.3 and 3.7 go straight
    /// to ClientInit) and a reason with a failed SecurityResult (RFC 6143 §7.1.3).
    pub fn has_security_result(&self) -> bool {
        self.major > 3 || (self.major == 3 && self.minor >= 8)
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
    match reason(&mut r)? {
        None => Ok(None),
        Some(text) => Ok(Some((Security::Failure(text), r.position()))),
    }
}

/// Framing of the security message (see [`parse_security`]).
pub fn security_complete(buf: &[u8], list_form: bool) -> Frame {
    parse_security(buf, list_form).map(|o| o.map(|(_, n)| n))
}

/// Security type `None`: no authentication.
pub const SECURITY_NONE: u8 = 1;

/// The client's choice of security type `None` (RFC 6143 §7.1.2, 3.7+).
pub const CHOOSE_NONE: [u8; 1] = [SECURITY_NONE];

/// ClientInit with the shared flag set: other viewers stay connected (RFC 6143 §7.3.1).
pub const CLIENT_INIT_SHARED: [u8; 1] = [1];

/// Longest desktop name we read from ServerInit.
pub const MAX_NAME: usize = 4096;

/// The SecurityResult (RFC 6143 §7.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityResult {
    /// 0: the handshake succeeded.
    Ok,
    /// Failed, with the server's reason (3.8 sends one).
    Failed(Option<String>),
}

/// Framing and parsing of the SecurityResult: `Ok(Some((result, n)))` once complete;
/// `with_reason` for 3.8+, where a failure carries a reason string.
pub fn parse_security_result(
    buf: &[u8],
    with_reason: bool,
) -> Result<Option<(SecurityResult, usize)>, Error> {
    let mut r = Reader::new(buf, "RFB SecurityResult");
    let Ok(status) = r.u32() else {
        return Ok(None);
    };
    if status == 0 {
        return Ok(Some((SecurityResult::Ok, 4)));
    }
    if !with_reason {
        return Ok(Some((SecurityResult::Failed(None), 4)));
    }
    match reason(&mut r)? {
        None => Ok(None),
        Some(text) => Ok(Some((SecurityResult::Failed(Some(text)), r.position()))),
    }
}

/// Framing of the SecurityResult (see [`parse_security_result`]).
pub fn security_result_complete(buf: &[u8], with_reason: bool) -> Frame {
    parse_security_result(buf, with_reason).map(|o| o.map(|(_, n)| n))
}

/// What ServerInit tells (RFC 6143 §7.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// The desktop's name.
    pub name: String,
}

/// Framing and parsing of ServerInit: `Ok(Some((init, n)))` once complete.
pub fn parse_server_init(buf: &[u8]) -> Result<Option<(ServerInit, usize)>, Error> {
    let mut r = Reader::new(buf, "RFB ServerInit");
    let (Ok(width), Ok(height), Ok(_pixel_format), Ok(len)) =
        (r.u16(), r.u16(), r.take(16), r.u32())
    else {
        return Ok(None);
    };
    if len as usize > MAX_NAME {
        return Err(Error::bad_length("RFB desktop name", len));
    }
    let Ok(name) = r.take(len as usize) else {
        return Ok(None);
    };
    let name = printable(name);
    Ok(Some((
        ServerInit {
            width,
            height,
            name,
        },
        r.position(),
    )))
}

/// Framing of ServerInit (see [`parse_server_init`]).
pub fn server_init_complete(buf: &[u8]) -> Frame {
    parse_server_init(buf).map(|o| o.map(|(_, n)| n))
}

/// Whether a failure reason says the server refuses this client itself rather than the
/// protocol: a blacklist after failed logins ("Too many security failures" from TigerVNC
/// and RealVNC, "Too many authentication failures" from LibVNCServer), a connection limit
/// or an address rule. A server that lists no type for other reasons ("No supported
/// security types") is not refusing the client.
pub fn is_refusal(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "too many",
        "blacklist",
        "black-list",
        "blocked",
        "banned",
        "rejected",
        "refused",
        "denied",
        "not allowed",
    ]
    .iter()
    .any(|w| r.contains(w))
}

/// A length-prefixed reason string; `Ok(None)` while incomplete.
fn reason(r: &mut Reader<'_>) -> Result<Option<String>, Error> {
    let Ok(len) = r.u32() else {
        return Ok(None);
    };
    if len as usize > MAX_REASON {
        return Err(Error::bad_length("RFB failure reason", len));
    }
    let Ok(text) = r.take(len as usize) else {
        return Ok(None);
    };
    Ok(Some(printable(text)))
}

fn printable(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
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

    #[test]
    fn security_results() {
        assert_eq!(
            parse_security_result(&[0, 0, 0, 0], true),
            Ok(Some((SecurityResult::Ok, 4)))
        );
        assert_eq!(parse_security_result(&[0, 0, 0], true), Ok(None));
        assert_eq!(
            parse_security_result(&[0, 0, 0, 1], false),
            Ok(Some((SecurityResult::Failed(None), 4)))
        );
        assert_eq!(parse_security_result(&[0, 0, 0, 1, 0, 0], true), Ok(None));
        let failed = [&[0u8, 0, 0, 1, 0, 0, 0, 19][..], b"Connection rejected"].concat();
        assert_eq!(
            parse_security_result(&failed, true),
            Ok(Some((
                SecurityResult::Failed(Some("Connection rejected".into())),
                27
            )))
        );
    }

    #[test]
    fn server_init() {
        let mut b = vec![0x03, 0x20, 0x02, 0x58];
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&[0, 0, 0, 4]);
        assert_eq!(parse_server_init(&b), Ok(None));
        b.extend_from_slice(b"desk");
        assert_eq!(
            parse_server_init(&b),
            Ok(Some((
                ServerInit {
                    width: 800,
                    height: 600,
                    name: "desk".into()
                },
                28
            )))
        );
        b[20] = 0x7f;
        assert!(parse_server_init(&b).is_err());
    }

    #[test]
    fn refusals() {
        assert!(is_refusal("Too many security failures"));
        assert!(is_refusal("Too many authentication failures"));
        assert!(is_refusal("Connection rejected by user"));
        assert!(!is_refusal("No supported security types"));
        assert!(!is_refusal("Server is already in use"));
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
