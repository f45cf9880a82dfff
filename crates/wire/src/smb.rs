//! SMB over direct TCP (port 445): the NetBIOS session framing (RFC 1002 §4.3.1 as used by
//! MS-SMB2 2.1), SMB1 NEGOTIATE and SESSION_SETUP_ANDX (MS-CIFS 2.2.4.52/53, MS-SMB 2.2.4.5/6)
//! and SMB2 NEGOTIATE and SESSION_SETUP (MS-SMB2 2.2.3–2.2.6), with the 3.1.1 negotiate
//! contexts. The SESSION_SETUP carries only an NTLM NEGOTIATE: the first leg, which makes the
//! server disclose its names and OS build before any credential is involved.
//!
//! Hand-written: the SMB crates (smb, pavao) implement whole clients and do not expose a
//! parser for one server response.

use crate::{Error, Frame, Reader, frame};

/// Largest NetBIOS session message we accept (SMB negotiate/session-setup replies are small).
pub const MAX_MESSAGE: usize = 65_536;

/// SMB2 dialect 2.0.2.
pub const SMB2_02: u16 = 0x0202;
/// SMB2 dialect 2.1.
pub const SMB2_10: u16 = 0x0210;
/// SMB3 dialect 3.0.
pub const SMB3_00: u16 = 0x0300;
/// SMB3 dialect 3.0.2.
pub const SMB3_02: u16 = 0x0302;
/// SMB3 dialect 3.1.1.
pub const SMB3_11: u16 = 0x0311;
/// Every SMB2/3 dialect clinicscan offers, lowest first.
pub const DIALECTS: [u16; 5] = [SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11];

/// STATUS_SUCCESS.
pub const STATUS_SUCCESS: u32 = 0;
/// STATUS_MORE_PROCESSING_REQUIRED: the session setup wants the next leg.
pub const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xC000_0016;

/// The client GUID clinicscan sends (any fixed value works).
const CLIENT_GUID: &[u8; 16] = b"clinicscan-probe";

/// Framing: a whole NetBIOS session message (with its 4-byte header) at the start of `buf`.
pub fn message_complete(buf: &[u8]) -> Frame {
    frame(buf, "NetBIOS session message", |r| {
        let ty = r.u8()?;
        if ty != 0 {
            return Err(Error::unexpected(
                "NetBIOS session message type",
                format_args!("{ty:#04x}"),
            ));
        }
        let n = r.u24()?;
        if n > MAX_MESSAGE {
            return Err(Error::bad_length("NetBIOS session message", n as u64));
        }
        Ok(n + 4)
    })
}

pub(crate) fn not_smb() -> Error {
    Error::invalid("not an SMB header")
}

