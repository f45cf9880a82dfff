//! SSH transport, as far as a scanner needs it (RFC 4253): the identification line and the
//! server's first binary packet, `SSH_MSG_KEXINIT`. Nothing is ever decrypted or signed.
//!
//! Hand-written: the SSH crates (russh, ssh2) want to run a whole session; a scanner only
//! needs to read two plaintext messages and must not commit to a key exchange.

use crate::{Error, Frame, Reader, frame};

/// Longest identification line we accept (RFC 4253 §4.2: 255 bytes including CR LF).
pub const MAX_LINE: usize = 255;
/// Most lines a server may send before its identification line before we give up.
pub const MAX_PRE_LINES: usize = 32;
/// Largest binary packet we accept (RFC 4253 §6.1: 35000 bytes must be supported).
pub const MAX_PACKET: usize = 35_000;

/// The identification line clinicscan sends.
pub const CLIENT_IDENT: &[u8] = b"SSH-2.0-clinicscan\r\n";

/// SSH_MSG_KEXINIT.
const MSG_KEXINIT: u8 = 20;

fn line_too_long(len: usize) -> Error {
    Error::TooLarge {
        what: "SSH identification line",
        len,
    }
}

fn no_identification() -> Error {
    Error::TooMany {
        what: "lines before the SSH identification line",
        max: MAX_PRE_LINES,
    }
}

fn bad_identification() -> Error {
    Error::invalid("malformed SSH identification line")
}

/// The server's identification line, split per RFC 4253 §4.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    /// The whole line, without CR LF.
    pub line: String,
    /// "2.0", "1.99", "1.5".
    pub proto_version: String,
    /// E.g. "OpenSSH_9.2p1".
    pub software: String,
    /// Text after the first space, if any.
    pub comments: Option<String>,
    /// Lines the server sent before the identification line (RFC 4253 allows them).
    pub pre_lines: Vec<String>,
}

/// Framing for the identification: `Ok(Some(n))` once the `SSH-` line is complete in `buf`
/// (`n` bytes consumed, including any earlier lines), `Ok(None)` if more bytes are needed.
pub fn ident_complete(buf: &[u8]) -> Frame {
    let mut start = 0;
    for _ in 0..=MAX_PRE_LINES {
        let rest = &buf[start..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if i + 1 > MAX_LINE {
                    return Err(line_too_long(i + 1));
                }
                if rest.starts_with(b"SSH-") {
                    return Ok(Some(start + i + 1));
                }
                start += i + 1;
            }
            None => {
                if rest.len() >= MAX_LINE {
                    return Err(line_too_long(rest.len()));
                }
                return Ok(None);
            }
        }
    }
    Err(no_identification())
}

/// Parses the bytes framed by [`ident_complete`].
pub fn parse_identification(bytes: &[u8]) -> Result<Identification, Error> {
    let mut pre_lines = Vec::new();
    for raw in bytes.split_inclusive(|&b| b == b'\n') {
        let line = trim_eol(raw);
        if !line.starts_with(b"SSH-") {
            if pre_lines.len() >= MAX_PRE_LINES {
                return Err(no_identification());
            }
            pre_lines.push(printable(line));
            continue;
        }
        // SSH-protoversion-softwareversion SP comments
        let text = printable(line);
        let (main, comments) = match text.split_once(' ') {
            Some((m, c)) => (m.to_string(), Some(c.to_string()).filter(|c| !c.is_empty())),
            None => (text.clone(), None),
        };
        let rest = &main[4..];
        let (proto, software) = rest.split_once('-').ok_or_else(bad_identification)?;
        if proto.is_empty() || software.is_empty() {
            return Err(bad_identification());
        }
        return Ok(Identification {
            line: text,
            proto_version: proto.to_string(),
            software: software.to_string(),
            comments,
            pre_lines,
        });
    }
    Err(no_identification())
}

