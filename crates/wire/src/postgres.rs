//! PostgreSQL `SSLRequest` and `StartupMessage` (protocol 3.0, "Message Formats" in the
//! PostgreSQL manual): the 8-byte request and the server's one-byte answer; the startup
//! packet and the server's first answer, an `AuthenticationRequest` (`R`) that names the
//! method pg_hba.conf chose, or an `ErrorResponse` (`E`).
//!
//! The server answers SSLRequest with `S` (willing to do TLS), `N` (no TLS), or — a server
//! too old to know the request, or one that refuses the connection outright — an
//! `ErrorResponse`. clinicscan never answers an authentication request: a client that hangs
//! up there is not logged by the server (libpq does the same whenever it has no password).

use crate::{Error, Frame, Reader, frame};

/// The SSLRequest message: length 8, code 80877103.
pub const SSL_REQUEST: [u8; 8] = [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f];

/// Largest ErrorResponse clinicscan reads.
pub const MAX_ERROR_LEN: usize = 4096;

/// The server's answer to SSLRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslAnswer {
    /// `S`: the server will do TLS.
    Supported,
    /// `N`: the server does not do TLS on this port.
    NotSupported,
    /// `E`: an ErrorResponse; the message field (`M`) when present.
    Error(Option<String>),
}

/// Reads the answer's first byte and, for an ErrorResponse, its length (within
/// 4..=[`MAX_ERROR_LEN`]): the answer and its total length.
fn header(r: &mut Reader<'_>) -> Result<(u8, usize), Error> {
    match r.u8()? {
        b @ (b'S' | b'N') => Ok((b, 1)),
        b'E' => {
            let len = r.u32()?;
            if !(4..=MAX_ERROR_LEN as u32).contains(&len) {
                return Err(Error::bad_length("ErrorResponse", len));
            }
            Ok((b'E', 1 + len as usize))
        }
        other => Err(Error::unexpected(
            "SSLRequest answer",
            format_args!("0x{other:02x}"),
        )),
    }
}

/// Framing: the whole answer at the start of `buf`.
pub fn answer_len(buf: &[u8]) -> Frame {
    frame(buf, "SSLRequest answer", |r| Ok(header(r)?.1))
}

/// Parses the server's answer to SSLRequest.
pub fn parse_ssl_answer(buf: &[u8]) -> Result<SslAnswer, Error> {
    let mut r = Reader::new(buf, "SSLRequest answer");
    match header(&mut r)? {
        (b'S', _) => Ok(SslAnswer::Supported),
        (b'N', _) => Ok(SslAnswer::NotSupported),
        (_, total) => Ok(SslAnswer::Error(error_message(r.take(total - 5)?))),
    }
}

/// The `M` field of ErrorResponse fields (type byte, NUL-terminated string, ..., NUL).
fn error_message(fields: &[u8]) -> Option<String> {
    error_field(fields, b'M')
}

/// One field of ErrorResponse fields.
fn error_field(mut fields: &[u8], want: u8) -> Option<String> {
    while let Some((&kind, rest)) = fields.split_first() {
        if kind == 0 {
            break;
        }
        let end = rest.iter().position(|&b| b == 0)?;
        if kind == want {
            return Some(String::from_utf8_lossy(&rest[..end]).into_owned());
        }
        fields = &rest[end + 1..];
    }
    None
}

/// The user and database of clinicscan's StartupMessage: `postgres` exists on nearly every
/// server, so pg_hba.conf's answer is its method and not "role does not exist" (which
/// PostgreSQL logs as FATAL once a trust line lets a missing role in).
pub const STARTUP_USER: &str = "postgres";

