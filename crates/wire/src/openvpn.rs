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

/// Why a packet does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenVpnError {
    /// Not enough bytes.
    #[error("truncated packet")]
    Truncated,
    /// Unknown opcode.
    #[error("unknown opcode {0}")]
    UnknownOpcode(u8),
    /// A data-channel opcode where a control packet was expected.
    #[error("not a control packet: {0}")]
    NotControl(&'static str),
    /// ACK count above OpenVPN's limit.
    #[error("ack count {0} out of bounds")]
    BadAckCount(usize),
    /// TCP length prefix out of bounds.
    #[error("packet length {0} out of bounds")]
    BadLength(usize),
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

/// TCP framing: total length (prefix + packet) of the first packet in `buf`.
pub fn tcp_frame_len(buf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes(buf.get(..2)?.try_into().ok()?));
    if len == 0 || len > MAX_PACKET {
        return Some(buf.len());
    }
    (buf.len() >= 2 + len).then_some(2 + len)
}

/// Strips the TCP length prefix from a whole frame.
pub fn tcp_unframe(buf: &[u8]) -> Result<&[u8], OpenVpnError> {
    let len = usize::from(u16::from_be_bytes(
        buf.get(..2)
            .and_then(|b| b.try_into().ok())
            .ok_or(OpenVpnError::Truncated)?,
    ));
    if len == 0 || len > MAX_PACKET {
        return Err(OpenVpnError::BadLength(len));
    }
    buf.get(2..2 + len).ok_or(OpenVpnError::Truncated)
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], OpenVpnError> {
    if buf.len() < n {
        return Err(OpenVpnError::Truncated);
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn take8(buf: &mut &[u8]) -> Result<[u8; 8], OpenVpnError> {
    let b = take(buf, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(a)
}

fn take_u32(buf: &mut &[u8]) -> Result<u32, OpenVpnError> {
    let b = take(buf, 4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Parses a control packet sent without tls-auth (the only kind a server answers to a
/// client without the key).
pub fn parse_control(mut buf: &[u8]) -> Result<ControlPacket, OpenVpnError> {
    let first = take(&mut buf, 1)?[0];
    let opcode = first >> 3;
    let key_id = first & 0x07;
    let name = opcode_name(opcode).ok_or(OpenVpnError::UnknownOpcode(opcode))?;
    if matches!(opcode, P_DATA_V1 | P_DATA_V2) {
        return Err(OpenVpnError::NotControl(name));
    }
    let session_id = take8(&mut buf)?;
    let count = usize::from(take(&mut buf, 1)?[0]);
    if count > MAX_ACKS {
        return Err(OpenVpnError::BadAckCount(count));
    }
    let mut acks = Vec::with_capacity(count);
    for _ in 0..count {
        acks.push(take_u32(&mut buf)?);
    }
    let remote_session_id = if count > 0 {
        Some(take8(&mut buf)?)
    } else {
        None
    };
    let packet_id = if opcode == P_ACK_V1 {
        None
    } else {
        Some(take_u32(&mut buf)?)
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
        assert_eq!(tcp_frame_len(&t), Some(16));
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
        let n = tcp_frame_len(&b).unwrap();
        assert_eq!(n, b.len());
        let p = parse_control(tcp_unframe(&b[..n]).unwrap()).unwrap();
        assert_eq!(p.opcode, P_CONTROL_HARD_RESET_SERVER_V2);
        assert!(is_server_reset_for(&p, ours.session_id));
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert_eq!(parse_control(b""), Err(OpenVpnError::Truncated));
        assert_eq!(parse_control(&[0xf8]), Err(OpenVpnError::UnknownOpcode(31)));
        assert_eq!(
            parse_control(&[0x48, 0]),
            Err(OpenVpnError::NotControl("P_DATA_V2"))
        );
        let mut many = vec![0x40];
        many.extend_from_slice(&OURS);
        many.push(200);
        assert_eq!(parse_control(&many), Err(OpenVpnError::BadAckCount(200)));
        assert_eq!(
            tcp_unframe(&[0xff, 0xff]),
            Err(OpenVpnError::BadLength(65535))
        );
        assert_eq!(tcp_frame_len(&[0xff, 0xff, 1]), Some(3));
        let good = fixture("csv-udp-server-reset.bin");
        for cut in 0..good.len() {
            let _ = parse_control(&good[..cut]);
        }
        assert_eq!(parse_control(&good[..20]), Err(OpenVpnError::Truncated));
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