/// Product and version from a software field: "OpenSSH_9.2p1" → ("OpenSSH", Some("9.2p1")).
pub fn split_software(software: &str) -> (String, Option<String>) {
    match software.split_once('_') {
        Some((p, v)) if !p.is_empty() && !v.is_empty() => (p.to_string(), Some(v.to_string())),
        _ => (software.to_string(), None),
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Lossy text with control characters replaced, for facts that end up in reports.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// Framing for one unencrypted binary packet: a whole packet at the start of `buf`.
pub fn packet_complete(buf: &[u8]) -> Frame {
    frame(buf, "SSH packet", |r| {
        let len = r.u32()?;
        // packet_length covers padding_length, payload and padding (at least 4 bytes of it).
        if !(5..=MAX_PACKET as u32).contains(&len) {
            return Err(Error::bad_length("SSH packet", len));
        }
        Ok(len as usize + 4)
    })
}

/// The algorithm lists of a KEXINIT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KexInit {
    /// Key exchange algorithms.
    pub kex: Vec<String>,
    /// Server host key algorithms.
    pub host_key: Vec<String>,
    /// Ciphers client to server.
    pub ciphers_c2s: Vec<String>,
    /// Ciphers server to client.
    pub ciphers_s2c: Vec<String>,
    /// MACs client to server.
    pub macs_c2s: Vec<String>,
    /// MACs server to client.
    pub macs_s2c: Vec<String>,
    /// Compression client to server.
    pub compression_c2s: Vec<String>,
    /// Compression server to client.
    pub compression_s2c: Vec<String>,
}

/// Parses one framed packet (as returned by [`packet_complete`]) as KEXINIT.
pub fn parse_kexinit(packet: &[u8]) -> Result<KexInit, Error> {
    let mut body = Reader::new(Reader::new(packet, "SSH packet").vec_u32()?, "SSH packet");
    let pad = usize::from(body.u8()?);
    let payload_len = body
        .remaining()
        .checked_sub(pad)
        .ok_or_else(|| Error::bad_length("SSH padding", pad as u64))?;
    let mut r = body.sub(payload_len, "KEXINIT")?;
    let msg = r.u8()?;
    if msg != MSG_KEXINIT {
        return Err(Error::unexpected(
            "SSH message",
            format_args!("{msg} where KEXINIT ({MSG_KEXINIT}) belongs"),
        ));
    }
    r.skip(16)?; // cookie
    let mut lists: [Vec<String>; 8] = Default::default();
    for list in lists.iter_mut() {
        *list = name_list(&mut r)?;
    }
    let [
        kex,
        host_key,
        ciphers_c2s,
        ciphers_s2c,
        macs_c2s,
        macs_s2c,
        comp_c2s,
        comp_s2c,
    ] = lists;
    Ok(KexInit {
        kex,
        host_key,
        ciphers_c2s,
        ciphers_s2c,
        macs_c2s,
        macs_s2c,
        compression_c2s: comp_c2s,
        compression_s2c: comp_s2c,
    })
}

fn name_list(r: &mut Reader<'_>) -> Result<Vec<String>, Error> {
    let bytes = r.vec_u32()?;
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(bytes
        .split(|&b| b == b',')
        .map(printable)
        .filter(|s| !s.is_empty())
        .collect())
}

/// An offered algorithm that is weak, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weakness {
    /// "kex", "host-key", "cipher", "mac".
    pub kind: &'static str,
    /// The algorithm.
    pub name: String,
    /// Why, with the source.
    pub reason: &'static str,
}

/// Why a key exchange algorithm is weak (RFC 9142 §4 "MUST NOT"/"SHOULD NOT").
fn kex_weakness(name: &str) -> Option<&'static str> {
    Some(match name {
        "diffie-hellman-group1-sha1" => {
            "1024-bit Oakley group 2 with SHA-1; RFC 9142 §4: MUST NOT be used"
        }
        "diffie-hellman-group14-sha1" => {
            "SHA-1 exchange hash; RFC 9142 §4: SHOULD transition to diffie-hellman-group14-sha256"
        }
        "diffie-hellman-group-exchange-sha1" => {
            "SHA-1 exchange hash; RFC 9142 §4: SHOULD NOT be used"
        }
        "rsa1024-sha1" => "1024-bit RSA with SHA-1; RFC 9142 §4: MUST NOT be used",
        "gss-gex-sha1-toWM5Slw5Ew8Mqkay+al2g==" | "gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==" => {
            "SHA-1 GSS-API key exchange; RFC 9142 §4: SHOULD NOT be used"
        }
        n if n.starts_with("gss-group1-sha1-") => {
            "1024-bit group with SHA-1; RFC 9142 §4: MUST NOT be used"
        }
        n if n.starts_with("gss-gex-sha1-") || n.starts_with("gss-group14-sha1-") => {
            "SHA-1 GSS-API key exchange; RFC 9142 §4: SHOULD NOT be used"
        }
        _ => return None,
    })
}

fn host_key_weakness(name: &str) -> Option<&'static str> {
    Some(match name {
        "ssh-dss" | "ssh-dss-cert-v01@openssh.com" => {
            "DSA limited to 1024 bits with SHA-1 signatures; disabled since OpenSSH 7.0 (ssh-audit: fail)"
        }
        "ssh-rsa" | "ssh-rsa-cert-v01@openssh.com" => {
            "RSA with SHA-1 signatures; RFC 8332 replaces it with rsa-sha2-256/512, disabled since OpenSSH 8.8"
        }
        _ => return None,
    })
}