/// A StartupMessage (protocol 3.0) for `user` and `database`, naming clinicscan as the
/// application.
pub fn startup_message(user: &str, database: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // 3.0
    for (k, v) in [
        ("user", user),
        ("database", database),
        ("application_name", "clinicscan"),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// The Terminate message: a clean goodbye after AuthenticationOk.
pub const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

/// Largest backend message clinicscan reads after StartupMessage.
pub const MAX_MESSAGE_LEN: usize = 8192;

/// Framing of one backend message (type byte, length including itself).
pub fn message_complete(buf: &[u8]) -> Frame {
    frame(buf, "PostgreSQL message", |r| {
        let kind = r.u8()?;
        if !kind.is_ascii_alphabetic() {
            return Err(Error::unexpected(
                "PostgreSQL message type",
                format_args!("0x{kind:02x}"),
            ));
        }
        let len = r.u32()?;
        if !(4..=MAX_MESSAGE_LEN as u32).contains(&len) {
            return Err(Error::bad_length("PostgreSQL message", len));
        }
        Ok(1 + len as usize)
    })
}

/// The server's first answer to a StartupMessage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupAnswer {
    /// AuthenticationOk (0): logged in without any password (trust, or an ident/peer match).
    Ok,
    /// AuthenticationCleartextPassword (3).
    Cleartext,
    /// AuthenticationMD5Password (5).
    Md5,
    /// AuthenticationSASL (10) with the mechanisms offered, e.g. "SCRAM-SHA-256".
    Sasl(Vec<String>),
    /// AuthenticationGSS (7).
    Gss,
    /// AuthenticationSSPI (9).
    Sspi,
    /// AuthenticationKerberosV5 (2).
    KerberosV5,
    /// Any other authentication request code.
    Other(u32),
    /// ErrorResponse: the severity (`S`), SQLSTATE (`C`) and message (`M`) fields.
    Error {
        /// SQLSTATE, e.g. "28000" (invalid_authorization_specification: no pg_hba.conf entry).
        code: Option<String>,
        /// Message text.
        message: Option<String>,
    },
}

impl StartupAnswer {
    /// The pg_hba.conf method this answer shows: "trust", "password", "md5",
    /// "scram-sha-256", "gss", "sspi"; `None` for an error or an unknown code.
    pub fn method(&self) -> Option<String> {
        Some(match self {
            StartupAnswer::Ok => "trust".into(),
            StartupAnswer::Cleartext => "password".into(),
            StartupAnswer::Md5 => "md5".into(),
            StartupAnswer::Sasl(m) if m.iter().any(|m| m.starts_with("SCRAM-SHA-256")) => {
                "scram-sha-256".into()
            }
            StartupAnswer::Sasl(_) => "sasl".into(),
            StartupAnswer::Gss => "gss".into(),
            StartupAnswer::Sspi => "sspi".into(),
            StartupAnswer::KerberosV5 => "krb5".into(),
            StartupAnswer::Other(_) | StartupAnswer::Error { .. } => return None,
        })
    }
}

/// Parses one whole backend message as the answer to a StartupMessage.
pub fn parse_startup_answer(buf: &[u8]) -> Result<StartupAnswer, Error> {
    let mut r = Reader::new(buf, "PostgreSQL startup answer");
    let kind = r.u8()?;
    let len = r.u32()?;
    if !(4..=MAX_MESSAGE_LEN as u32).contains(&len) {
        return Err(Error::bad_length("PostgreSQL message", len));
    }
    let mut body = r.sub(len as usize - 4, "PostgreSQL message body")?;
    match kind {
        b'R' => Ok(match body.u32()? {
            0 => StartupAnswer::Ok,
            2 => StartupAnswer::KerberosV5,
            3 => StartupAnswer::Cleartext,
            5 => StartupAnswer::Md5,
            7 => StartupAnswer::Gss,
            9 => StartupAnswer::Sspi,
            10 => {
                let mut mechanisms = Vec::new();
                while let Some(m) = body.until(0) {
                    if m.is_empty() {
                        break;
                    }
                    mechanisms.push(String::from_utf8_lossy(m).into_owned());
                }
                StartupAnswer::Sasl(mechanisms)
            }
            other => StartupAnswer::Other(other),
        }),
        b'E' => {
            let fields = body.rest();
            Ok(StartupAnswer::Error {
                code: error_field(fields, b'C'),
                message: error_field(fields, b'M'),
            })
        }
        other => Err(Error::unexpected(
            "PostgreSQL startup answer",
            format_args!("message type 0x{other:02x}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../fixtures/postgres/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn request_is_the_documented_code() {
        assert_eq!(
            u32::from_be_bytes(SSL_REQUEST[4..].try_into().unwrap()),
            80_877_103
        );
    }

    #[test]
    fn recorded_ssl_off_answers_n() {
        let b = fixture("csv-ssl-off.bin");
        assert_eq!(answer_len(&b), Ok(Some(1)));
        assert_eq!(parse_ssl_answer(&b), Ok(SslAnswer::NotSupported));
    }

    #[test]
    fn recorded_ssl_on_answers_s() {
        let b = fixture("csv-ssl-on.bin");
        assert_eq!(parse_ssl_answer(&b), Ok(SslAnswer::Supported));
    }

    #[test]
    fn error_response_message_is_read() {
        let mut b = vec![b'E'];
        let body = b"SFATAL\0C0A000\0Munsupported frontend protocol\0\0";
        b.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        b.extend_from_slice(body);
        assert_eq!(answer_len(&b), Ok(Some(b.len())));
        assert_eq!(
            parse_ssl_answer(&b),
            Ok(SslAnswer::Error(Some(
                "unsupported frontend protocol".into()
            )))
        );
        assert_eq!(answer_len(&b[..b.len() - 1]), Ok(None));
        assert!(matches!(
            parse_ssl_answer(&b[..8]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn malformed_answers_are_errors() {
        let err = |b: &[u8]| parse_ssl_answer(b).unwrap_err().to_string();
        assert_eq!(err(b""), "SSLRequest answer: length 0 bytes, need 1");
        assert_eq!(err(b"H"), "unexpected SSLRequest answer 0x48");
        assert!(answer_len(b"H").is_err());
        assert_eq!(
            err(b"E\xff\xff\xff\xff"),
            "ErrorResponse length 4294967295 out of bounds"
        );
        assert_eq!(err(b"E\0\0\0\x02"), "ErrorResponse length 2 out of bounds");
    }

    #[test]
    fn recorded_startup_answers() {
        let trust = fixture("csv-trust-startup.bin");
        assert_eq!(message_complete(&trust), Ok(Some(trust.len())));
        assert_eq!(parse_startup_answer(&trust), Ok(StartupAnswer::Ok));
        let scram = fixture("csv-scram-startup.bin");
        assert_eq!(message_complete(&scram), Ok(Some(scram.len())));
        assert_eq!(
            parse_startup_answer(&scram),
            Ok(StartupAnswer::Sasl(vec![
                "SCRAM-SHA-256-PLUS".into(),
                "SCRAM-SHA-256".into()
            ]))
        );
        assert_eq!(message_complete(&scram[..10]), Ok(None));
    }

    #[test]
    fn startup_message_layout() {
        let m = startup_message("postgres", "postgres");
        assert_eq!(
            u32::from_be_bytes(m[..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(&m[4..8], &[0, 3, 0, 0]);
        assert!(m.ends_with(b"application_name\0clinicscan\0\0"));
    }

    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut b = vec![kind];
        b.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn authentication_requests() {
        let ok = msg(b'R', &[0, 0, 0, 0]);
        assert_eq!(message_complete(&ok), Ok(Some(9)));
        assert_eq!(message_complete(&ok[..5]), Ok(None));
        assert_eq!(parse_startup_answer(&ok), Ok(StartupAnswer::Ok));
        assert_eq!(StartupAnswer::Ok.method().as_deref(), Some("trust"));
        let md5 = msg(b'R', &[0, 0, 0, 5, 1, 2, 3, 4]);
        assert_eq!(parse_startup_answer(&md5), Ok(StartupAnswer::Md5));
        let sasl = msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
        let a = parse_startup_answer(&sasl).unwrap();
        assert_eq!(
            a,
            StartupAnswer::Sasl(vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()])
        );
        assert_eq!(a.method().as_deref(), Some("scram-sha-256"));
        let err = msg(
            b'E',
            b"SFATAL\0C28000\0Mno pg_hba.conf entry for host \"10.0.0.1\"\0\0",
        );
        assert_eq!(
            parse_startup_answer(&err),
            Ok(StartupAnswer::Error {
                code: Some("28000".into()),
                message: Some("no pg_hba.conf entry for host \"10.0.0.1\"".into())
            })
        );
        assert!(message_complete(b"\x01\0\0\0\x08").is_err());
        assert!(message_complete(b"R\xff\0\0\0").is_err());
        assert!(parse_startup_answer(&msg(b'Z', b"I")).is_err());
        assert!(parse_startup_answer(&msg(b'R', &[0, 0])).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = answer_len(&b);
            let _ = parse_ssl_answer(&b);
            let _ = message_complete(&b);
            let _ = parse_startup_answer(&b);
        }
    }
}
