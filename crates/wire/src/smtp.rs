//! SMTP replies (RFC 5321 §4.2): a three-digit code, single-line ("250 text") or
//! multi-line ("250-first", ..., "250 last"). Only what a STARTTLS probe reads: the
//! greeting, the EHLO keywords and the answer to STARTTLS.

use crate::{Error, Frame};

/// The longest reply read (all lines of one multi-line reply).
pub const MAX_REPLY: usize = 8 * 1024;

fn too_long(len: usize) -> Error {
    Error::TooLarge {
        what: "SMTP reply",
        len,
    }
}

/// Framing: a whole reply (its last line is `ddd ` or `ddd` then CR LF) at the start of
/// `buf`; an error past [`MAX_REPLY`] bytes.
pub fn reply_complete(buf: &[u8]) -> Frame {
    let mut start = 0;
    while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
        let line = &buf[start..start + nl];
        let end = start + nl + 1;
        if line.len() < 4 || line[3] != b'-' {
            return Ok(Some(end));
        }
        start = end;
    }
    if buf.len() > MAX_REPLY {
        return Err(too_long(buf.len()));
    }
    Ok(None)
}

/// A reply: its code and its lines' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code (200..=599).
    pub code: u16,
    /// The text of each line, after the code and its separator.
    pub lines: Vec<String>,
}

/// Parses one whole reply.
pub fn parse_reply(buf: &[u8]) -> Result<Reply, Error> {
    if buf.len() > MAX_REPLY {
        return Err(too_long(buf.len()));
    }
    let text = String::from_utf8_lossy(buf);
    let mut code = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let c: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| {
                Error::invalid(format_args!(
                    "not an SMTP reply: {:?}",
                    line.chars().take(20).collect::<String>()
                ))
            })?;
        if *code.get_or_insert(c) != c {
            return Err(Error::invalid("SMTP reply lines with different codes"));
        }
        lines.push(line.get(4..).unwrap_or("").to_string());
    }
    Ok(Reply {
        code: code.ok_or_else(|| Error::invalid("empty SMTP reply"))?,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_framing_waits_for_the_last_line() {
        assert_eq!(reply_complete(b"250-a\r\n250-STARTTLS\r\n"), Ok(None));
        assert_eq!(reply_complete(b"250-a\r\n250 OK\r\nX"), Ok(Some(15)));
        assert_eq!(reply_complete(b"220 hi\r\n"), Ok(Some(8)));
        assert_eq!(reply_complete(&[b'x'; 9000]), Err(too_long(9000)));
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/tls/",
                $name
            ))
        };
    }

    #[test]
    fn recorded_aiosmtpd_replies() {
        let g = fixture!("smtp-aiosmtpd-greeting.txt");
        assert_eq!(reply_complete(g), Ok(Some(g.len())));
        let r = parse_reply(g).unwrap();
        assert_eq!(
            (r.code, r.lines[0].as_str()),
            (220, "localhost Python SMTP 1.4.3")
        );
        let e = fixture!("smtp-aiosmtpd-ehlo.txt");
        for cut in 0..e.len() {
            assert_eq!(reply_complete(&e[..cut]), Ok(None));
        }
        let r = parse_reply(e).unwrap();
        assert_eq!(r.code, 250);
        assert!(r.lines.iter().any(|l| l == "STARTTLS"));
        let r = parse_reply(fixture!("smtp-aiosmtpd-starttls.txt")).unwrap();
        assert_eq!(r.code, 220);
    }

    #[test]
    fn reply_parses_multiline_ehlo() {
        let r =
            parse_reply(b"250-mx.lab Hello\r\n250-SIZE 33554432\r\n250-STARTTLS\r\n250 HELP\r\n")
                .unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(
            r.lines,
            vec!["mx.lab Hello", "SIZE 33554432", "STARTTLS", "HELP"]
        );
        assert!(parse_reply(b"SSH-2.0-OpenSSH_9.2\r\n").is_err());
        assert!(parse_reply(b"250-a\r\n220 b\r\n").is_err());
    }
}