fn cipher_weakness(name: &str) -> Option<&'static str> {
    Some(match name {
        "none" => "no encryption",
        "arcfour" | "arcfour128" | "arcfour256" => "RC4; RFC 8758: MUST NOT be used",
        "des-cbc" | "des-cbc@ssh.com" => "single DES (56-bit key)",
        "3des-cbc" | "blowfish-cbc" | "cast128-cbc" | "idea-cbc" => {
            "64-bit block cipher in CBC mode (Sweet32; CBC plaintext recovery, CVE-2008-5161)"
        }
        n if n.ends_with("-cbc")
            || n.ends_with("-cbc@openssh.com")
            || n == "rijndael-cbc@lysator.liu.se" =>
        {
            "CBC mode: plaintext recovery attack on SSH (CVE-2008-5161); ssh-audit: warn"
        }
        _ => return None,
    })
}

fn mac_weakness(name: &str) -> Option<&'static str> {
    Some(match name {
        "none" => "no integrity protection",
        "hmac-md5" | "hmac-md5-96" | "hmac-md5-etm@openssh.com" | "hmac-md5-96-etm@openssh.com" => {
            "MD5 hash (ssh-audit: fail)"
        }
        "hmac-sha1-96" | "hmac-sha1-96-etm@openssh.com" => {
            "SHA-1 truncated to 96 bits (ssh-audit: fail)"
        }
        "umac-64@openssh.com" | "umac-64-etm@openssh.com" => "64-bit tag (ssh-audit: warn)",
        "hmac-ripemd160" | "hmac-ripemd160@openssh.com" | "hmac-ripemd160-etm@openssh.com" => {
            "RIPEMD-160, removed from OpenSSH 7.6 (ssh-audit: fail)"
        }
        _ => return None,
    })
}