pub(crate) fn session_message(body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut m = vec![0, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    m.extend_from_slice(body);
    m
}

/// The name of a dialect revision, "3.1.1" style.
pub fn dialect_name(d: u16) -> String {
    match d {
        SMB2_02 => "2.0.2".into(),
        SMB2_10 => "2.1".into(),
        SMB3_00 => "3.0".into(),
        SMB3_02 => "3.0.2".into(),
        SMB3_11 => "3.1.1".into(),
        0x02ff => "2.???".into(),
        n => format!("{n:#06x}"),
    }
}

// ------------------------------------------------------------------ SMB1

const SMB1_NEGOTIATE: u8 = 0x72;
const SMB1_SESSION_SETUP_ANDX: u8 = 0x73;
/// FLAGS2: UNICODE | NT_STATUS | EXTENDED_SECURITY | LONG_NAMES.
const SMB1_FLAGS2: u16 = 0x8000 | 0x4000 | 0x0800 | 0x0001;

fn smb1_header(command: u8, uid: u16, mid: u16) -> Vec<u8> {
    smb1_request_header(command, 0, uid, mid)
}

/// The 32-byte SMB1 header of a request to `command` in the tree `tid` of session `uid`.
pub(crate) fn smb1_request_header(command: u8, tid: u16, uid: u16, mid: u16) -> Vec<u8> {
    let mut h = vec![0xff, b'S', b'M', b'B', command];
    h.extend_from_slice(&[0; 4]); // status
    h.push(0x18); // flags: canonical paths, case-insensitive
    h.extend_from_slice(&SMB1_FLAGS2.to_le_bytes());
    h.extend_from_slice(&[0; 2]); // PID high
    h.extend_from_slice(&[0; 8]); // security features
    h.extend_from_slice(&[0; 2]); // reserved
    h.extend_from_slice(&tid.to_le_bytes());
    h.extend_from_slice(&0xfeffu16.to_le_bytes()); // PID low
    h.extend_from_slice(&uid.to_le_bytes());
    h.extend_from_slice(&mid.to_le_bytes());
    h
}

/// SMB1 NEGOTIATE offering only "NT LM 0.12".
pub fn smb1_negotiate() -> Vec<u8> {
    let mut m = smb1_header(SMB1_NEGOTIATE, 0, 0);
    let dialects = b"\x02NT LM 0.12\0";
    m.push(0); // WordCount
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    m.extend_from_slice(dialects);
    session_message(&m)
}

/// SMB1 SESSION_SETUP_ANDX (extended security) carrying `blob`.
pub fn smb1_session_setup(blob: &[u8], uid: u16) -> Vec<u8> {
    smb1_session_setup_mid(blob, uid, 1)
}

/// SMB1 SESSION_SETUP_ANDX (extended security) carrying `blob`, as request `mid`.
pub(crate) fn smb1_session_setup_mid(blob: &[u8], uid: u16, mid: u16) -> Vec<u8> {
    let mut m = smb1_header(SMB1_SESSION_SETUP_ANDX, uid, mid);
    m.push(12); // WordCount
    m.extend_from_slice(&[0xff, 0, 0, 0]); // no AndX
    m.extend_from_slice(&4356u16.to_le_bytes()); // MaxBufferSize
    m.extend_from_slice(&1u16.to_le_bytes()); // MaxMpxCount
    m.extend_from_slice(&0u16.to_le_bytes()); // VcNumber
    m.extend_from_slice(&0u32.to_le_bytes()); // SessionKey
    m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes()); // reserved
    // CAP_UNICODE | CAP_NT_STATUS | CAP_EXTENDED_SECURITY
    m.extend_from_slice(&0x8000_0044u32.to_le_bytes());
    let mut bytes = blob.to_vec();
    if (m.len() + 2 + bytes.len()) % 2 == 1 {
        bytes.push(0); // align the Unicode strings
    }
    bytes.extend_from_slice(&[0, 0, 0, 0]); // NativeOS "", NativeLanMan ""
    m.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    m.extend_from_slice(&bytes);
    session_message(&m)
}

/// An SMB1 NEGOTIATE response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1Negotiate {
    /// NT status of the response.
    pub status: u32,
    /// The server accepted "NT LM 0.12" (DialectIndex 0).
    pub accepted: bool,
    /// SecurityMode: 0x04 signing enabled, 0x08 signing required.
    pub security_mode: u8,
    /// Extended security (SPNEGO) in use.
    pub extended_security: bool,
    /// MaxBufferSize: the largest SMB1 message the server accepts and sends (0 when not
    /// accepted).
    pub max_buffer_size: u32,
}

/// The SMB1 message in a framed session message, checked to be a response to `command`
/// with the whole 33-byte header up to WordCount.
fn smb1_message(msg: &[u8], command: u8) -> Result<&[u8], Error> {
    let smb = smb1_bytes(msg)?;
    let mut h = Reader::new(smb, "SMB1 header");
    h.skip(4)?;
    let c = h.u8()?;
    if c != command {
        return Err(Error::unexpected("SMB1 command", format_args!("{c:#x}")));
    }
    h.seek(0)?;
    h.skip(33)?;
    Ok(smb)
}

/// The SMB1 message of a framed session message, checked to start with the SMB1 magic.
pub(crate) fn smb1_bytes(msg: &[u8]) -> Result<&[u8], Error> {
    let mut r = Reader::new(msg, "NetBIOS session message");
    r.skip(4)?;
    let smb = r.rest();
    if Reader::new(smb, "SMB1 header").take(4).ok() != Some(&[0xff, b'S', b'M', b'B'][..]) {
        return Err(not_smb());
    }
    Ok(smb)
}

/// True if the framed message has an SMB2 header (a server answering SMB1 with SMB2).
pub fn is_smb2(msg: &[u8]) -> bool {
    msg.get(4..8) == Some(&[0xfe, b'S', b'M', b'B'][..])
}

