//! SSL 2.0, only to tell whether a server still accepts it: a CLIENT-HELLO offering the
//! seven SSLv2 cipher kinds, and the SERVER-HELLO that answers it (which lists every cipher
//! kind the server shares with the client and carries its certificate).
//!
//! SSLv2 cipher kinds are 3-byte codes outside the TLS cipher-suite registry: the audit
//! reports that SSL 2.0 is accepted, not which kinds.

use crate::{Error, Frame, Reader, frame};

/// The SSLv2 cipher kinds offered (draft-hickman-netscape-ssl-00, appendix C).
pub const CIPHER_KINDS: [u32; 7] = [
    0x01_00_80, 0x02_00_80, 0x03_00_80, 0x04_00_80, 0x05_00_80, 0x06_00_40, 0x07_00_C0,
];

/// The CLIENT-HELLO record (2-byte header) with a 16-byte challenge.
pub fn encode_client_hello(challenge: [u8; 16]) -> Vec<u8> {
    let mut msg = vec![1, 0x00, 0x02]; // MSG-CLIENT-HELLO, version 2
    msg.extend_from_slice(&((CIPHER_KINDS.len() * 3) as u16).to_be_bytes());
    msg.extend_from_slice(&0u16.to_be_bytes()); // session id length
    msg.extend_from_slice(&16u16.to_be_bytes()); // challenge length
    for k in CIPHER_KINDS {
        msg.extend_from_slice(&k.to_be_bytes()[1..]);
    }
    msg.extend_from_slice(&challenge);
    let len = msg.len() as u16; // 46 bytes
    let mut rec = vec![0x80 | (len >> 8) as u8, len as u8];
    rec.extend_from_slice(&msg);
    rec
}

/// Reads the 2-byte record header: the record's total length. Servers never pad a
/// SERVER-HELLO, so the 3-byte header form is not SSLv2 here; nor is anything else (a TLS
/// alert, garbage) without the high bit set.
fn record_len(buf: &[u8], r: &mut Reader<'_>) -> Result<usize, Error> {
    let h = r.u16()?;
    if h & 0x8000 == 0 {
        return Err(Error::invalid(format_args!(
            "not SSLv2: first byte 0x{:02x}",
            buf[0]
        )));
    }
    Ok(2 + usize::from(h & 0x7fff))
}

/// Framing: a whole SSLv2 record at the start of `buf`.
pub fn record_complete(buf: &[u8]) -> Frame {
    frame(buf, "SSLv2 record", |r| record_len(buf, r))
}

/// What an SSLv2 SERVER-HELLO said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The server version (2 for SSL 2.0).
    pub version: u16,
    /// Cipher kinds the server shares with the client.
    pub cipher_kinds: Vec<u32>,
    /// The server certificate (DER), if of type X.509.
    pub certificate: Option<Vec<u8>>,
}

/// Parses the SSLv2 record at the start of `buf` as a SERVER-HELLO.
pub fn parse_server_hello(buf: &[u8]) -> Result<ServerHello, Error> {
    let mut r = Reader::new(buf, "SSLv2 record");
    let len = record_len(buf, &mut r)?;
    let mut m = r.sub(len - 2, "SSLv2 SERVER-HELLO")?;
    match m.u8()? {
        4 => {}
        0 => return Err(Error::invalid("SSLv2 ERROR message")),
        t => return Err(Error::unexpected("SSLv2 message type", t)),
    }
    let _session_id_hit = m.u8()?;
    let cert_type = m.u8()?;
    let version = m.u16()?;
    let cert_len = usize::from(m.u16()?);
    let specs_len = usize::from(m.u16()?);
    let conn_id_len = usize::from(m.u16()?);
    if specs_len % 3 != 0 {
        return Err(Error::bad_length("SSLv2 cipher specs", specs_len as u64));
    }
    let cert = m.take(cert_len)?;
    let specs = m.take(specs_len)?;
    m.skip(conn_id_len)?;
    let certificate = (cert_type == 1 && cert_len > 0).then(|| cert.to_vec());
    let cipher_kinds = specs
        .chunks(3)
        .map(|c| u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]))
        .collect();
    Ok(ServerHello {
        version,
        cipher_kinds,
        certificate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SERVER-HELLO as an SSLv2 server sends it (hand-made: no SSLv2 server is packaged).
    fn server_hello(kinds: &[u32], cert: &[u8]) -> Vec<u8> {
        let mut msg = vec![4, 0, 1, 0, 2];
        msg.extend((cert.len() as u16).to_be_bytes());
        msg.extend(((kinds.len() * 3) as u16).to_be_bytes());
        msg.extend(16u16.to_be_bytes());
        msg.extend(cert);
        for k in kinds {
            msg.extend(&k.to_be_bytes()[1..]);
        }
        msg.extend([0xAB; 16]);
        let mut rec = vec![0x80 | (msg.len() >> 8) as u8, msg.len() as u8];
        rec.extend(msg);
        rec
    }

    #[test]
    fn client_hello_layout() {
        let rec = encode_client_hello([0x11; 16]);
        assert_eq!(rec.len(), 2 + 9 + 21 + 16);
        assert_eq!(&rec[..5], &[0x80, 46, 1, 0, 2]);
        assert_eq!(&rec[11..14], &[0x01, 0x00, 0x80]);
    }

    #[test]
    fn server_hello_round_trip() {
        let cert = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/tls/cert-weak.der"
        ));
        let rec = server_hello(&[0x01_00_80, 0x07_00_C0], cert);
        assert_eq!(record_complete(&rec), Ok(Some(rec.len())));
        for cut in 0..rec.len() {
            assert_eq!(record_complete(&rec[..cut]), Ok(None));
        }
        let sh = parse_server_hello(&rec).unwrap();
        assert_eq!(sh.version, 2);
        assert_eq!(sh.cipher_kinds, vec![0x01_00_80, 0x07_00_C0]);
        assert_eq!(sh.certificate.as_deref(), Some(&cert[..]));
    }

    #[test]
    fn tls_alert_and_garbage_are_not_sslv2() {
        let alert = [21, 3, 3, 0, 2, 2, 40];
        assert!(record_complete(&alert).is_err());
        assert!(matches!(parse_server_hello(&alert), Err(Error::Invalid(_))));
        assert!(parse_server_hello(b"HTTP/1.1 400").is_err());
        assert!(parse_server_hello(&[0x80, 1, 0]).is_err());
        // Lengths that overrun the record.
        let mut rec = server_hello(&[0x01_00_80], &[]);
        rec[7] = 0xFF;
        assert!(parse_server_hello(&rec).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1024)) {
            let _ = record_complete(&bytes);
            let _ = parse_server_hello(&bytes);
        }
    }
}
