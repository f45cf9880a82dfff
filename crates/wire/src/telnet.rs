//! Telnet (RFC 854) option negotiation as a refusing client: every DO is answered WONT and
//! every WILL is answered DONT (RFC 1143's safe default), subnegotiations are skipped, and the
//! remaining bytes are the server's text (banner, login prompt).

/// IAC.
pub const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;

/// Longest subnegotiation we skip before treating the stream as not Telnet.
pub const MAX_SUBNEGOTIATION: usize = 1024;

/// What a chunk of server bytes held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Text bytes (commands removed; an escaped IAC IAC becomes one 255).
    pub text: Vec<u8>,
    /// Requests seen, e.g. "do terminal-type", "will echo".
    pub requests: Vec<String>,
    /// What to send back: WONT/DONT for each DO/WILL.
    pub reply: Vec<u8>,
    /// Bytes consumed; an incomplete command at the end stays for the next read.
    pub consumed: usize,
    /// A subnegotiation longer than [`MAX_SUBNEGOTIATION`] was seen.
    pub oversized_subnegotiation: bool,
}

/// The RFC name of an option code.
pub fn option_name(o: u8) -> String {
    match o {
        0 => "binary".into(),
        1 => "echo".into(),
        3 => "suppress-go-ahead".into(),
        5 => "status".into(),
        6 => "timing-mark".into(),
        24 => "terminal-type".into(),
        31 => "window-size".into(),
        32 => "terminal-speed".into(),
        33 => "remote-flow-control".into(),
        34 => "linemode".into(),
        35 => "x-display-location".into(),
        36 => "environment".into(),
        37 => "authentication".into(),
        38 => "encryption".into(),
        39 => "new-environ".into(),
        n => format!("option-{n}"),
    }
}

/// Scans `buf` (bytes after what earlier scans consumed).
pub fn scan(buf: &[u8]) -> Scan {
    let mut s = Scan::default();
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b != IAC {
            s.text.push(b);
            i += 1;
            continue;
        }
        let Some(&cmd) = buf.get(i + 1) else { break };
        match cmd {
            IAC => {
                s.text.push(IAC);
                i += 2;
            }
            DO | DONT | WILL | WONT => {
                let Some(&opt) = buf.get(i + 2) else { break };
                match cmd {
                    DO => {
                        s.requests.push(format!("do {}", option_name(opt)));
                        s.reply.extend_from_slice(&[IAC, WONT, opt]);
                    }
                    WILL => {
                        s.requests.push(format!("will {}", option_name(opt)));
                        s.reply.extend_from_slice(&[IAC, DONT, opt]);
                    }
                    // DONT / WONT: already in the state we are in; no answer (RFC 854)
                    _ => {}
                }
                i += 3;
            }
            SB => {
                // skip to IAC SE
                let body = &buf[i + 2..];
                match body.windows(2).position(|w| w == [IAC, SE]) {
                    Some(end) => i += 2 + end + 2,
                    None => {
                        if body.len() > MAX_SUBNEGOTIATION {
                            s.oversized_subnegotiation = true;
                            i = buf.len();
                        }
                        break;
                    }
                }
            }
            _ => i += 2, // NOP, GA, AYT...: no text
        }
    }
    s.consumed = i;
    s
}

/// Text for a fact: lossy UTF-8, control characters except newline dropped, CR LF
/// normalised, trimmed, at most `max_chars` characters.
pub fn banner_text(text: &[u8], max_chars: usize) -> String {
    let s: String = String::from_utf8_lossy(text)
        .replace("\r\n", "\n")
        .replace("\r\0", "\n")
        .chars()
        .filter(|&c| c == '\n' || !c.is_control())
        .take(max_chars)
        .collect();
    s.trim().to_string()
}

/// Whether the text so far ends in something a person would type after.
pub fn ends_with_prompt(text: &[u8]) -> bool {
    let t = banner_text(text, usize::MAX);
    t.ends_with(':') || t.ends_with('>') || t.ends_with('#') || t.ends_with('$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_everything() {
        let b = [
            IAC, DO, 24, IAC, WILL, 1, b'h', b'i', IAC, IAC, IAC, SB, 24, 1, IAC, SE, b'!', IAC,
            DONT, 3,
        ];
        let s = scan(&b);
        assert_eq!(s.text, b"hi\xff!");
        assert_eq!(s.requests, vec!["do terminal-type", "will echo"]);
        assert_eq!(s.reply, [IAC, WONT, 24, IAC, DONT, 1]);
        assert_eq!(s.consumed, b.len());
    }

    #[test]
    fn partial_commands_wait() {
        assert_eq!(scan(&[b'a', IAC]).consumed, 1);
        assert_eq!(scan(&[b'a', IAC, DO]).consumed, 1);
        assert_eq!(scan(&[IAC, SB, 24, 1]).consumed, 0);
        let long = [&[IAC, SB][..], &[0u8; MAX_SUBNEGOTIATION + 1]].concat();
        let s = scan(&long);
        assert!(s.oversized_subnegotiation);
        assert_eq!(s.consumed, long.len());
    }

    #[test]
    fn banner() {
        assert_eq!(
            banner_text(b"\r\nDebian GNU/Linux 12\r\nhost login: \x07", 100),
            "Debian GNU/Linux 12\nhost login:"
        );
        assert_eq!(banner_text(b"abcdef", 3), "abc");
    }
}

/// Recorded inetutils telnetd negotiation (fixtures/telnet/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;

    #[test]
    fn inetutils_telnetd() {
        let b = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/telnet/inetutils-telnetd.bin"
        ));
        let s = scan(b);
        assert_eq!(s.consumed, b.len());
        assert_eq!(banner_text(&s.text, 100), "vm login:");
        assert_eq!(s.requests.len(), 18);
        assert_eq!(
            &s.requests[..3],
            ["will authentication", "will encryption", "do terminal-type"]
        );
        assert_eq!(s.reply[..6], [IAC, DONT, 37, IAC, DONT, 38]);
        let long = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/telnet/malformed-endless-subnegotiation.bin"
        ));
        assert!(scan(long).oversized_subnegotiation);
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(prop_oneof![Just(255u8), any::<u8>()], 0..512)) {
            let s = super::scan(&b);
            prop_assert!(s.consumed <= b.len());
            let _ = super::banner_text(&s.text, 100);
        }
    }
}