/// Parses an SMB1 NEGOTIATE response framed by [`message_complete`].
pub fn parse_smb1_negotiate(msg: &[u8]) -> Result<Smb1Negotiate, Error> {
    let mut h = Reader::new(
        smb1_message(msg, SMB1_NEGOTIATE)?,
        "SMB1 NEGOTIATE response",
    );
    h.skip(5)?;
    let status = h.u32_le()?;
    h.seek(32)?;
    let wc = usize::from(h.u8()?);
    let mut words = h.sub(wc * 2, "SMB1 NEGOTIATE parameters")?;
    let index = words.u16_le().ok();
    let accepted = status == STATUS_SUCCESS && index == Some(0) && wc >= 17;
    let (security_mode, extended_security, max_buffer_size) = if accepted {
        let mode = words.u8()?;
        words.seek(7)?;
        let max_buffer = words.u32_le()?;
        words.seek(19)?;
        let caps = words.u32_le()?;
        (mode, caps & 0x8000_0000 != 0, max_buffer)
    } else {
        (0, false, 0)
    };
    Ok(Smb1Negotiate {
        status,
        accepted,
        security_mode,
        extended_security,
        max_buffer_size,
    })
}

/// An SMB1 SESSION_SETUP_ANDX response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Smb1SessionSetup {
    /// NT status.
    pub status: u32,
    /// The security blob (SPNEGO with the NTLM CHALLENGE).
    pub blob: Vec<u8>,
    /// NativeOS, e.g. "Windows 6.1".
    pub native_os: Option<String>,
    /// NativeLanMan, e.g. "Samba 4.17.12-Debian".
    pub native_lanman: Option<String>,
    /// PrimaryDomain.
    pub primary_domain: Option<String>,
}

/// Parses an SMB1 SESSION_SETUP_ANDX response (extended security form, WordCount 4, or
/// the form without, WordCount 3 and no blob).
pub fn parse_smb1_session_setup(msg: &[u8]) -> Result<Smb1SessionSetup, Error> {
    let mut h = Reader::new(
        smb1_message(msg, SMB1_SESSION_SETUP_ANDX)?,
        "SMB1 SESSION_SETUP_ANDX response",
    );
    h.skip(5)?;
    let status = h.u32_le()?;
    h.skip(1)?; // flags
    let flags2 = h.u16_le()?;
    h.seek(32)?;
    let wc = h.u8()?;
    let mut out = Smb1SessionSetup {
        status,
        ..Default::default()
    };
    // 4 words with extended security (and a security blob), 3 without; an error response
    // carries none
    if wc != 4 && wc != 3 {
        return Ok(out);
    }
    let mut words = h.sub(usize::from(wc) * 2, "SMB1 SESSION_SETUP_ANDX parameters")?;
    words.skip(6)?;
    let blob_len = if wc == 4 {
        usize::from(words.u16_le()?)
    } else {
        0
    };
    let byte_count = usize::from(h.u16_le()?);
    let bytes_at = h.position();
    let bytes = h.take(byte_count)?;
    out.blob = Reader::new(bytes, "SMB1 SESSION_SETUP_ANDX data")
        .take(blob_len)?
        .to_vec();
    let mut at = blob_len;
    let unicode = flags2 & 0x8000 != 0;
    if unicode && (bytes_at + at) % 2 == 1 {
        at += 1;
    }
    let mut strings = Vec::with_capacity(3);
    for _ in 0..3 {
        let rest = bytes.get(at..).unwrap_or(&[]);
        let (s, used) = if unicode {
            let end = rest
                .chunks_exact(2)
                .position(|c| c == [0, 0])
                .map(|i| i * 2)
                .unwrap_or(rest.len() & !1);
            (super::ntlm::utf16(&rest[..end]), end + 2)
        } else {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            (String::from_utf8_lossy(&rest[..end]).into_owned(), end + 1)
        };
        strings.push(Some(s).filter(|s| !s.is_empty()));
        at = at.saturating_add(used);
    }
    let mut it = strings.into_iter();
    out.native_os = it.next().flatten();
    out.native_lanman = it.next().flatten();
    out.primary_domain = it.next().flatten();
    Ok(out)
}

/// The UID an SMB1 response assigned.
pub fn smb1_uid(msg: &[u8]) -> Option<u16> {
    let mut r = Reader::new(msg, "SMB1 message");
    r.seek(4 + 28).ok()?;
    r.u16_le().ok()
}

