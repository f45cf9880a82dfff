//! PostgreSQL `SSLRequest` (protocol 3.0, "Message Formats" in the PostgreSQL manual):
//! the 8-byte request and the server's one-byte answer.
//!
//! The server answers `S` (willing to do TLS), `N` (no TLS), or — a server too old to know
//! the request, or one that refuses the connection outright — an `ErrorResponse` (`E`).

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

/// Why an answer does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostgresError {
    /// Not enough bytes yet.
    #[error("truncated answer")]
    Truncated,
    /// The first byte is none of `S`, `N`, `E`.
    #[error("unexpected answer byte 0x{0:02x}")]
    UnexpectedByte(u8),
    /// An ErrorResponse length outside 4..=MAX_ERROR_LEN.
    #[error("error response length {0} out of bounds")]
    BadLength(u32),
}

/// How many bytes the answer at the start of `buf` takes, once all of it is there.
pub fn answer_len(buf: &[u8]) -> Option<usize> {
    match buf.first()? {
        b'E' => {
            let len = u32::from_be_bytes(buf.get(1..5)?.try_into().ok()?) as usize;
            if !(4..=MAX_ERROR_LEN).contains(&len) {
                // Let the parser report the bad length.
                return Some(buf.len());
            }
            (buf.len() > len).then_some(len + 1)
        }
        _ => Some(1),
    }
}

/// Parses the server's answer to SSLRequest.
pub fn parse_ssl_answer(buf: &[u8]) -> Result<SslAnswer, PostgresError> {
    match *buf.first().ok_or(PostgresError::Truncated)? {
        b'S' => Ok(SslAnswer::Supported),
        b'N' => Ok(SslAnswer::NotSupported),
        b'E' => {
            let len_bytes: [u8; 4] = buf
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .ok_or(PostgresError::Truncated)?;
            let len = u32::from_be_bytes(len_bytes);
            if !(4..=MAX_ERROR_LEN as u32).contains(&len) {
                return Err(PostgresError::BadLength(len));
            }
            let body = buf
                .get(5..1 + len as usize)
                .ok_or(PostgresError::Truncated)?;
            Ok(SslAnswer::Error(error_message(body)))
        }
        other => Err(PostgresError::UnexpectedByte(other)),
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
        assert_eq!(answer_len(&b), Some(1));
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
        assert_eq!(answer_len(&b), Some(b.len()));
        assert_eq!(
            parse_ssl_answer(&b),
            Ok(SslAnswer::Error(Some(
                "unsupported frontend protocol".into()
            )))
        );
        assert_eq!(answer_len(&b[..b.len() - 1]), None);
        assert_eq!(parse_ssl_answer(&b[..8]), Err(PostgresError::Truncated));
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert_eq!(parse_ssl_answer(b""), Err(PostgresError::Truncated));
        assert_eq!(
            parse_ssl_answer(b"H"),
            Err(PostgresError::UnexpectedByte(b'H'))
        );
        assert_eq!(
            parse_ssl_answer(b"E\xff\xff\xff\xff"),
            Err(PostgresError::BadLength(u32::MAX))
        );
        assert_eq!(
            parse_ssl_answer(b"E\0\0\0\x02"),
            Err(PostgresError::BadLength(2))
        );
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = answer_len(&b);
            let _ = parse_ssl_answer(&b);
        }
    }
}
