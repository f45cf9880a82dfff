//! MySQL / MariaDB server greeting (Protocol::HandshakeV10) and the ERR packet a server
//! sends instead when it refuses the client's address before any handshake.
//!
//! Framing: 3-byte little-endian payload length, 1-byte sequence id, payload. The greeting
//! is server-first: clinicscan reads it and closes, sending nothing.

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

/// Why a first packet does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MysqlError {
    /// Not enough bytes.
    #[error("truncated packet")]
    Truncated,
    /// Payload length out of bounds.
    #[error("payload length {0} out of bounds")]
    BadLength(usize),
    /// Neither protocol 10 (or 9) nor an ERR packet.
    #[error("unexpected first byte 0x{0:02x}")]
    UnexpectedByte(u8),
    /// The version string has no terminating NUL.
    #[error("unterminated version string")]
    Unterminated,
}

/// Total length of the first packet in `buf` (header + payload), once it is all there.
/// A length out of bounds is reported as complete so the parser can reject it.
pub fn packet_len(buf: &[u8]) -> Option<usize> {
    let h = buf.get(..4)?;
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    if len == 0 || len > MAX_PAYLOAD {
        return Some(buf.len());
    }
    (buf.len() >= 4 + len).then_some(4 + len)
}

/// Parses the first packet a server sends.
pub fn parse_first_packet(buf: &[u8]) -> Result<ServerHello, MysqlError> {
    let h = buf.get(..4).ok_or(MysqlError::Truncated)?;
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    if len == 0 || len > MAX_PAYLOAD {
        return Err(MysqlError::BadLength(len));
    }
    let p = buf.get(4..4 + len).ok_or(MysqlError::Truncated)?;
    match p[0] {
        0xff => {
            let code = u16::from_le_bytes(
                p.get(1..3)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(MysqlError::Truncated)?,
            );
            let mut msg = &p[3..];
            // With CLIENT_PROTOCOL_41 an ERR carries '#' and a 5-byte SQL state.
            if msg.first() == Some(&b'#') && msg.len() >= 6 {
                msg = &msg[6..];
            }
            Ok(ServerHello::Error {
                code,
                message: String::from_utf8_lossy(msg).into_owned(),
            })
        }
        v @ (9 | 10) => parse_greeting(v, &p[1..]).map(ServerHello::Greeting),
        other => Err(MysqlError::UnexpectedByte(other)),
    }
}

fn parse_greeting(protocol: u8, p: &[u8]) -> Result<Greeting, MysqlError> {
    let nul = p
        .iter()
        .position(|&b| b == 0)
        .ok_or(MysqlError::Unterminated)?;
    let version = String::from_utf8_lossy(&p[..nul]).into_owned();
    let rest = &p[nul + 1..];
    let connection_id = rest
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(MysqlError::Truncated)?;
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
    let lower = rest
        .get(13..15)
        .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
        .ok_or(MysqlError::Truncated)?;
    let mut capabilities = lower;
    let mut auth_plugin = None;
    // charset (1), status (2), capability flags upper (2), auth data length (1), reserved (10)
    if let Some(ext) = rest.get(15..31) {
        capabilities |= u32::from(u16::from_le_bytes([ext[3], ext[4]])) << 16;
        let auth_len = usize::from(ext[5]);
        let mut tail = &rest[31..];
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
        assert_eq!(packet_len(&b), Some(b.len()));
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
        assert_eq!(parse_first_packet(b"\x01\0"), Err(MysqlError::Truncated));
        assert_eq!(
            parse_first_packet(b"\xff\xff\xff\0\x0a"),
            Err(MysqlError::BadLength(0xff_ffff))
        );
        assert_eq!(packet_len(b"\xff\xff\xff\0"), Some(4));
        assert_eq!(
            parse_first_packet(b"\x01\0\0\0\x0b"),
            Err(MysqlError::UnexpectedByte(11))
        );
        assert_eq!(
            parse_first_packet(b"\x03\0\0\0\x0a5.5"),
            Err(MysqlError::Unterminated)
        );
        assert_eq!(
            parse_first_packet(b"\x04\0\0\0\x0a5.\0"),
            Err(MysqlError::Truncated)
        );
        let b = fixture("csv-mariadb-greeting.bin");
        for cut in 0..b.len() {
            let _ = parse_first_packet(&b[..cut]);
            assert_eq!(packet_len(&b[..cut]), None, "cut {cut}");
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
