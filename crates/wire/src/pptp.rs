//! PPTP control connection messages (RFC 2637 section 2): Start-Control-Connection-Request
//! and -Reply, Stop-Control-Connection-Request and -Reply.
//!
//! Every control message starts with Length (u16), PPTP Message Type (1 = control), the
//! Magic Cookie 0x1A2B3C4D and the Control Message Type, all big-endian.

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

/// Why a message does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PptpError {
    /// Not enough bytes.
    #[error("truncated message")]
    Truncated,
    /// Length field out of bounds.
    #[error("message length {0} out of bounds")]
    BadLength(usize),
    /// Wrong magic cookie.
    #[error("bad magic cookie 0x{0:08x}")]
    BadMagic(u32),
    /// Another message than the one expected.
    #[error("unexpected control message type {0}")]
    UnexpectedType(u16),
}

/// The text of a Start-Control-Connection-Reply result code.
pub fn result_text(code: u8) -> &'static str {
    match code {
        1 => "success",
        2 => "general error",
        3 => "command channel already exists",
        4 => "not authorized",
        5 => "unsupported protocol version",
        _ => "unknown",
    }
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

/// Length of the control message at the start of `buf`, once all of it is there.
pub fn message_len(buf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes(buf.get(..2)?.try_into().ok()?));
    if !(12..=MAX_MESSAGE).contains(&len) {
        return Some(buf.len());
    }
    (buf.len() >= len).then_some(len)
}

/// The control message type of the message in `buf`, checking length and magic.
pub fn control_type(buf: &[u8]) -> Result<u16, PptpError> {
    let h = buf.get(..12).ok_or(PptpError::Truncated)?;
    let len = usize::from(u16::from_be_bytes([h[0], h[1]]));
    if !(12..=MAX_MESSAGE).contains(&len) {
        return Err(PptpError::BadLength(len));
    }
    let magic = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if magic != MAGIC {
        return Err(PptpError::BadMagic(magic));
    }
    Ok(u16::from_be_bytes([h[8], h[9]]))
}

fn text_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// Parses a Start-Control-Connection-Reply.
pub fn parse_start_reply(buf: &[u8]) -> Result<StartReply, PptpError> {
    let t = control_type(buf)?;
    if t != ctrl::START_REPLY {
        return Err(PptpError::UnexpectedType(t));
    }
    let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
    if len < SCCR_LEN {
        return Err(PptpError::BadLength(len));
    }
    let m = buf.get(..SCCR_LEN).ok_or(PptpError::Truncated)?;
    let u32_at = |i: usize| u32::from_be_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]);
    Ok(StartReply {
        version: (m[12], m[13]),
        result_code: m[14],
        error_code: m[15],
        framing: u32_at(16),
        bearer: u32_at(20),
        max_channels: u16::from_be_bytes([m[24], m[25]]),
        firmware: u16::from_be_bytes([m[26], m[27]]),
        hostname: text_field(&m[28..92]),
        vendor: text_field(&m[92..156]),
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
        assert_eq!(message_len(&r), Some(SCCR_LEN));
        assert_eq!(control_type(&r), Ok(ctrl::START_REQUEST));
        let s = stop_request();
        assert_eq!(s.len(), 16);
        assert_eq!(control_type(&s), Ok(ctrl::STOP_REQUEST));
    }

    #[test]
    fn recorded_pptpd_reply() {
        let b = fixture("csv-pptpd-start-reply.bin");
        assert_eq!(message_len(&b), Some(SCCR_LEN));
        let r = parse_start_reply(&b).unwrap();
        assert_eq!(r.version, (1, 0));
        assert_eq!(r.result_code, 1);
        assert_eq!(result_text(r.result_code), "success");
        assert_eq!(r.firmware, 1);
        assert_eq!(r.hostname, "local");
        assert_eq!(r.vendor, "linux");
    }

    #[test]
    fn recorded_stop_reply_is_recognised() {
        let b = fixture("csv-pptpd-stop-reply.bin");
        assert_eq!(control_type(&b), Ok(ctrl::STOP_REPLY));
        assert_eq!(parse_start_reply(&b), Err(PptpError::UnexpectedType(4)));
    }

    #[test]
    fn malformed_messages_are_errors() {
        let good = fixture("csv-pptpd-start-reply.bin");
        let mut bad = good.clone();
        bad[4] = 0;
        assert_eq!(
            parse_start_reply(&bad),
            Err(PptpError::BadMagic(0x002b_3c4d))
        );
        let mut short = good.clone();
        short[0..2].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(parse_start_reply(&short), Err(PptpError::BadLength(100)));
        let mut huge = good.clone();
        huge[0..2].copy_from_slice(&60000u16.to_be_bytes());
        assert_eq!(parse_start_reply(&huge), Err(PptpError::BadLength(60000)));
        assert_eq!(message_len(&huge), Some(huge.len()));
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
