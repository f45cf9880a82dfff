//! OpenVPN control channel packets (OpenVPN "Security Overview" / `ssl_pkt.h`): the
//! client's P_CONTROL_HARD_RESET_CLIENT_V2 and the server's reset reply.
//!
//! A packet is `opcode << 3 | key_id`, the 8-byte session id, an ACK array (count, packet
//! ids, remote session id when count > 0), the message packet id and the TLS payload. Over
//! TCP every packet is prefixed with a big-endian u16 length.
//!
//! With `tls-auth` or `tls-crypt` the server drops any packet without a valid HMAC, so a
//! silent server may still be OpenVPN: the probe records `null`, never "absent".
//! P_CONTROL_HARD_RESET_CLIENT_V3 (opcode 10) is the tls-crypt-v2 variant; it needs a
//! client key the scanner cannot have, so it is never sent.

use crate::{Error, Frame, Reader, frame};

/// P_CONTROL_HARD_RESET_CLIENT_V1.
pub const P_CONTROL_HARD_RESET_CLIENT_V1: u8 = 1;
/// P_CONTROL_HARD_RESET_SERVER_V1.
pub const P_CONTROL_HARD_RESET_SERVER_V1: u8 = 2;
/// P_CONTROL_SOFT_RESET_V1.
pub const P_CONTROL_SOFT_RESET_V1: u8 = 3;
/// P_CONTROL_V1.
pub const P_CONTROL_V1: u8 = 4;
/// P_ACK_V1.
pub const P_ACK_V1: u8 = 5;
/// P_DATA_V1.
pub const P_DATA_V1: u8 = 6;
/// P_CONTROL_HARD_RESET_CLIENT_V2.
pub const P_CONTROL_HARD_RESET_CLIENT_V2: u8 = 7;
/// P_CONTROL_HARD_RESET_SERVER_V2.
pub const P_CONTROL_HARD_RESET_SERVER_V2: u8 = 8;
/// P_DATA_V2.
pub const P_DATA_V2: u8 = 9;
/// P_CONTROL_HARD_RESET_CLIENT_V3 (tls-crypt-v2).
pub const P_CONTROL_HARD_RESET_CLIENT_V3: u8 = 10;
/// P_CONTROL_WKC_V1.
pub const P_CONTROL_WKC_V1: u8 = 11;

/// Largest ACK array OpenVPN sends (`RELIABLE_ACK_SIZE`).
const MAX_ACKS: usize = 8;
/// Largest packet clinicscan reads.
pub const MAX_PACKET: usize = 2048;

/// The name of an opcode.
pub fn opcode_name(op: u8) -> Option<&'static str> {
    Some(match op {
        1 => "P_CONTROL_HARD_RESET_CLIENT_V1",
        2 => "P_CONTROL_HARD_RESET_SERVER_V1",
        3 => "P_CONTROL_SOFT_RESET_V1",
        4 => "P_CONTROL_V1",
        5 => "P_ACK_V1",
        6 => "P_DATA_V1",
        7 => "P_CONTROL_HARD_RESET_CLIENT_V2",
        8 => "P_CONTROL_HARD_RESET_SERVER_V2",
        9 => "P_DATA_V2",
        10 => "P_CONTROL_HARD_RESET_CLIENT_V3",
        11 => "P_CONTROL_WKC_V1",
        _ => return None,
    })
}

/// A parsed control packet (without tls-auth HMAC fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPacket {
    /// Opcode.
    pub opcode: u8,
    /// Key id.
    pub key_id: u8,
    /// Sender's session id.
    pub session_id: [u8; 8],
    /// Packet ids acknowledged.
    pub acks: Vec<u32>,
    /// The session id the ACKs are for (ours), when acks are present.
    pub remote_session_id: Option<[u8; 8]>,
    /// Message packet id (absent in a pure P_ACK_V1).
    pub packet_id: Option<u32>,
}

/// P_CONTROL_HARD_RESET_CLIENT_V2 with `session_id`, no ACKs, packet id 0, no payload.
/// `tcp` adds the 2-byte length prefix.
pub fn client_reset_v2(session_id: [u8; 8], tcp: bool) -> Vec<u8> {
    let mut p = vec![P_CONTROL_HARD_RESET_CLIENT_V2 << 3];
    p.extend_from_slice(&session_id);
    p.push(0); // ACK count
    p.extend_from_slice(&0u32.to_be_bytes()); // message packet id
    if tcp {
        let mut framed = (p.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&p);
        framed
    } else {
        p
    }
}

/// The TCP length prefix: the packet's length, within 1..=[`MAX_PACKET`].
fn tcp_len(r: &mut Reader<'_>) -> Result<usize, Error> {
    let len = usize::from(r.u16()?);
    if len == 0 || len > MAX_PACKET {
        return Err(Error::bad_length("OpenVPN packet", len as u64));
    }
    Ok(len)
}

/// TCP framing: a whole packet (length prefix and packet) at the start of `buf`.
pub fn tcp_frame_len(buf: &[u8]) -> Frame {
    frame(buf, "OpenVPN TCP packet", |r| Ok(2 + tcp_len(r)?))
}

