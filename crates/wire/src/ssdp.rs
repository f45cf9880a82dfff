//! SSDP (UPnP Device Architecture 1.1, section 1.3): a unicast M-SEARCH request and the
//! HTTP-over-UDP response headers SERVER, LOCATION, USN and ST.
//!
//! clinicscan sends M-SEARCH only to the target's own address (UDA 1.1 unicast search),
//! never to the multicast group.

use std::net::SocketAddr;

use crate::Error;

/// Largest response clinicscan reads (one datagram).
pub const MAX_RESPONSE: usize = 4096;
/// Longest header value kept.
const MAX_VALUE: usize = 512;

/// A unicast M-SEARCH for all devices and services at `target`.
pub fn msearch(target: SocketAddr) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {target}\r\nMAN: \"ssdp:discover\"\r\nST: ssdp:all\r\nUSER-AGENT: clinicscan/1 UPnP/1.1 clinicscan/1\r\n\r\n"
    )
    .into_bytes()
}

/// The headers of an M-SEARCH response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResponse {
    /// SERVER header.
    pub server: Option<String>,
    /// LOCATION header.
    pub location: Option<String>,
    /// USN header.
    pub usn: Option<String>,
    /// ST header.
    pub st: Option<String>,
}

fn not_response() -> Error {
    Error::invalid("not an SSDP search response")
}

/// Parses an M-SEARCH response.
pub fn parse_response(buf: &[u8]) -> Result<SearchResponse, Error> {
    if buf.len() > MAX_RESPONSE {
        return Err(Error::TooLarge {
            what: "SSDP response",
            len: buf.len(),
        });
    }
    let text = String::from_utf8_lossy(buf);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let status = lines.next().unwrap_or("");
    let mut parts = status.split_whitespace();
    let proto_ok = parts.next().is_some_and(|p| p.starts_with("HTTP/1."));
    if !proto_ok || parts.next() != Some("200") {
        return Err(not_response());
    }
    let mut out = SearchResponse::default();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value: String = value.trim().chars().take(MAX_VALUE).collect();
        let slot = match name.trim().to_ascii_uppercase().as_str() {
            "SERVER" => &mut out.server,
            "LOCATION" => &mut out.location,
            "USN" => &mut out.usn,
            "ST" => &mut out.st,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/ssdp/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn request_is_unicast_to_the_target() {
        let r = msearch("10.1.2.3:1900".parse().unwrap());
        let t = String::from_utf8(r).unwrap();
        assert!(t.starts_with("M-SEARCH * HTTP/1.1\r\nHOST: 10.1.2.3:1900\r\n"));
        assert!(t.ends_with("\r\n\r\n"));
        assert!(!t.contains("239.255.255.250"));
    }

    #[test]
    fn recorded_response() {
        let r = parse_response(&fixture("csv-minidlna-response.bin")).unwrap();
        assert!(
            r.server.as_deref().unwrap_or("").contains("MiniDLNA"),
            "{r:?}"
        );
        assert!(
            r.location.as_deref().unwrap_or("").starts_with("http://"),
            "{r:?}"
        );
        assert!(r.usn.as_deref().unwrap_or("").starts_with("uuid:"), "{r:?}");
        assert!(r.st.is_some());
    }

    #[test]
    fn header_names_are_case_insensitive_and_first_wins() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nserver: A/1 UPnP/1.0 B/2\r\nLocation:http://x/y\r\nSERVER: other\r\nst: upnp:rootdevice\r\n\r\nUSN: late",
        )
        .unwrap();
        assert_eq!(r.server.as_deref(), Some("A/1 UPnP/1.0 B/2"));
        assert_eq!(r.location.as_deref(), Some("http://x/y"));
        assert_eq!(r.st.as_deref(), Some("upnp:rootdevice"));
        assert_eq!(r.usn, None);
    }

    #[test]
    fn malformed_responses_are_errors() {
        assert_eq!(parse_response(b""), Err(not_response()));
        assert_eq!(
            parse_response(b"NOTIFY * HTTP/1.1\r\n"),
            Err(not_response())
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 404 Not Found\r\n"),
            Err(not_response())
        );
        assert_eq!(
            parse_response(&vec![b'a'; MAX_RESPONSE + 1]),
            Err(Error::TooLarge {
                what: "SSDP response",
                len: MAX_RESPONSE + 1
            })
        );
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_response(&b);
        }
    }
}