// ------------------------------------------------------------------ SMB2

const SMB2_NEGOTIATE: u16 = 0;
const SMB2_SESSION_SETUP: u16 = 1;

fn smb2_header(command: u16, message_id: u64, session_id: u64) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B'];
    h.extend_from_slice(&64u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // credit charge
    h.extend_from_slice(&0u32.to_le_bytes()); // status / channel sequence
    h.extend_from_slice(&command.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // credits requested
    h.extend_from_slice(&0u32.to_le_bytes()); // flags
    h.extend_from_slice(&0u32.to_le_bytes()); // next command
    h.extend_from_slice(&message_id.to_le_bytes());
    h.extend_from_slice(&0xfeffu32.to_le_bytes()); // process id
    h.extend_from_slice(&0u32.to_le_bytes()); // tree id
    h.extend_from_slice(&session_id.to_le_bytes());
    h.extend_from_slice(&[0; 16]); // signature
    h
}

fn pad8(m: &mut Vec<u8>) {
    while !m.len().is_multiple_of(8) {
        m.push(0);
    }
}

/// SMB2 NEGOTIATE offering `dialects`; with 3.1.1 among them it carries the
/// PREAUTH_INTEGRITY and ENCRYPTION negotiate contexts (MS-SMB2 2.2.3.1).
pub fn smb2_negotiate(dialects: &[u16]) -> Vec<u8> {
    let with_contexts = dialects.contains(&SMB3_11);
    let smb3 = dialects.iter().any(|&d| d >= SMB3_00);
    let mut m = smb2_header(SMB2_NEGOTIATE, 0, 0);
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes()); // SecurityMode: signing enabled
    m.extend_from_slice(&0u16.to_le_bytes());
    // DFS | LEASING | LARGE_MTU | MULTI_CHANNEL | PERSISTENT_HANDLES | DIRECTORY_LEASING | ENCRYPTION
    let caps: u32 = if smb3 { 0x7f } else { 0 };
    m.extend_from_slice(&caps.to_le_bytes());
    m.extend_from_slice(CLIENT_GUID);
    let ctx_offset_at = m.len();
    m.extend_from_slice(&[0; 8]); // NegotiateContextOffset/Count/Reserved2, or ClientStartTime
    for d in dialects {
        m.extend_from_slice(&d.to_le_bytes());
    }
    if with_contexts {
        pad8(&mut m);
        let offset = m.len() as u32;
        // SMB2_PREAUTH_INTEGRITY_CAPABILITIES: one hash (SHA-512), 32-byte salt
        let mut preauth = Vec::new();
        preauth.extend_from_slice(&1u16.to_le_bytes());
        preauth.extend_from_slice(&32u16.to_le_bytes());
        preauth.extend_from_slice(&1u16.to_le_bytes());
        preauth.extend_from_slice(b"clinicscan preauth salt 32 bytes");
        // SMB2_ENCRYPTION_CAPABILITIES: AES-128-GCM, AES-128-CCM, AES-256-GCM, AES-256-CCM
        let mut enc = Vec::new();
        enc.extend_from_slice(&4u16.to_le_bytes());
        for c in [2u16, 1, 4, 3] {
            enc.extend_from_slice(&c.to_le_bytes());
        }
        for (i, (ty, data)) in [(1u16, preauth), (2u16, enc)].into_iter().enumerate() {
            if i > 0 {
                pad8(&mut m);
            }
            m.extend_from_slice(&ty.to_le_bytes());
            m.extend_from_slice(&(data.len() as u16).to_le_bytes());
            m.extend_from_slice(&[0; 4]);
            m.extend_from_slice(&data);
        }
        m[ctx_offset_at..ctx_offset_at + 4].copy_from_slice(&offset.to_le_bytes());
        m[ctx_offset_at + 4..ctx_offset_at + 6].copy_from_slice(&2u16.to_le_bytes());
    }
    session_message(&m)
}

/// SMB2 SESSION_SETUP carrying `blob` (MS-SMB2 2.2.5).
pub fn smb2_session_setup(blob: &[u8], message_id: u64) -> Vec<u8> {
    let mut m = smb2_header(SMB2_SESSION_SETUP, message_id, 0);
    m.extend_from_slice(&25u16.to_le_bytes());
    m.push(0); // flags
    m.push(1); // SecurityMode: signing enabled
    m.extend_from_slice(&0u32.to_le_bytes()); // capabilities
    m.extend_from_slice(&0u32.to_le_bytes()); // channel
    m.extend_from_slice(&88u16.to_le_bytes()); // security buffer offset: 64 + 24
    m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes()); // previous session id
    m.extend_from_slice(blob);
    session_message(&m)
}

