//! FTP control-connection replies (RFC 959 §4.2): a three-digit code, single-line
//! ("220 text") or multi-line ("220-first", ..., "220 last"), and the FEAT list (RFC 2389).
//! Hand-written: a reply parser is a few lines; FTP client crates log in and transfer files.

use crate::{Error, Frame};

/// Longest reply line we accept.
pub const MAX_LINE: usize = 1024;
/// Most lines in one reply (a FEAT list or a long banner).
pub const MAX_LINES: usize = 200;

fn not_reply() -> Error {
    Error::invalid("not an FTP reply line")
}

fn line_too_long(len: usize) -> Error {
    Error::TooLarge {
        what: "FTP reply line",
        len,
    }
}

fn too_many_lines() -> Error {
    Error::TooMany {
        what: "lines in one FTP reply",
        max: MAX_LINES,
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code.
    pub code: u16,
    /// The text of each line, code and separator removed, trimmed.
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines joined with "\n".
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

fn code_of(line: &[u8]) -> Option<(u16, u8)> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code =
        (line[0] - b'0') as u16 * 100 + (line[1] - b'0') as u16 * 10 + (line[2] - b'0') as u16;
    Some((code, line.get(3).copied().unwrap_or(b' ')))
}

/// Framing: `Ok(Some(n))` once a whole reply of `n` bytes is in `buf`.
pub fn reply_complete(buf: &[u8]) -> Frame {
    let mut start = 0;
    let mut first: Option<u16> = None;
    for count in 0.. {
        if count > MAX_LINES {
            return Err(too_many_lines());
        }
        let rest = &buf[start..];
        let Some(i) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > MAX_LINE {
                return Err(line_too_long(rest.len()));
            }
            return Ok(None);
        };
        if i > MAX_LINE {
            return Err(line_too_long(i));
        }
        let line = &rest[..i];
        start += i + 1;
        match (first, code_of(line)) {
            (None, Some((code, b'-'))) => first = Some(code),
            (None, Some(_)) => return Ok(Some(start)),
            (None, None) => return Err(not_reply()),
            // RFC 959: the last line starts with the same code followed by a space
            (Some(c), Some((code, sep))) if code == c && sep != b'-' => return Ok(Some(start)),
            (Some(_), _) => {}
        }
    }
    Ok(None)
}

