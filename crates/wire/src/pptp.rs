//! PPTP control connection messages (RFC 2637 section 2): Start-Control-Connection-Request
//! and -Reply, Stop-Control-Connection-Request and -Reply.
//!
//! Every control message starts with Length (u16), PPTP Message Type (1 = control), the
//! Magic Cookie 0x1A2B3C4D and the Control Message Type, all big-endian.

use crate::{Error, Frame, Reader, frame};

/// The magic cookie.
pub const MAGIC: u32 = 0x1a2b_3c4d;
/// Start-Control-Connection-Request / -Reply length.
pub const SCCR_LEN: usize = 156;
/// Largest control message clinicscan reads (the largest in RFC 2637 is 220 bytes).
pub const MAX_MESSAGE: usize = 512;

/// Control message types.
pub mod ctrl {
    /// Start-Control-Connection-Request.
    pub const START_REQUEST: u16 = 1;
    /// Start-Control-Connection-Reply.
    pub const START_REPLY: u16 = 2;
    /// Stop-Control-Connection-Request.
    pub const STOP_REQUEST: u16 = 3;
    /// Stop-Control-Connection-Reply.
    pub const STOP_REPLY: u16 = 4;
}

/// A parsed Start-Control-Connection-Reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartReply {
    /// Protocol version, major and minor.
    pub version: (u8, u8),
    /// Result code (1: success).
    pub result_code: u8,
    /// Error code (when result is 2).
    pub error_code: u8,
    /// Framing capabilities.
    pub framing: u32,
    /// Bearer capabilities.
    pub bearer: u32,
    /// Maximum channels.
    pub max_channels: u16,
    /// Firmware revision.
    pub firmware: u16,
    /// Host name (NUL-padded field, trimmed).
    pub hostname: String,
    /// Vendor string (trimmed).
    pub vendor: String,
}

fn header(len: usize, ctrl_type: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&MAGIC.to_be_bytes());
    m.extend_from_slice(&ctrl_type.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m
}

/// Start-Control-Connection-Request: version 1.0, async+sync framing, analog+digital
/// bearer, host name `hostname` and vendor `vendor` (each at most 63 bytes kept).
pub fn start_request(hostname: &str, vendor: &str) -> Vec<u8> {
    let mut m = header(SCCR_LEN, ctrl::START_REQUEST);
    m.extend_from_slice(&0x0100u16.to_be_bytes()); // protocol version 1.0
    m.extend_from_slice(&0u16.to_be_bytes()); // reserved1
    m.extend_from_slice(&3u32.to_be_bytes()); // framing capabilities
    m.extend_from_slice(&3u32.to_be_bytes()); // bearer capabilities
    m.extend_from_slice(&0u16.to_be_bytes()); // maximum channels
    m.extend_from_slice(&0u16.to_be_bytes()); // firmware revision
    for field in [hostname, vendor] {
        let mut f = [0u8; 64];
        let b = field.as_bytes();
        let n = b.len().min(63);
        f[..n].copy_from_slice(&b[..n]);
        m.extend_from_slice(&f);
    }
    m
}

/// Stop-Control-Connection-Request with reason 1 (general request to clear).
pub fn stop_request() -> Vec<u8> {
    let mut m = header(16, ctrl::STOP_REQUEST);
    m.extend_from_slice(&[1, 0, 0, 0]);
    m
}

/// The message length, within 12..=[`MAX_MESSAGE`].
fn message_length(r: &mut Reader<'_>) -> Result<usize, Error> {
    let len = usize::from(r.u16()?);
    if !(12..=MAX_MESSAGE).contains(&len) {
        return Err(Error::bad_length("PPTP control message", len as u64));
    }
    Ok(len)
}

/// Framing: a whole control message at the start of `buf`.
pub fn message_len(buf: &[u8]) -> Frame {
    frame(buf, "PPTP control message", message_length)
}

/// The control message type of the message in `buf`, checking length and magic.
pub fn control_type(buf: &[u8]) -> Result<u16, Error> {
    let mut h = Reader::new(buf, "PPTP control message").sub(12, "PPTP control message")?;
    message_length(&mut h)?;
    h.skip(2)?; // PPTP message type
    let magic = h.u32()?;
    if magic != MAGIC {
        return Err(Error::unexpected(
            "PPTP magic cookie",
            format_args!("0x{magic:08x}"),
        ));
    }
    h.u16()
}

fn text_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// Parses a Start-Control-Connection-Reply.
pub fn parse_start_reply(buf: &[u8]) -> Result<StartReply, Error> {
    let t = control_type(buf)?;
    if t != ctrl::START_REPLY {
        return Err(Error::unexpected("PPTP control message type", t));
    }
    let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
    if len < SCCR_LEN {
        return Err(Error::bad_length(
            "Start-Control-Connection-Reply",
            len as u64,
        ));
    }
    let mut m = Reader::new(buf, "Start-Control-Connection-Reply")
        .sub(SCCR_LEN, "Start-Control-Connection-Reply")?;
    m.skip(12)?;
    let [major, minor, result_code, error_code] = m.array()?;
    Ok(StartReply {
        version: (major, minor),
        result_code,
        error_code,
        framing: m.u32()?,
        bearer: m.u32()?,
        max_channels: m.u16()?,
        firmware: m.u16()?,
        hostname: text_field(m.take(64)?),
        vendor: text_field(m.take(64)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/pptp/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn request_layout() {
        let r = start_request("clinicscan", "clinicscan");
        assert_eq!(r.len(), SCCR_LEN);
        assert_eq!(message_len(&r), Ok(Some(SCCR_LEN)));
        assert_eq!(control_type(&r), Ok(ctrl::START_REQUEST));
        let s = stop_request();
        assert_eq!(s.len(), 16);
        assert_eq!(control_type(&s), Ok(ctrl::STOP_REQUEST));
    }

    #[test]
    fn recorded_pptpd_reply() {
        let b = fixture("csv-pptpd-start-reply.bin");
        assert_eq!(message_len(&b), Ok(Some(SCCR_LEN)));
        let r = parse_start_reply(&b).unwrap();
        assert_eq!(r.version, (1, 0));
        assert_eq!(r.result_code, 1);
        assert_eq!(r.firmware, 1);
        assert_eq!(r.hostname, "local");
        assert_eq!(r.vendor, "linux");
    }

    #[test]
    fn recorded_stop_reply_is_recognised() {
        let b = fixture("csv-pptpd-stop-reply.bin");
        assert_eq!(control_type(&b), Ok(ctrl::STOP_REPLY));
        assert_eq!(
            parse_start_reply(&b),
            Err(Error::unexpected("PPTP control message type", 4))
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        let good = fixture("csv-pptpd-start-reply.bin");
        let mut bad = good.clone();
        bad[4] = 0;
        assert_eq!(
            parse_start_reply(&bad),
            Err(Error::unexpected("PPTP magic cookie", "0x002b3c4d"))
        );
        let mut short = good.clone();
        short[0..2].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(
            parse_start_reply(&short).unwrap_err().to_string(),
            "Start-Control-Connection-Reply length 100 out of bounds"
        );
        let mut huge = good.clone();
        huge[0..2].copy_from_slice(&60000u16.to_be_bytes());
        assert_eq!(
            parse_start_reply(&huge).unwrap_err().to_string(),
            "PPTP control message length 60000 out of bounds"
        );
        assert!(message_len(&huge).is_err());
        for cut in 0..good.len() {
            assert!(parse_start_reply(&good[..cut]).is_err(), "cut {cut}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = message_len(&b);
            let _ = control_type(&b);
            let _ = parse_start_reply(&b);
        }
    }
}
