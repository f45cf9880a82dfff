//! PostgreSQL `SSLRequest` (protocol 3.0, "Message Formats" in the PostgreSQL manual):
//! the 8-byte request and the server's one-byte answer.
//!
//! The server answers `S` (willing to do TLS), `N` (no TLS), or — a server too old to know
//! the request, or one that refuses the connection outright — an `ErrorResponse` (`E`).

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
fn error_message(mut fields: &[u8]) -> Option<String> {
    while let Some((&kind, rest)) = fields.split_first() {
        if kind == 0 {
            break;
        }
        let end = rest.iter().position(|&b| b == 0)?;
        if kind == b'M' {
            return Some(String::from_utf8_lossy(&rest[..end]).into_owned());
        }
        fields = &rest[end + 1..];
    }
    None
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

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = answer_len(&b);
            let _ = parse_ssl_answer(&b);
        }
    }
}