/// The SMB2 message in a framed session message, checked to be a response to `command`
/// with the whole 64-byte header; and its status.
fn smb2_message(msg: &[u8], command: u16) -> Result<(&[u8], u32), Error> {
    let mut r = Reader::new(msg, "NetBIOS session message");
    r.skip(4)?;
    let smb = r.rest();
    if Reader::new(smb, "SMB2 header").take(4).ok() != Some(&[0xfe, b'S', b'M', b'B'][..]) {
        return Err(not_smb());
    }
    let mut h = Reader::new(smb, "SMB2 header").sub(64, "SMB2 header")?;
    h.seek(8)?;
    let status = h.u32_le()?;
    let c = h.u16_le()?;
    if c != command {
        return Err(Error::unexpected("SMB2 command", format_args!("{c:#x}")));
    }
    Ok((smb, status))
}

/// An SMB2 NEGOTIATE response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb2Negotiate {
    /// NT status; non-zero means no dialect was agreed.
    pub status: u32,
    /// DialectRevision chosen (0 on error).
    pub dialect: u16,
    /// SecurityMode: 0x01 signing enabled, 0x02 signing required.
    pub security_mode: u16,
    /// Server capabilities.
    pub capabilities: u32,
}

/// Parses an SMB2 NEGOTIATE response framed by [`message_complete`].
pub fn parse_smb2_negotiate(msg: &[u8]) -> Result<Smb2Negotiate, Error> {
    let (smb, status) = smb2_message(msg, SMB2_NEGOTIATE)?;
    if status != STATUS_SUCCESS {
        return Ok(Smb2Negotiate {
            status,
            dialect: 0,
            security_mode: 0,
            capabilities: 0,
        });
    }
    let mut r = Reader::new(smb, "SMB2 NEGOTIATE response");
    r.seek(64)?;
    let mut body = r.sub(64, "SMB2 NEGOTIATE response")?;
    let size = body.u16_le()?;
    if size != 65 {
        return Err(Error::unexpected("SMB2 NEGOTIATE structure size", size));
    }
    let security_mode = body.u16_le()?;
    let dialect = body.u16_le()?;
    body.seek(24)?;
    Ok(Smb2Negotiate {
        status,
        security_mode,
        dialect,
        capabilities: body.u32_le()?,
    })
}

/// An SMB2 SESSION_SETUP response: its status, session id and security blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb2SessionSetup {
    /// NT status (MORE_PROCESSING_REQUIRED after the first leg).
    pub status: u32,
    /// The security blob.
    pub blob: Vec<u8>,
}

