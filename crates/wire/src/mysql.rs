//! MySQL / MariaDB server greeting (Protocol::HandshakeV10) and the ERR packet a server
//! sends instead when it refuses the client's address before any handshake.
//!
//! Framing: 3-byte little-endian payload length, 1-byte sequence id, payload. The greeting
//! is server-first: clinicscan reads it and closes, sending nothing.

use crate::{Error, Frame, Reader, frame};

/// CLIENT_SSL capability bit.
pub const CLIENT_SSL: u32 = 0x0000_0800;
/// CLIENT_SECURE_CONNECTION capability bit.
pub const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
/// CLIENT_PLUGIN_AUTH capability bit.
pub const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;

/// Largest greeting payload clinicscan accepts (real ones are about 100 bytes).
pub const MAX_PAYLOAD: usize = 4096;

/// ER_HOST_IS_BLOCKED: too many connection errors from this host.
pub const ER_HOST_IS_BLOCKED: u16 = 1129;
/// ER_HOST_NOT_PRIVILEGED: "Host '...' is not allowed to connect to this ... server".
pub const ER_HOST_NOT_PRIVILEGED: u16 = 1130;

/// A HandshakeV10 greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// Protocol version (10).
    pub protocol: u8,
    /// Server version string as sent, e.g. "5.5.5-10.11.6-MariaDB-0+deb12u1".
    pub version: String,
    /// Connection id.
    pub connection_id: u32,
    /// Capability flags (lower and, when present, upper 16 bits).
    pub capabilities: u32,
    /// Default authentication plugin, when the server names one.
    pub auth_plugin: Option<String>,
}

/// What the server sent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHello {
    /// A greeting.
    Greeting(Greeting),
    /// An ERR packet: code and message.
    Error {
        /// Error code.
        code: u16,
        /// Message text.
        message: String,
    },
}

/// Reads a packet header: the payload length, within 1..=[`MAX_PAYLOAD`], and the
/// sequence id.
fn header(r: &mut Reader<'_>) -> Result<usize, Error> {
    let len = r.u24_le()?;
    if len == 0 || len > MAX_PAYLOAD {
        return Err(Error::bad_length("MySQL packet payload", len as u64));
    }
    r.skip(1)?;
    Ok(len)
}

/// Framing: the whole first packet (header and payload) at the start of `buf`.
pub fn packet_len(buf: &[u8]) -> Frame {
    frame(buf, "MySQL packet", |r| Ok(4 + header(r)?))
}

/// Parses the first packet a server sends.
pub fn parse_first_packet(buf: &[u8]) -> Result<ServerHello, Error> {
    let mut r = Reader::new(buf, "MySQL packet");
    let len = header(&mut r)?;
    let mut p = r.sub(len, "MySQL packet")?;
    match p.u8()? {
        0xff => {
            let code = p.u16_le()?;
            let mut msg = p.rest();
            // With CLIENT_PROTOCOL_41 an ERR carries '#' and a 5-byte SQL state.
            if msg.first() == Some(&b'#') && msg.len() >= 6 {
                msg = &msg[6..];
            }
            Ok(ServerHello::Error {
                code,
                message: String::from_utf8_lossy(msg).into_owned(),
            })
        }
        v @ (9 | 10) => parse_greeting(v, p).map(ServerHello::Greeting),
        other => Err(Error::unexpected(
            "MySQL first byte",
            format_args!("0x{other:02x}"),
        )),
    }
}