/// Strips the TCP length prefix from a whole frame.
pub fn tcp_unframe(buf: &[u8]) -> Result<&[u8], Error> {
    let mut r = Reader::new(buf, "OpenVPN TCP packet");
    let len = tcp_len(&mut r)?;
    r.take(len)
}

/// Parses a control packet sent without tls-auth (the only kind a server answers to a
/// client without the key).
pub fn parse_control(buf: &[u8]) -> Result<ControlPacket, Error> {
    let mut r = Reader::new(buf, "OpenVPN control packet");
    let first = r.u8()?;
    let opcode = first >> 3;
    let key_id = first & 0x07;
    let name = opcode_name(opcode).ok_or_else(|| Error::unexpected("OpenVPN opcode", opcode))?;
    if matches!(opcode, P_DATA_V1 | P_DATA_V2) {
        return Err(Error::unexpected("data-channel packet", name));
    }
    let session_id = r.array()?;
    let count = usize::from(r.u8()?);
    if count > MAX_ACKS {
        return Err(Error::bad_length("ACK array", count as u64));
    }
    let mut acks = Vec::with_capacity(count);
    for _ in 0..count {
        acks.push(r.u32()?);
    }
    let remote_session_id = if count > 0 { Some(r.array()?) } else { None };
    let packet_id = if opcode == P_ACK_V1 {
        None
    } else {
        Some(r.u32()?)
    };
    Ok(ControlPacket {
        opcode,
        key_id,
        session_id,
        acks,
        remote_session_id,
        packet_id,
    })
}

/// True when `p` is a server reset answering the client session `ours`.
pub fn is_server_reset_for(p: &ControlPacket, ours: [u8; 8]) -> bool {
    matches!(
        p.opcode,
        P_CONTROL_HARD_RESET_SERVER_V1 | P_CONTROL_HARD_RESET_SERVER_V2
    ) && p.remote_session_id.is_none_or(|r| r == ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../fixtures/openvpn/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const OURS: [u8; 8] = *b"CLINICSC";

    #[test]
    fn client_reset_layout() {
        let p = client_reset_v2(OURS, false);
        assert_eq!(p, b"\x38CLINICSC\x00\x00\x00\x00\x00");
        let parsed = parse_control(&p).unwrap();
        assert_eq!(parsed.opcode, P_CONTROL_HARD_RESET_CLIENT_V2);
        assert_eq!(parsed.packet_id, Some(0));
        let t = client_reset_v2(OURS, true);
        assert_eq!(&t[..2], &[0, 14]);
        assert_eq!(tcp_frame_len(&t), Ok(Some(16)));
        assert_eq!(tcp_unframe(&t).unwrap(), &p[..]);
    }

    #[test]
    fn recorded_udp_server_reset() {
        let ours = parse_control(&fixture("csv-udp-client-reset.bin")).unwrap();
        let p = parse_control(&fixture("csv-udp-server-reset.bin")).unwrap();
        assert_eq!(p.opcode, P_CONTROL_HARD_RESET_SERVER_V2);
        assert_eq!(
            opcode_name(p.opcode),
            Some("P_CONTROL_HARD_RESET_SERVER_V2")
        );
        assert_eq!(p.acks, vec![0]);
        assert_eq!(p.remote_session_id, Some(ours.session_id));
        assert!(is_server_reset_for(&p, ours.session_id));
        assert!(!is_server_reset_for(&p, OURS));
    }

    #[test]
    fn recorded_tcp_server_reset() {
        let req = fixture("csv-tcp-client-reset.bin");
        let ours = parse_control(tcp_unframe(&req).unwrap()).unwrap();
        let b = fixture("csv-tcp-server-reset.bin");
        let n = tcp_frame_len(&b).unwrap().unwrap();
        assert_eq!(n, b.len());
        let p = parse_control(tcp_unframe(&b[..n]).unwrap()).unwrap();
        assert_eq!(p.opcode, P_CONTROL_HARD_RESET_SERVER_V2);
        assert!(is_server_reset_for(&p, ours.session_id));
    }

    #[test]
    fn malformed_packets_are_errors() {
        let err = |b: &[u8]| parse_control(b).unwrap_err().to_string();
        assert_eq!(err(b""), "OpenVPN control packet: length 0 bytes, need 1");
        assert_eq!(err(&[0xf8]), "unexpected OpenVPN opcode 31");
        assert_eq!(err(&[0x48, 0]), "unexpected data-channel packet P_DATA_V2");
        let mut many = vec![0x40];
        many.extend_from_slice(&OURS);
        many.push(200);
        assert_eq!(err(&many), "ACK array length 200 out of bounds");
        assert_eq!(
            tcp_unframe(&[0xff, 0xff]),
            Err(Error::bad_length("OpenVPN packet", 65535u64))
        );
        assert!(tcp_frame_len(&[0xff, 0xff, 1]).is_err());
        assert_eq!(tcp_frame_len(&[0x00]), Ok(None));
        let good = fixture("csv-udp-server-reset.bin");
        for cut in 0..good.len() {
            let _ = parse_control(&good[..cut]);
        }
        assert!(matches!(
            parse_control(&good[..20]),
            Err(Error::Truncated { len: 20, .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_control(&b);
            let _ = tcp_frame_len(&b);
            let _ = tcp_unframe(&b);
        }
    }
}