/// Parses a reply framed by [`reply_complete`].
pub fn parse_reply(bytes: &[u8]) -> Result<Reply, Error> {
    let mut code = None;
    let mut lines = Vec::new();
    for raw in bytes.split(|&b| b == b'\n') {
        if raw.is_empty() && code.is_some() {
            continue;
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match (code, code_of(raw)) {
            (None, Some((c, _))) => {
                code = Some(c);
                &raw[3..]
            }
            (None, None) => return Err(not_reply()),
            (Some(c), Some((c2, _))) if c == c2 => &raw[3..],
            (Some(_), _) => raw,
        };
        let text = text
            .strip_prefix(b"-")
            .or_else(|| text.strip_prefix(b" "))
            .unwrap_or(text);
        lines.push(printable(text).trim().to_string());
        if lines.len() > MAX_LINES {
            return Err(too_many_lines());
        }
    }
    Ok(Reply {
        code: code.ok_or_else(not_reply)?,
        lines,
    })
}

fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether a 211 FEAT reply lists AUTH with TLS (RFC 4217 §6: "AUTH TLS", possibly
/// "AUTH TLS;TLS-C;SSL").
pub fn feat_offers_auth_tls(reply: &Reply) -> bool {
    reply.lines.iter().skip(1).any(|l| {
        let mut words = l.split_whitespace();
        words.next().is_some_and(|w| w.eq_ignore_ascii_case("AUTH"))
            && words.any(|w| {
                w.split(';')
                    .any(|m| m.eq_ignore_ascii_case("TLS") || m.eq_ignore_ascii_case("TLS-C"))
            })
    })
}

/// Whether a 331 reply to `USER anonymous` says the server takes anonymous logins
/// ("331 Anonymous login ok, send your complete email address as your password" (ProFTPD),
/// "331 Guest login ok, send your complete e-mail address as password" (wu-ftpd), "331
/// Anonymous access allowed, send identity (e-mail name) as password" (IIS)). A plain
/// "331 Please specify the password." (vsftpd, with or without anonymous access) or "331
/// Password required for anonymous" does not: a server without anonymous access takes the
/// PASS that follows for a failed login of a user "anonymous" (vsftpd logs `[anonymous]
/// FAIL LOGIN`, which fail2ban counts), so clinicscan sends no PASS there.
pub fn invites_anonymous_password(reply: &Reply) -> bool {
    if reply.code != 331 {
        return false;
    }
    let text = reply.text().to_ascii_lowercase();
    let names_guest = text.contains("anonymous") || text.contains("guest");
    let invites = ["login ok", "access allowed", "e-mail", "email", "identity"]
        .iter()
        .any(|w| text.contains(w));
    names_guest && invites
}

/// Product and version from well-known banners, e.g. "(vsFTPd 3.0.3)".
pub fn software_from_banner(banner: &str) -> Option<(String, Option<String>)> {
    for product in [
        "vsFTPd",
        "ProFTPD",
        "Pure-FTPd",
        "FileZilla Server",
        "Microsoft FTP Service",
    ] {
        if let Some(at) = banner.find(product) {
            let after = banner[at + product.len()..].trim_start();
            let version = after
                .split(|c: char| c.is_whitespace() || c == ')' || c == ']')
                .next()
                .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
                .map(str::to_string);
            return Some((product.to_string(), version));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_invitations() {
        let reply = |b: &[u8]| parse_reply(b).unwrap();
        for invite in [
            &b"331 Anonymous login ok, send your complete email address as your password\r\n"[..],
            b"331 Guest login ok, send your complete e-mail address as password.\r\n",
            b"331 Anonymous access allowed, send identity (e-mail name) as password.\r\n",
        ] {
            assert!(invites_anonymous_password(&reply(invite)));
        }
        for plain in [
            &b"331 Please specify the password.\r\n"[..],
            b"331 Password required for anonymous\r\n",
            b"331 User name okay, need password.\r\n",
            b"530 Anonymous login ok? no\r\n",
        ] {
            assert!(!invites_anonymous_password(&reply(plain)));
        }
    }

    #[test]
    fn single_and_multi_line() {
        let b = b"220 (vsFTPd 3.0.3)\r\nextra";
        let n = reply_complete(b).unwrap().unwrap();
        assert_eq!(n, 20);
        let r = parse_reply(&b[..n]).unwrap();
        assert_eq!(r.code, 220);
        assert_eq!(r.lines, vec!["(vsFTPd 3.0.3)"]);
        assert_eq!(
            software_from_banner(&r.text()),
            Some(("vsFTPd".into(), Some("3.0.3".into())))
        );

        let f = b"211-Features:\r\n AUTH TLS\r\n PASV\r\n211-not the end\r\n211 End\r\n";
        assert_eq!(reply_complete(&f[..20]), Ok(None));
        let n = reply_complete(f).unwrap().unwrap();
        assert_eq!(n, f.len());
        let r = parse_reply(f).unwrap();
        assert_eq!(
            r.lines,
            vec!["Features:", "AUTH TLS", "PASV", "not the end", "End"]
        );
        assert!(feat_offers_auth_tls(&r));
        let no = parse_reply(b"211-Features:\r\n PASV\r\n AUTH SSL\r\n211 End\r\n").unwrap();
        assert!(!feat_offers_auth_tls(&no));
    }

    #[test]
    fn malformed() {
        assert_eq!(reply_complete(b"SSH-2.0-x\r\n"), Err(not_reply()));
        assert_eq!(reply_complete(&[b'2'; 2000]), Err(line_too_long(2000)));
        let mut many = b"220-x\r\n".to_vec();
        many.extend(b" y\r\n".repeat(MAX_LINES + 2));
        assert_eq!(reply_complete(&many), Err(too_many_lines()));
        assert_eq!(parse_reply(b"hello\r\n"), Err(not_reply()));
    }
}

/// Recorded vsftpd sessions (fixtures/ftp/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;

    macro_rules! fx {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/ftp/",
                $name
            ))
        };
    }

    fn replies(mut b: &[u8]) -> Vec<Reply> {
        let mut out = Vec::new();
        while let Ok(Some(n)) = reply_complete(b) {
            out.push(parse_reply(&b[..n]).unwrap());
            b = &b[n..];
        }
        assert!(b.is_empty());
        out
    }

    #[test]
    fn anonymous_with_auth_tls() {
        let r = replies(fx!("vsftpd-anonymous.bin"));
        let codes: Vec<u16> = r.iter().map(|r| r.code).collect();
        assert_eq!(codes, vec![220, 211, 331, 230, 221]);
        assert_eq!(r[0].text(), "csr-lab FTP ready");
        assert!(feat_offers_auth_tls(&r[1]));
        assert_eq!(r[1].lines.len(), 12);
    }

    #[test]
    fn default_banner_without_tls() {
        let r = replies(fx!("vsftpd-no-anonymous.bin"));
        assert_eq!(r[0].text(), "(vsFTPd 3.0.3)");
        assert_eq!(
            software_from_banner(&r[0].text()),
            Some(("vsFTPd".into(), Some("3.0.3".into())))
        );
        assert!(!feat_offers_auth_tls(&r[1]));
    }

    #[test]
    fn malformed() {
        assert_eq!(
            reply_complete(fx!("malformed-no-code.bin")),
            Err(not_reply())
        );
        assert_eq!(
            reply_complete(fx!("malformed-endless-multiline.bin")),
            Err(too_many_lines())
        );
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(Some(n)) = super::reply_complete(&b)
                && let Ok(r) = super::parse_reply(&b[..n]) {
                    let _ = super::feat_offers_auth_tls(&r);
                    let _ = super::software_from_banner(&r.text());
                }
            let _ = super::parse_reply(&b);
        }

        #[test]
        fn reply_shaped(s in "([0-9]{3}[- ][ -~]{0,20}\r?\n){1,6}") {
            if let Ok(Some(n)) = super::reply_complete(s.as_bytes()) {
                prop_assert!(super::parse_reply(&s.as_bytes()[..n]).is_ok());
            }
        }
    }
}