fn parse_greeting(protocol: u8, mut r: Reader<'_>) -> Result<Greeting, Error> {
    let version = r
        .until(0)
        .ok_or_else(|| Error::invalid("unterminated MySQL version string"))?;
    let version = String::from_utf8_lossy(version).into_owned();
    let connection_id = r.u32_le()?;
    if protocol == 9 {
        return Ok(Greeting {
            protocol,
            version,
            connection_id,
            capabilities: 0,
            auth_plugin: None,
        });
    }
    // auth-plugin-data-part-1 (8), filler (1), capability flags lower (2)
    r.skip(9)?;
    let mut capabilities = u32::from(r.u16_le()?);
    let mut auth_plugin = None;
    // charset (1), status (2), capability flags upper (2), auth data length (1), reserved (10)
    if let Ok(ext) = r.take(16) {
        capabilities |= u32::from(u16::from_le_bytes([ext[3], ext[4]])) << 16;
        let auth_len = usize::from(ext[5]);
        let mut tail = r.rest();
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let part2 = auth_len.saturating_sub(8).max(13);
            tail = tail.get(part2..).unwrap_or(&[]);
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0 && !tail.is_empty() {
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            auth_plugin = Some(String::from_utf8_lossy(&tail[..end]).into_owned());
        }
    }
    Ok(Greeting {
        protocol,
        version,
        connection_id,
        capabilities,
        auth_plugin,
    })
}

/// Splits a version string into (product, version) as the server stated it. MariaDB 10+
/// prefixes "5.5.5-" for old replication clients; that prefix is not the version.
pub fn product_and_version(version: &str) -> (&'static str, String) {
    if version.contains("MariaDB") {
        let v = version.strip_prefix("5.5.5-").unwrap_or(version);
        let v = v.split("-MariaDB").next().unwrap_or(v);
        ("MariaDB", v.to_string())
    } else {
        ("MySQL", version.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/mysql/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn recorded_mariadb_greeting() {
        let b = fixture("csv-mariadb-greeting.bin");
        assert_eq!(packet_len(&b), Ok(Some(b.len())));
        let ServerHello::Greeting(g) = parse_first_packet(&b).unwrap() else {
            panic!("not a greeting")
        };
        assert_eq!(g.protocol, 10);
        assert_eq!(g.version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
        assert_eq!(g.capabilities & CLIENT_SSL, 0);
        assert_eq!(g.auth_plugin.as_deref(), Some("mysql_native_password"));
        assert_eq!(
            product_and_version(&g.version),
            ("MariaDB", "10.11.19".to_string())
        );
    }

    #[test]
    fn recorded_mariadb_greeting_with_ssl() {
        let b = fixture("csv-mariadb-greeting-ssl.bin");
        let ServerHello::Greeting(g) = parse_first_packet(&b).unwrap() else {
            panic!("not a greeting")
        };
        assert_ne!(g.capabilities & CLIENT_SSL, 0);
    }

    #[test]
    fn recorded_host_not_allowed() {
        let b = fixture("csv-mariadb-host-blocked.bin");
        let ServerHello::Error { code, message } = parse_first_packet(&b).unwrap() else {
            panic!("not an error")
        };
        assert_eq!(code, ER_HOST_NOT_PRIVILEGED);
        assert!(message.contains("is not allowed to connect"), "{message}");
    }

    #[test]
    fn malformed_packets_are_errors() {
        let err = |b: &[u8]| parse_first_packet(b).unwrap_err().to_string();
        assert_eq!(err(b"\x01\0"), "MySQL packet: length 2 bytes, need 3");
        assert_eq!(
            err(b"\xff\xff\xff\0\x0a"),
            "MySQL packet payload length 16777215 out of bounds"
        );
        assert!(packet_len(b"\xff\xff\xff\0").is_err());
        assert_eq!(err(b"\x01\0\0\0\x0b"), "unexpected MySQL first byte 0x0b");
        assert_eq!(
            err(b"\x03\0\0\0\x0a5.5"),
            "invalid message: unterminated MySQL version string"
        );
        assert_eq!(
            err(b"\x04\0\0\0\x0a5.\0"),
            "MySQL packet: length 4 bytes, need 8"
        );
        let b = fixture("csv-mariadb-greeting.bin");
        for cut in 0..b.len() {
            let _ = parse_first_packet(&b[..cut]);
            assert_eq!(packet_len(&b[..cut]), Ok(None), "cut {cut}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = packet_len(&b);
            let _ = parse_first_packet(&b);
        }
    }
}