/// Parses an SMB2 SESSION_SETUP response.
pub fn parse_smb2_session_setup(msg: &[u8]) -> Result<Smb2SessionSetup, Error> {
    let (smb, status) = smb2_message(msg, SMB2_SESSION_SETUP)?;
    let mut body = Reader::new(smb, "SMB2 SESSION_SETUP response");
    body.seek(64)?;
    if body.u16_le().ok() != Some(9) {
        return Ok(Smb2SessionSetup {
            status,
            blob: Vec::new(),
        });
    }
    body.skip(2)?; // flags
    let off = usize::from(body.u16_le()?);
    let len = usize::from(body.u16_le()?);
    let blob = if len == 0 {
        Vec::new()
    } else {
        let mut buffer = Reader::new(smb, "SMB2 security buffer");
        buffer.seek(off)?;
        buffer.take(len)?.to_vec()
    };
    Ok(Smb2SessionSetup { status, blob })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le16(b: &[u8], at: usize) -> Option<u16> {
        let mut r = Reader::new(b, "t");
        r.seek(at).ok()?;
        r.u16_le().ok()
    }

    fn le32(b: &[u8], at: usize) -> Option<u32> {
        let mut r = Reader::new(b, "t");
        r.seek(at).ok()?;
        r.u32_le().ok()
    }

    fn smb2_negotiate_response(dialect: u16, security_mode: u16) -> Vec<u8> {
        let mut m = smb2_header(SMB2_NEGOTIATE, 0, 0);
        m[12] = 0;
        let mut body = vec![0u8; 64];
        body[..2].copy_from_slice(&65u16.to_le_bytes());
        body[2..4].copy_from_slice(&security_mode.to_le_bytes());
        body[4..6].copy_from_slice(&dialect.to_le_bytes());
        body[24..28].copy_from_slice(&0x2fu32.to_le_bytes());
        m.extend_from_slice(&body);
        session_message(&m)
    }

    #[test]
    fn framing() {
        assert_eq!(message_complete(&[0, 0]), Ok(None));
        assert_eq!(
            message_complete(&[0x85, 0, 0, 0]),
            Err(Error::unexpected("NetBIOS session message type", "0x85"))
        );
        assert_eq!(
            message_complete(&[0, 0xff, 0, 0]),
            Err(Error::bad_length("NetBIOS session message", 0xff0000u64))
        );
        assert_eq!(message_complete(&[0, 0, 0, 2, 1, 2, 3]), Ok(Some(6)));
    }

    #[test]
    fn negotiate_request_shape() {
        let m = smb2_negotiate(&DIALECTS);
        assert_eq!(message_complete(&m), Ok(Some(m.len())));
        let smb = &m[4..];
        assert_eq!(le16(smb, 64 + 2), Some(5));
        // contexts start 8-aligned, after the dialects
        let off = le32(smb, 64 + 28).unwrap() as usize;
        assert_eq!(off % 8, 0);
        assert_eq!(off, 64 + 36 + 10 + 2);
        assert_eq!(le16(smb, off), Some(1));
        assert_eq!(le16(smb, 64 + 32), Some(2));
        let old = smb2_negotiate(&[SMB2_02]);
        assert_eq!(old.len(), 4 + 64 + 36 + 2);
        let s1 = smb1_negotiate();
        assert_eq!(&s1[4..9], &[0xff, b'S', b'M', b'B', 0x72]);
    }

    #[test]
    fn parses_smb2_negotiate() {
        let r = parse_smb2_negotiate(&smb2_negotiate_response(SMB3_11, 3)).unwrap();
        assert_eq!((r.status, r.dialect, r.security_mode), (0, SMB3_11, 3));
        assert_eq!(dialect_name(r.dialect), "3.1.1");
        let mut short = smb2_negotiate_response(SMB3_11, 3);
        short.truncate(4 + 64 + 10);
        assert_eq!(
            parse_smb2_negotiate(&short).unwrap_err().to_string(),
            "SMB2 NEGOTIATE response: length 74 bytes, need 128"
        );
        assert_eq!(
            parse_smb2_negotiate(&smb2_session_setup(b"x", 1)),
            Err(Error::unexpected("SMB2 command", "0x1"))
        );
        assert_eq!(parse_smb2_negotiate(&smb1_negotiate()), Err(not_smb()));
    }

    #[test]
    fn parses_smb1_session_setup_strings() {
        let mut m = smb1_header(SMB1_SESSION_SETUP_ANDX, 100, 1);
        m[5..9].copy_from_slice(&STATUS_MORE_PROCESSING_REQUIRED.to_le_bytes());
        m.push(4);
        let blob = b"NTLMSSP\0wxyz";
        m.extend_from_slice(&[0xff, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
        let mut bytes = blob.to_vec();
        bytes.push(0); // blob of 12 bytes: 43 + 12 is odd, so one pad byte
        for s in ["Windows 6.1", "Samba 4.17.12-Debian", "CSRLAB"] {
            bytes.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
            bytes.extend_from_slice(&[0, 0]);
        }
        m.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        m.extend_from_slice(&bytes);
        let r = parse_smb1_session_setup(&session_message(&m)).unwrap();
        assert_eq!(r.status, STATUS_MORE_PROCESSING_REQUIRED);
        assert_eq!(r.blob, blob);
        assert_eq!(r.native_os.as_deref(), Some("Windows 6.1"));
        assert_eq!(r.native_lanman.as_deref(), Some("Samba 4.17.12-Debian"));
        assert_eq!(r.primary_domain.as_deref(), Some("CSRLAB"));
        assert_eq!(smb1_uid(&session_message(&m)), Some(100));
    }
}

/// Recorded samba answers (fixtures/smb/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;

    macro_rules! fx {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/smb/",
                $name
            ))
        };
    }

    fn framed(b: &[u8]) -> &[u8] {
        assert_eq!(message_complete(b), Ok(Some(b.len())));
        b
    }

    #[test]
    fn samba_with_smb1() {
        let n = parse_smb1_negotiate(framed(fx!("samba-smb1-smb1-negotiate.bin"))).unwrap();
        assert!(n.accepted);
        assert!(n.extended_security);
        // user-level security, encrypted passwords; SMB1 signing not offered ("server signing = default")
        assert_eq!(n.security_mode, 0x03);
        let s = parse_smb1_session_setup(framed(fx!("samba-smb1-smb1-session-setup.bin"))).unwrap();
        assert_eq!(s.status, STATUS_MORE_PROCESSING_REQUIRED);
        assert_eq!(s.native_os.as_deref(), Some("Windows 6.1"));
        assert_eq!(s.native_lanman.as_deref(), Some("Samba 4.17.12-Debian"));
        let c = crate::ntlm::find_challenge(&s.blob).unwrap();
        assert_eq!(c.netbios_computer.as_deref(), Some("CSRSMB1"));
        let n2 = parse_smb2_negotiate(framed(fx!("samba-smb1-smb2-negotiate-all.bin"))).unwrap();
        assert_eq!((n2.status, n2.dialect, n2.security_mode), (0, SMB3_11, 1));
        let low = parse_smb2_negotiate(framed(fx!("samba-smb1-smb2-negotiate-202.bin"))).unwrap();
        assert_eq!((low.status, low.dialect), (0, SMB2_02));
        let ss =
            parse_smb2_session_setup(framed(fx!("samba-smb1-smb2-session-setup.bin"))).unwrap();
        assert_eq!(ss.status, STATUS_MORE_PROCESSING_REQUIRED);
        let c = crate::ntlm::find_challenge(&ss.blob).unwrap();
        assert_eq!(c.netbios_domain.as_deref(), Some("CSRSMB1"));
        assert_eq!(c.os_version.as_deref(), Some("6.1.0"));
    }

    #[test]
    fn samba_signing_required_no_smb1() {
        let n = parse_smb1_negotiate(framed(fx!("samba-signed-smb1-negotiate.bin"))).unwrap();
        assert!(!n.accepted);
        let n2 = parse_smb2_negotiate(framed(fx!("samba-signed-smb2-negotiate-all.bin"))).unwrap();
        assert_eq!((n2.dialect, n2.security_mode), (SMB3_11, 3));
        // 2.0.2 alone: STATUS_NOT_SUPPORTED
        let low = parse_smb2_negotiate(framed(fx!("samba-signed-smb2-negotiate-202.bin"))).unwrap();
        assert_eq!((low.status, low.dialect), (0xC000_00BB, 0));
        let ss =
            parse_smb2_session_setup(framed(fx!("samba-signed-smb2-session-setup.bin"))).unwrap();
        let c = crate::ntlm::find_challenge(&ss.blob).unwrap();
        assert_eq!(c.netbios_computer.as_deref(), Some("CSRSIGNED"));
    }

    #[test]
    fn malformed() {
        let t = fx!("malformed-truncated-negotiate.bin");
        assert_eq!(message_complete(t), Ok(None));
        assert!(matches!(
            parse_smb2_negotiate(t),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(
            message_complete(fx!("malformed-oversized-length.bin")),
            Err(Error::bad_length("NetBIOS session message", 0x7fffffu64))
        );
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    fn check(b: &[u8]) {
        let _ = super::message_complete(b);
        let _ = super::parse_smb1_negotiate(b);
        let _ = super::parse_smb1_session_setup(b);
        let _ = super::parse_smb2_negotiate(b);
        let _ = super::parse_smb2_session_setup(b);
        let _ = super::smb1_uid(b);
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            check(&b);
        }

        #[test]
        fn smb_headers(smb2 in any::<bool>(), cmd in 0u8..3, b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut m = vec![0, 0, 1, 0];
            m.extend_from_slice(if smb2 { &[0xfe, b'S', b'M', b'B'] } else { &[0xff, b'S', b'M', b'B'] });
            m.extend_from_slice(&b);
            if smb2 && m.len() > 17 {
                m[16] = cmd;
                m[17] = 0;
            } else if !smb2 && m.len() > 8 {
                m[8] = 0x72 + cmd % 2;
            }
            check(&m);
        }
    }
}