/// Every weak algorithm a KEXINIT offers, in list order (each name once per kind).
pub fn weaknesses(k: &KexInit) -> Vec<Weakness> {
    let mut out: Vec<Weakness> = Vec::new();
    let mut push = |kind: &'static str, list: &[String], f: fn(&str) -> Option<&'static str>| {
        for name in list {
            if let Some(reason) = f(name)
                && !out.iter().any(|w| w.kind == kind && &w.name == name)
            {
                out.push(Weakness {
                    kind,
                    name: name.clone(),
                    reason,
                });
            }
        }
    };
    push("kex", &k.kex, kex_weakness);
    push("host-key", &k.host_key, host_key_weakness);
    push("cipher", &k.ciphers_c2s, cipher_weakness);
    push("cipher", &k.ciphers_s2c, cipher_weakness);
    push("mac", &k.macs_c2s, mac_weakness);
    push("mac", &k.macs_s2c, mac_weakness);
    // Terrapin (CVE-2023-48795): without strict key exchange, ChaCha20-Poly1305 and
    // CBC with encrypt-then-MAC let a man in the middle drop the first packets.
    const TERRAPIN: &str = "Terrapin prefix truncation (CVE-2023-48795): no strict key exchange (kex-strict-s-v00@openssh.com) offered";
    if !k.kex.iter().any(|n| n == "kex-strict-s-v00@openssh.com") {
        let ciphers = k.ciphers_c2s.iter().chain(&k.ciphers_s2c);
        if let Some(c) = ciphers
            .clone()
            .find(|c| c.as_str() == "chacha20-poly1305@openssh.com")
        {
            out.push(Weakness {
                kind: "cipher",
                name: c.clone(),
                reason: TERRAPIN,
            });
        }
        if ciphers.clone().any(|c| c.ends_with("-cbc")) {
            let macs = k.macs_c2s.iter().chain(&k.macs_s2c);
            let mut seen: Vec<&String> = Vec::new();
            for m in macs.filter(|m| m.ends_with("-etm@openssh.com")) {
                if !seen.contains(&m) {
                    seen.push(m);
                    out.push(Weakness {
                        kind: "mac",
                        name: m.clone(),
                        reason: TERRAPIN,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(payload: &[u8]) -> Vec<u8> {
        let pad = 4u8;
        let len = (payload.len() + 1 + pad as usize) as u32;
        let mut p = len.to_be_bytes().to_vec();
        p.push(pad);
        p.extend_from_slice(payload);
        p.extend_from_slice(&[0; 4]);
        p
    }

    fn kexinit(lists: [&str; 10]) -> Vec<u8> {
        let mut p = vec![MSG_KEXINIT];
        p.extend_from_slice(&[7; 16]);
        for l in lists {
            p.extend_from_slice(&(l.len() as u32).to_be_bytes());
            p.extend_from_slice(l.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&[0; 4]);
        packet(&p)
    }

    #[test]
    fn identification_with_pre_lines() {
        let b = b"hello\r\nsecond line\nSSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\nrest";
        let n = ident_complete(b).unwrap().unwrap();
        assert_eq!(&b[n..], b"rest");
        let id = parse_identification(&b[..n]).unwrap();
        assert_eq!(id.pre_lines, vec!["hello", "second line"]);
        assert_eq!(id.proto_version, "2.0");
        assert_eq!(id.software, "OpenSSH_9.2p1");
        assert_eq!(id.comments.as_deref(), Some("Debian-2+deb12u3"));
        assert_eq!(id.line, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
        assert_eq!(
            split_software(&id.software),
            ("OpenSSH".into(), Some("9.2p1".into()))
        );
    }

    #[test]
    fn identification_needs_more_and_bounds() {
        assert_eq!(ident_complete(b"SSH-2.0-x"), Ok(None));
        assert_eq!(ident_complete(&[b'a'; 300]), Err(line_too_long(300)));
        let many = b"x\n".repeat(MAX_PRE_LINES + 1);
        assert_eq!(ident_complete(&many), Err(no_identification()));
        assert_eq!(
            parse_identification(b"SSH-2.0\r\n"),
            Err(bad_identification())
        );
        assert_eq!(
            parse_identification(b"SSH-1.99-Cisco-1.25\n")
                .unwrap()
                .software,
            "Cisco-1.25"
        );
        assert_eq!(split_software("Cisco-1.25"), ("Cisco-1.25".into(), None));
    }

    #[test]
    fn kexinit_round_trip_and_weak() {
        let p = kexinit([
            "curve25519-sha256,diffie-hellman-group1-sha1",
            "ssh-ed25519,ssh-rsa",
            "aes128-ctr,3des-cbc",
            "aes128-ctr,3des-cbc",
            "hmac-sha2-256,hmac-md5",
            "hmac-sha2-256,hmac-md5",
            "none,zlib@openssh.com",
            "none",
            "",
            "",
        ]);
        assert_eq!(packet_complete(&p), Ok(Some(p.len())));
        assert_eq!(packet_complete(&p[..p.len() - 1]), Ok(None));
        let k = parse_kexinit(&p).unwrap();
        assert_eq!(
            k.kex,
            vec!["curve25519-sha256", "diffie-hellman-group1-sha1"]
        );
        assert_eq!(k.compression_c2s, vec!["none", "zlib@openssh.com"]);
        let w: Vec<_> = weaknesses(&k)
            .into_iter()
            .map(|w| (w.kind, w.name))
            .collect();
        assert_eq!(
            w,
            vec![
                ("kex", "diffie-hellman-group1-sha1".to_string()),
                ("host-key", "ssh-rsa".to_string()),
                ("cipher", "3des-cbc".to_string()),
                ("mac", "hmac-md5".to_string()),
            ]
        );
    }

    #[test]
    fn terrapin_without_strict_kex() {
        let lists = |kex: &'static str| {
            [
                kex,
                "ssh-ed25519",
                "chacha20-poly1305@openssh.com,aes128-cbc",
                "chacha20-poly1305@openssh.com,aes128-cbc",
                "hmac-sha2-256-etm@openssh.com",
                "hmac-sha2-256-etm@openssh.com",
                "none",
                "none",
                "",
                "",
            ]
        };
        let k = parse_kexinit(&kexinit(lists("curve25519-sha256"))).unwrap();
        let w: Vec<(&str, String)> = weaknesses(&k)
            .into_iter()
            .filter(|w| w.reason.starts_with("Terrapin"))
            .map(|w| (w.kind, w.name))
            .collect();
        assert_eq!(
            w,
            vec![
                ("cipher", "chacha20-poly1305@openssh.com".to_string()),
                ("mac", "hmac-sha2-256-etm@openssh.com".to_string()),
            ]
        );
        let strict = parse_kexinit(&kexinit(lists(
            "curve25519-sha256,kex-strict-s-v00@openssh.com",
        )))
        .unwrap();
        assert!(
            weaknesses(&strict)
                .iter()
                .all(|w| !w.reason.starts_with("Terrapin"))
        );
    }

    #[test]
    fn kexinit_malformed() {
        assert_eq!(
            packet_complete(&[0, 0, 0, 1]),
            Err(Error::bad_length("SSH packet", 1u32))
        );
        assert_eq!(
            packet_complete(&[0xff, 0xff, 0xff, 0xff]),
            Err(Error::bad_length("SSH packet", u32::MAX))
        );
        assert_eq!(
            parse_kexinit(&packet(&[21, 0])).unwrap_err().to_string(),
            "unexpected SSH message 21 where KEXINIT (20) belongs"
        );
        // a name-list length pointing past the end
        let mut p = vec![MSG_KEXINIT];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&1000u32.to_be_bytes());
        assert!(matches!(
            parse_kexinit(&packet(&p)),
            Err(Error::Truncated { .. })
        ));
        // padding longer than the packet
        assert!(parse_kexinit(&[0, 0, 0, 5, 200, 20, 0, 0, 0]).is_err());
    }
}

/// Recorded identification lines and KEXINITs (fixtures/ssh/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;

    macro_rules! fx {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/ssh/",
                $name
            ))
        };
    }

    fn parse(b: &[u8]) -> Result<(Identification, KexInit), Error> {
        let n = ident_complete(b)?.ok_or_else(no_identification)?;
        let id = parse_identification(&b[..n])?;
        let k = packet_complete(&b[n..])?.unwrap_or(b.len() - n);
        Ok((id, parse_kexinit(&b[n..n + k])?))
    }

    #[test]
    fn openssh_default() {
        let (id, k) = parse(fx!("openssh-default.bin")).unwrap();
        assert_eq!(id.line, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10");
        assert_eq!(
            k.host_key,
            vec!["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"]
        );
        assert_eq!(k.kex.len(), 12);
        assert_eq!(k.kex[0], "sntrup761x25519-sha512");
        assert_eq!(k.ciphers_c2s, k.ciphers_s2c);
        assert_eq!(k.compression_c2s, vec!["none", "zlib@openssh.com"]);
        let weak: Vec<String> = weaknesses(&k).into_iter().map(|w| w.name).collect();
        assert_eq!(weak, vec!["umac-64-etm@openssh.com", "umac-64@openssh.com"]);
    }

    #[test]
    fn openssh_legacy() {
        let (_, k) = parse(fx!("openssh-legacy.bin")).unwrap();
        let weak: Vec<(&str, String)> = weaknesses(&k)
            .into_iter()
            .map(|w| (w.kind, w.name))
            .collect();
        let s = |k: &'static str, n: &str| (k, n.to_string());
        assert_eq!(
            weak,
            vec![
                s("kex", "diffie-hellman-group1-sha1"),
                s("kex", "diffie-hellman-group14-sha1"),
                s("kex", "diffie-hellman-group-exchange-sha1"),
                s("host-key", "ssh-rsa"),
                s("cipher", "aes128-cbc"),
                s("cipher", "3des-cbc"),
                s("mac", "umac-64-etm@openssh.com"),
                s("mac", "umac-64@openssh.com"),
                s("mac", "hmac-sha1-96"),
                s("mac", "hmac-md5"),
            ]
        );
    }

    #[test]
    fn pre_lines_and_malformed() {
        let (id, _) = parse(fx!("pre-identification-lines.bin")).unwrap();
        assert_eq!(
            id.pre_lines,
            vec!["Welcome to the clinic", "authorised use only"]
        );
        assert!(matches!(
            parse(fx!("malformed-truncated-kexinit.bin")).unwrap_err(),
            Error::Truncated { .. }
        ));
        assert_eq!(
            parse(fx!("malformed-oversized-packet.bin")).unwrap_err(),
            Error::bad_length("SSH packet", 0x7fff_ffffu32)
        );
        assert_eq!(
            ident_complete(fx!("malformed-endless-banner.bin")),
            Err(line_too_long(600))
        );
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(Some(n)) = super::ident_complete(&b) {
                let _ = super::parse_identification(&b[..n]);
            }
            let _ = super::parse_identification(&b);
            let _ = super::packet_complete(&b);
            if let Ok(k) = super::parse_kexinit(&b) {
                let _ = super::weaknesses(&k);
            }
        }

        #[test]
        fn kexinit_shaped(b in proptest::collection::vec(any::<u8>(), 17..400)) {
            let mut p = ((b.len() + 5) as u32).to_be_bytes().to_vec();
            p.push(4);
            p.push(20);
            p.extend_from_slice(&b);
            p.extend_from_slice(&[0; 4]);
            let _ = super::parse_kexinit(&p);
        }
    }
}
