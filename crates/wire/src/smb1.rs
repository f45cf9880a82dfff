//! The SMB1 (NT LM 0.12) messages of an anonymous share listing, for a server that speaks
//! nothing newer (an old NAS, a Windows XP/2003-era device, an old modality's file share):
//! the anonymous SESSION_SETUP_ANDX leg, TREE_CONNECT_ANDX, NT_CREATE_ANDX of the `srvsvc`
//! pipe and TransactNmPipe TRANSACTIONs carrying the DCE/RPC of [`crate::srvsvc`], CLOSE,
//! the RAP NetShareEnum over `\PIPE\LANMAN` (a TRANSACTION, MS-RAP 2.5.6.1), TRANS2
//! FIND_FIRST2 of a share's top directory, TREE_DISCONNECT and LOGOFF_ANDX (MS-CIFS 2.2.4):
//! encoders for what clinicscan sends, parsers of what the server answers.
//!
//! Two ways to the share list: srvsvc NetShareEnumAll, which gives every name in Unicode,
//! and RAP NetShareEnum, which needs no pipe or DCE/RPC and is answered by every SMB1
//! server of that era (Windows NT 4.0 to 2003, Samba, the NAS firmwares built on either)
//! but carries names of at most 12 OEM characters: Samba leaves a longer name out of the
//! answer altogether (recorded: `[emr-export-2026]`), so RAP is the fallback, not the first
//! choice.
//!
//! What can be asked is fixed here, not by the caller: the one open is of a named pipe with
//! pipe read/write access, FIND_FIRST2 lists names (the server closes the search itself),
//! and no message opens, reads or writes a file.
//!
//! Hand-written for the reason [`crate::smb`] gives.

use crate::smb::{smb1_bytes, smb1_request_header, smb1_session_setup_mid};
use crate::srvsvc::{MAX_SHARES, Share, ShareList};
use crate::{Error, Reader};

/// TREE_DISCONNECT.
pub const TREE_DISCONNECT: u8 = 0x71;
/// SESSION_SETUP_ANDX.
pub const SESSION_SETUP_ANDX: u8 = 0x73;
/// LOGOFF_ANDX.
pub const LOGOFF_ANDX: u8 = 0x74;
/// TREE_CONNECT_ANDX.
pub const TREE_CONNECT_ANDX: u8 = 0x75;
/// TRANSACTION.
pub const TRANSACTION: u8 = 0x25;
/// TRANSACTION2.
pub const TRANSACTION2: u8 = 0x32;
/// NT_CREATE_ANDX.
pub const NT_CREATE_ANDX: u8 = 0xa2;
/// CLOSE.
pub const CLOSE: u8 = 0x04;

/// RAP's ERROR_MORE_DATA: the answer holds the entries that fit, not all.
pub const RAP_MORE_DATA: u16 = 234;

/// Where a request goes: its session, tree and multiplex id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    /// UID the server assigned (0 before the first SESSION_SETUP answer).
    pub uid: u16,
    /// TID of the connected share (0 outside a tree).
    pub tid: u16,
    /// MID (one per request, echoed in its answer).
    pub mid: u16,
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(Some(0))
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

/// An SMB1 request: header, the parameter words and the data bytes, framed.
fn request(command: u8, ids: Ids, words: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut m = smb1_request_header(command, ids.tid, ids.uid, ids.mid);
    m.push((words.len() / 2) as u8);
    m.extend_from_slice(words);
    m.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    m.extend_from_slice(bytes);
    crate::smb::session_message(&m)
}

/// The second SESSION_SETUP_ANDX leg (extended security) carrying `blob`: the anonymous
/// NTLM AUTHENTICATE in SPNEGO, on the session the first leg's answer named.
pub fn session_setup(blob: &[u8], ids: Ids) -> Vec<u8> {
    smb1_session_setup_mid(blob, ids.uid, ids.mid)
}

/// SESSION_SETUP_ANDX without extended security for a null session (MS-CIFS 2.2.4.53.1):
/// an empty account, an empty domain and no password at all — for a server that did not
/// negotiate extended security, the logon `smbclient -N -U%` makes there. FLAGS2 does not
/// claim extended security, since the server did not agree to it.
pub fn null_session_setup(ids: Ids) -> Vec<u8> {
    let mut w = Vec::with_capacity(26);
    w.extend_from_slice(&[0xff, 0, 0, 0]); // no AndX
    w.extend_from_slice(&4356u16.to_le_bytes()); // MaxBufferSize
    w.extend_from_slice(&1u16.to_le_bytes()); // MaxMpxCount
    w.extend_from_slice(&0u16.to_le_bytes()); // VcNumber
    w.extend_from_slice(&0u32.to_le_bytes()); // SessionKey
    w.extend_from_slice(&0u16.to_le_bytes()); // OEMPasswordLen
    w.extend_from_slice(&0u16.to_le_bytes()); // UnicodePasswordLen
    w.extend_from_slice(&0u32.to_le_bytes());
    w.extend_from_slice(&0x0000_0044u32.to_le_bytes()); // CAP_UNICODE | CAP_NT_STATUS
    // the data starts at 32 + 1 + 26 + 2 = 61: one pad byte, then four empty Unicode
    // strings (account, domain, NativeOS, NativeLanMan)
    let mut m = request(SESSION_SETUP_ANDX, ids, &w, &[0; 9]);
    let flags2 = 4 + 10;
    m[flags2 + 1] &= !0x08; // FLAGS2_EXTENDED_SECURITY (0x0800)
    m
}

/// TREE_CONNECT_ANDX to `path`, `\\server\share`, with no share password (MS-CIFS
/// 2.2.4.55): user-level security decides by the session, and the one password byte is
/// the empty one every client sends.
pub fn tree_connect(path: &str, ids: Ids) -> Vec<u8> {
    let mut w = Vec::with_capacity(8);
    w.extend_from_slice(&[0xff, 0, 0, 0]); // no AndX
    w.extend_from_slice(&0u16.to_le_bytes()); // flags
    w.extend_from_slice(&1u16.to_le_bytes()); // PasswordLength
    // the data starts at 32 + 1 + 8 + 2 = 43: the password byte makes the path even
    let mut b = vec![0];
    b.extend_from_slice(&utf16z(path));
    b.extend_from_slice(b"?????\0"); // any service type, in OEM characters
    request(TREE_CONNECT_ANDX, ids, &w, &b)
}

/// TREE_DISCONNECT of the tree in `ids`.
pub fn tree_disconnect(ids: Ids) -> Vec<u8> {
    request(TREE_DISCONNECT, ids, &[], &[])
}

/// LOGOFF_ANDX of the session in `ids`.
pub fn logoff(ids: Ids) -> Vec<u8> {
    request(LOGOFF_ANDX, ids, &[0xff, 0, 0, 0], &[])
}

/// A TRANSACTION or TRANSACTION2 request with everything in one message (MS-CIFS
/// 2.2.4.33.1, 2.2.4.46.1): `name` (TRANSACTION only), the setup words, parameters and
/// data, and the most parameter and data bytes the answer may hold.
#[allow(clippy::too_many_arguments)]
fn transaction(
    command: u8,
    name: Option<&str>,
    setup: &[u16],
    params: &[u8],
    data: &[u8],
    max_params: u16,
    max_data: u16,
    ids: Ids,
) -> Vec<u8> {
    // the data area starts after the header, WordCount, the words and ByteCount
    let bytes_at = 32 + 1 + 2 * (14 + setup.len()) + 2;
    let mut b = Vec::new();
    match name {
        Some(name) => {
            if bytes_at % 2 == 1 {
                b.push(0); // the Unicode name is 2-aligned
            }
            b.extend_from_slice(&utf16z(name));
        }
        None => b.push(0), // TRANSACTION2 has an empty name
    }
    while !(bytes_at + b.len()).is_multiple_of(4) {
        b.push(0);
    }
    let param_offset = bytes_at + b.len();
    b.extend_from_slice(params);
    while !(bytes_at + b.len()).is_multiple_of(4) {
        b.push(0);
    }
    let data_offset = bytes_at + b.len();
    b.extend_from_slice(data);
    let mut w = Vec::with_capacity(2 * (14 + setup.len()));
    w.extend_from_slice(&(params.len() as u16).to_le_bytes()); // TotalParameterCount
    w.extend_from_slice(&(data.len() as u16).to_le_bytes()); // TotalDataCount
    w.extend_from_slice(&max_params.to_le_bytes());
    w.extend_from_slice(&max_data.to_le_bytes());
    w.push(0); // MaxSetupCount
    w.push(0);
    w.extend_from_slice(&0u16.to_le_bytes()); // flags
    w.extend_from_slice(&0u32.to_le_bytes()); // timeout: return at once
    w.extend_from_slice(&0u16.to_le_bytes());
    w.extend_from_slice(&(params.len() as u16).to_le_bytes()); // ParameterCount
    w.extend_from_slice(&(param_offset as u16).to_le_bytes());
    w.extend_from_slice(&(data.len() as u16).to_le_bytes()); // DataCount
    w.extend_from_slice(&(data_offset as u16).to_le_bytes());
    w.push(setup.len() as u8);
    w.push(0);
    for s in setup {
        w.extend_from_slice(&s.to_le_bytes());
    }
    request(command, ids, &w, &b)
}

/// RAP NetShareEnum (opcode 0) at level 1 over `\PIPE\LANMAN` on IPC$ (MS-RAP 2.5.6.1),
/// with a receive buffer of `buffer` bytes.
pub fn rap_share_enum(buffer: u16, ids: Ids) -> Vec<u8> {
    let mut p = Vec::with_capacity(20);
    p.extend_from_slice(&0u16.to_le_bytes()); // RAP opcode: NetShareEnum
    p.extend_from_slice(b"WrLeh\0"); // level, receive buffer, its size; entries, available
    p.extend_from_slice(b"B13BWz\0"); // share_info_1: name[13], pad, type, remark
    p.extend_from_slice(&1u16.to_le_bytes());
    p.extend_from_slice(&buffer.to_le_bytes());
    transaction(
        TRANSACTION,
        Some(r"\PIPE\LANMAN"),
        &[],
        &p,
        &[],
        8,
        buffer,
        ids,
    )
}

/// FILE_ATTRIBUTE_HIDDEN | SYSTEM | DIRECTORY: every entry of the directory is counted.
const SEARCH_ATTRIBUTES: u16 = 0x0016;
/// SMB_FIND_CLOSE_AFTER_REQUEST | SMB_FIND_CLOSE_AT_EOS: the server ends the search itself.
const FIND_CLOSE: u16 = 0x0003;
/// SMB_FIND_FILE_NAMES_INFO: the shortest entry that still counts the names.
const FIND_FILE_NAMES_INFO: u16 = 0x0103;
/// TRANS2_FIND_FIRST2.
const TRANS2_FIND_FIRST2: u16 = 0x0001;

/// TRANS2 FIND_FIRST2 of `\*` in the connected share: at most `count` names of its top
/// directory in at most `max_data` bytes (MS-CIFS 2.2.6.2.1), the search closed by the
/// server.
pub fn find_first_top(count: u16, max_data: u16, ids: Ids) -> Vec<u8> {
    let mut p = Vec::with_capacity(18);
    p.extend_from_slice(&SEARCH_ATTRIBUTES.to_le_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    p.extend_from_slice(&FIND_CLOSE.to_le_bytes());
    p.extend_from_slice(&FIND_FILE_NAMES_INFO.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes()); // SearchStorageType
    p.extend_from_slice(&utf16z(r"\*"));
    transaction(
        TRANSACTION2,
        None,
        &[TRANS2_FIND_FIRST2],
        &p,
        &[],
        10,
        max_data,
        ids,
    )
}

/// FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE: reading and
/// writing a named pipe's data is how DCE/RPC travels over it.
const PIPE_ACCESS: u32 = 0x0000_0001 | 0x0000_0002 | 0x0000_0080 | 0x0010_0000;
/// FILE_NON_DIRECTORY_FILE.
const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;
/// TRANS_TRANSACT_NMPIPE: write to a named pipe and read its answer in one exchange.
const TRANSACT_NMPIPE: u16 = 0x0026;

/// NT_CREATE_ANDX opening the named pipe `name` (`\srvsvc`) on IPC$ (MS-CIFS 2.2.4.64):
/// the only thing this module opens by name, and only with pipe read/write access.
pub fn open_pipe(name: &str, ids: Ids) -> Vec<u8> {
    let n = utf16z(name);
    let mut w = Vec::with_capacity(48);
    w.extend_from_slice(&[0xff, 0, 0, 0]); // no AndX
    w.push(0);
    w.extend_from_slice(&(n.len() as u16).to_le_bytes());
    w.extend_from_slice(&0u32.to_le_bytes()); // flags: no oplock
    w.extend_from_slice(&0u32.to_le_bytes()); // RootDirectoryFID
    w.extend_from_slice(&PIPE_ACCESS.to_le_bytes());
    w.extend_from_slice(&0u64.to_le_bytes()); // AllocationSize
    w.extend_from_slice(&0u32.to_le_bytes()); // ExtFileAttributes
    w.extend_from_slice(&3u32.to_le_bytes()); // share read and write
    w.extend_from_slice(&1u32.to_le_bytes()); // FILE_OPEN: never create
    w.extend_from_slice(&FILE_NON_DIRECTORY_FILE.to_le_bytes());
    w.extend_from_slice(&2u32.to_le_bytes()); // impersonation
    w.push(0); // SecurityFlags
    // the data starts at 32 + 1 + 48 + 2 = 83: one pad byte makes the name even
    let mut b = vec![0];
    b.extend_from_slice(&n);
    request(NT_CREATE_ANDX, ids, &w, &b)
}

/// TRANSACTION TransactNmPipe on the pipe `fid` carrying `pdu`, with at most `max_data`
/// bytes back (MS-CIFS 2.2.5.6).
pub fn transact_pipe(fid: u16, pdu: &[u8], max_data: u16, ids: Ids) -> Vec<u8> {
    transaction(
        TRANSACTION,
        Some("\\PIPE\\"),
        &[TRANSACT_NMPIPE, fid],
        &[],
        pdu,
        0,
        max_data,
        ids,
    )
}

/// CLOSE of `fid` (MS-CIFS 2.2.4.5), leaving its times as they are.
pub fn close(fid: u16, ids: Ids) -> Vec<u8> {
    let mut w = fid.to_le_bytes().to_vec();
    w.extend_from_slice(&u32::MAX.to_le_bytes());
    request(CLOSE, ids, &w, &[])
}

/// The header of an SMB1 answer and its parameter words and data bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// The command answered.
    pub command: u8,
    /// NT status.
    pub status: u32,
    /// TID.
    pub tid: u16,
    /// UID.
    pub uid: u16,
    /// MID of the request answered.
    pub mid: u16,
    /// The parameter words (2 × WordCount bytes).
    pub words: &'a [u8],
    /// The data bytes (ByteCount of them).
    pub bytes: &'a [u8],
    /// The whole SMB1 message from its header on: the offsets in words count from here.
    pub smb: &'a [u8],
}

/// Parses the SMB1 header, words and bytes of a NetBIOS session message framed by
/// [`crate::smb::message_complete`].
pub fn parse_response(msg: &[u8]) -> Result<Response<'_>, Error> {
    let smb = smb1_bytes(msg)?;
    let mut h = Reader::new(smb, "SMB1 header");
    h.skip(4)?;
    let command = h.u8()?;
    let status = h.u32_le()?;
    let flags = h.u8()?;
    if flags & 0x80 == 0 {
        return Err(Error::invalid("an SMB1 request where an answer was due"));
    }
    h.seek(24)?;
    let tid = h.u16_le()?;
    h.skip(2)?; // PID low
    let uid = h.u16_le()?;
    let mid = h.u16_le()?;
    let wc = usize::from(h.u8()?);
    let words = h.take(wc * 2)?;
    // an error answer may end after WordCount 0 without a ByteCount
    let bytes = if wc == 0 && h.is_empty() {
        &[][..]
    } else {
        let n = usize::from(h.u16_le()?);
        h.take(n)?
    };
    Ok(Response {
        command,
        status,
        tid,
        uid,
        mid,
        words,
        bytes,
        smb,
    })
}

fn answer<'a>(msg: &'a [u8], command: u8) -> Result<Response<'a>, Error> {
    let r = parse_response(msg)?;
    if r.command != command {
        return Err(Error::unexpected(
            "SMB1 command",
            format_args!("{:#x}", r.command),
        ));
    }
    Ok(r)
}

/// The status of an answer to `command` and the TID it names (TREE_CONNECT_ANDX: the tree
/// connected; any other: the tree of the request).
pub fn parse_status(msg: &[u8], command: u8) -> Result<(u32, u16), Error> {
    let r = answer(msg, command)?;
    Ok((r.status, r.tid))
}

/// Parses an NT_CREATE_ANDX answer: the pipe's FID, or the status that refused the open.
pub fn parse_open(msg: &[u8]) -> Result<Result<u16, u32>, Error> {
    let r = answer(msg, NT_CREATE_ANDX)?;
    if r.status != 0 {
        return Ok(Err(r.status));
    }
    let mut w = Reader::new(r.words, "SMB1 NT_CREATE_ANDX answer words");
    w.skip(5)?; // AndX, OpLockLevel
    Ok(Ok(w.u16_le()?))
}

/// A TRANSACTION or TRANSACTION2 answer in one message: its parameters and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction<'a> {
    /// NT status (a RAP or TRANS2 error may also be in the parameters).
    pub status: u32,
    /// The parameter bytes.
    pub params: &'a [u8],
    /// The data bytes.
    pub data: &'a [u8],
}

/// Parses the answer to a TRANSACTION or TRANSACTION2 (`command`) asked for in one message
/// (MS-CIFS 2.2.4.33.2): an error answer has no words and empty parameters and data; an
/// answer split over several messages is refused, since the request asked for no more than
/// the server's buffer holds.
pub fn parse_transaction(msg: &[u8], command: u8) -> Result<Transaction<'_>, Error> {
    let r = answer(msg, command)?;
    if r.words.is_empty() {
        return Ok(Transaction {
            status: r.status,
            params: &[],
            data: &[],
        });
    }
    let mut w = Reader::new(r.words, "SMB1 transaction answer words");
    let total_params = w.u16_le()?;
    let total_data = w.u16_le()?;
    w.skip(2)?;
    let param_count = w.u16_le()?;
    let param_offset = w.u16_le()?;
    let param_disp = w.u16_le()?;
    let data_count = w.u16_le()?;
    let data_offset = w.u16_le()?;
    let data_disp = w.u16_le()?;
    if param_disp != 0 || data_disp != 0 || param_count < total_params || data_count < total_data {
        return Err(Error::invalid(
            "an SMB1 transaction answer in several messages",
        ));
    }
    let slice = |off: u16, len: u16, what: &'static str| {
        let mut b = Reader::new(r.smb, what);
        b.seek(usize::from(off))?;
        b.take(usize::from(len))
    };
    let params = if param_count == 0 {
        &[][..]
    } else {
        slice(param_offset, param_count, "SMB1 transaction parameters")?
    };
    let data = if data_count == 0 {
        &[][..]
    } else {
        slice(data_offset, data_count, "SMB1 transaction data")?
    };
    Ok(Transaction {
        status: r.status,
        params,
        data,
    })
}

/// The share list of a RAP NetShareEnum answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RapShares {
    /// RAP status: 0, [`RAP_MORE_DATA`] (the entries that fit) or a Windows error code.
    pub status: u16,
    /// The shares, at most [`MAX_SHARES`], in the srvsvc form: RAP's 16-bit type has no
    /// STYPE_SPECIAL bit, so it is set for the administrative names (IPC$, ADMIN$, a drive
    /// letter and `$`) that Windows and Samba create.
    pub list: ShareList,
}

/// The administrative shares a server creates by itself.
fn administrative(name: &str) -> bool {
    let b = name.as_bytes();
    name.eq_ignore_ascii_case("IPC$")
        || name.eq_ignore_ascii_case("ADMIN$")
        || (b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b'$')
}

/// A NUL-terminated OEM string; bytes outside ASCII become U+FFFD (the code page is the
/// server's, which the answer does not name) and control characters are dropped.
fn oem(b: &[u8]) -> String {
    b.iter()
        .take_while(|&&c| c != 0)
        .map(|&c| if c.is_ascii() { c as char } else { '\u{fffd}' })
        .filter(|c| !c.is_control())
        .collect()
}

/// Parses a RAP NetShareEnum answer at level 1 (MS-RAP 2.5.6.2, 2.5.14.2): the parameters
/// (status, converter, entries returned, entries available) and the share_info_1 entries
/// of the data, each name\[13\], pad, type and a remark pointer that, less the converter,
/// is an offset into the data.
pub fn parse_rap_share_enum(params: &[u8], data: &[u8]) -> Result<RapShares, Error> {
    let mut p = Reader::new(params, "RAP NetShareEnum parameters");
    let status = p.u16_le()?;
    let mut out = RapShares {
        status,
        list: ShareList {
            shares: Vec::new(),
            total: 0,
            werror: u32::from(status),
        },
    };
    if status != 0 && status != RAP_MORE_DATA {
        return Ok(out);
    }
    let converter = p.u16_le()?;
    let returned = p.u16_le()?;
    let available = p.u16_le()?;
    out.list.total = u32::from(returned.max(available));
    let mut d = Reader::new(data, "RAP share_info_1");
    for _ in 0..returned {
        let name = oem(d.take(13)?);
        d.skip(1)?;
        let share_type = d.u16_le()?;
        let pointer = d.u32_le()?;
        if out.list.shares.len() == MAX_SHARES {
            continue;
        }
        let remark = if pointer == 0 {
            None
        } else {
            let at = usize::from((pointer & 0xffff) as u16).wrapping_sub(usize::from(converter));
            let mut s = Reader::new(data, "RAP share remark");
            s.seek(at)?;
            Some(oem(s.rest())).filter(|r| !r.is_empty())
        };
        let special = if administrative(&name) {
            0x8000_0000
        } else {
            0
        };
        out.list.shares.push(Share {
            name,
            share_type: u32::from(share_type) | special,
            remark,
        });
    }
    Ok(out)
}

/// Parses the answer to [`find_first_top`]: `Ok(Ok(entries))`, the names other than "."
/// and ".." (STATUS_NO_SUCH_FILE is an empty directory), or `Ok(Err(status))` when the
/// server refused the listing. Only the count is kept, as in [`crate::smb2`].
pub fn parse_find_first(msg: &[u8]) -> Result<Result<u32, u32>, Error> {
    let t = parse_transaction(msg, TRANSACTION2)?;
    if t.status == STATUS_NO_SUCH_FILE {
        return Ok(Ok(0));
    }
    if t.status != 0 {
        return Ok(Err(t.status));
    }
    let mut p = Reader::new(t.params, "FIND_FIRST2 parameters");
    p.skip(2)?; // SID: the search is closed by the server
    let count = p.u16_le()?;
    if count == 0 || t.data.is_empty() {
        return Ok(Ok(0));
    }
    crate::smb2::count_names(t.data, usize::from(count)).map(Ok)
}

/// STATUS_NO_SUCH_FILE: no name matched.
pub const STATUS_NO_SUCH_FILE: u32 = 0xC000_000F;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::message_complete;

    fn ids() -> Ids {
        Ids {
            uid: 0x6465,
            tid: 0x0a0b,
            mid: 9,
        }
    }

    fn le16(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn requests_are_framed_and_addressed() {
        let m = tree_connect(r"\\10.0.0.1\IPC$", ids());
        assert_eq!(message_complete(&m), Ok(Some(m.len())));
        let smb = &m[4..];
        assert_eq!(&smb[..5], b"\xffSMB\x75");
        assert_eq!(le16(smb, 24), 0x0a0b);
        assert_eq!(le16(smb, 28), 0x6465);
        assert_eq!(le16(smb, 30), 9);
        // the empty password byte, then the Unicode path at an even offset
        assert_eq!(smb[43], 0);
        assert_eq!(&smb[44..48], &[b'\\', 0, b'\\', 0]);
        assert!(smb.ends_with(b"?????\0"));
        // not an answer: the parser refuses to take a request for one
        assert!(parse_response(&m).is_err());
        for m in [tree_disconnect(ids()), logoff(ids())] {
            assert_eq!(message_complete(&m), Ok(Some(m.len())));
        }
    }

    #[test]
    fn the_plain_null_session_carries_no_name_and_no_password() {
        let m = null_session_setup(ids());
        assert_eq!(message_complete(&m), Ok(Some(m.len())));
        let smb = &m[4..];
        assert_eq!((smb[4], smb[32]), (SESSION_SETUP_ANDX, 13));
        // FLAGS2: Unicode and NT status, not extended security
        assert_eq!(le16(smb, 10) & 0x8800, 0x8000);
        // OEMPasswordLen and UnicodePasswordLen 0
        assert_eq!((le16(smb, 33 + 14), le16(smb, 33 + 16)), (0, 0));
        // a pad byte, then empty account, domain, NativeOS and NativeLanMan
        assert_eq!(&smb[59..], &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn the_pipe_is_opened_for_pipe_data_only() {
        let m = open_pipe(r"\srvsvc", ids());
        let smb = &m[4..];
        assert_eq!(smb[4], NT_CREATE_ANDX);
        assert_eq!(smb[32], 24);
        let access = u32::from_le_bytes([smb[33 + 15], smb[34 + 15], smb[35 + 15], smb[36 + 15]]);
        assert_eq!(access, 0x0010_0083);
        // FILE_OPEN: never creates
        assert_eq!(&smb[33 + 35..33 + 39], &1u32.to_le_bytes());
        // the name after one pad byte, at an even offset
        assert_eq!(&smb[84..86], &[b'\\', 0]);
        let m = transact_pipe(0x4000, b"pdu", 1024, ids());
        let smb = &m[4..];
        assert_eq!(smb[32], 16); // two setup words
        assert_eq!(le16(smb, 33 + 28), TRANSACT_NMPIPE);
        assert_eq!(le16(smb, 33 + 30), 0x4000);
        let (count, offset) = (
            usize::from(le16(smb, 33 + 22)),
            usize::from(le16(smb, 33 + 24)),
        );
        assert_eq!(&smb[offset..offset + count], b"pdu");
    }

    #[test]
    fn transactions_point_at_their_parameters() {
        let m = rap_share_enum(4096, ids());
        let smb = &m[4..];
        assert_eq!(smb[4], TRANSACTION);
        assert_eq!(smb[32], 14); // no setup words
        let (count, offset) = (
            usize::from(le16(smb, 33 + 18)),
            usize::from(le16(smb, 33 + 20)),
        );
        assert_eq!(offset % 4, 0);
        let params = &smb[offset..offset + count];
        assert_eq!(&params[..2], &[0, 0]); // NetShareEnum
        assert_eq!(&params[2..15], b"WrLeh\0B13BWz\0");
        assert_eq!(le16(params, 15), 1);
        assert_eq!(le16(params, 17), 4096);
        assert_eq!(le16(smb, 33 + 6), 4096); // MaxDataCount
        // the pipe name, Unicode, 2-aligned
        let name: Vec<u8> = r"\PIPE\LANMAN"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(smb.windows(name.len()).any(|w| w == name.as_slice()));

        let m = find_first_top(512, 4096, ids());
        let smb = &m[4..];
        assert_eq!(smb[4], TRANSACTION2);
        assert_eq!(smb[32], 15); // one setup word: FIND_FIRST2
        assert_eq!(le16(smb, 33 + 28), TRANS2_FIND_FIRST2);
        let (count, offset) = (
            usize::from(le16(smb, 33 + 18)),
            usize::from(le16(smb, 33 + 20)),
        );
        assert_eq!(offset % 4, 0);
        let params = &smb[offset..offset + count];
        assert_eq!(le16(params, 2), 512);
        assert_eq!(le16(params, 4), FIND_CLOSE);
        assert_eq!(le16(params, 6), FIND_FILE_NAMES_INFO);
        assert_eq!(&params[12..], &[b'\\', 0, b'*', 0, 0, 0]);
    }

    #[test]
    fn rap_entries_are_checked_against_the_data() {
        // one entry whose remark pointer, less the converter, lies past the data
        let mut data = b"SHARE\0\0\0\0\0\0\0\0\0".to_vec();
        data.extend_from_slice(&0u16.to_le_bytes());
        data.extend_from_slice(&0x0100_0050u32.to_le_bytes());
        let params = [0, 0, 0x10, 0, 1, 0, 1, 0];
        assert!(matches!(
            parse_rap_share_enum(&params, &data),
            Err(Error::Truncated { .. })
        ));
        // within: 0x24 - 0x10 = 20, right after the entry
        data[16..20].copy_from_slice(&0x24u32.to_le_bytes());
        data.extend_from_slice(b"r\xe9mark\0");
        let r = parse_rap_share_enum(&params, &data).unwrap();
        assert_eq!(r.list.shares[0].name, "SHARE");
        assert_eq!(r.list.shares[0].remark.as_deref(), Some("r\u{fffd}mark"));
        assert!(!r.list.shares[0].is_special());
        // more entries announced than sent
        assert!(parse_rap_share_enum(&[0, 0, 0, 0, 2, 0, 2, 0], &data).is_err());
        // a refusal: the Windows error code, no entries read
        let r = parse_rap_share_enum(&[5, 0], &[]).unwrap();
        assert_eq!((r.status, r.list.werror, r.list.shares.len()), (5, 5, 0));
        assert!(administrative("C$") && administrative("ipc$") && !administrative("data$"));
    }
}

/// Recorded Samba answers (fixtures/smb/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::smb::message_complete;

    macro_rules! fx {
        ($name:literal) => {{
            let b: &[u8] = include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/smb/samba-nt1-smb1-",
                $name,
                ".bin"
            ));
            assert_eq!(message_complete(b), Ok(Some(b.len())));
            b
        }};
    }

    #[test]
    fn plain_null_session_on_an_smb1_only_samba() {
        // negotiated without extended security, as an older stack does
        let n = crate::smb::parse_smb1_negotiate(fx!("negotiate-plain")).unwrap();
        assert!(n.accepted && !n.extended_security);
        assert_eq!(n.max_buffer_size, 16644);
        let s = crate::smb::parse_smb1_session_setup(fx!("session-setup-null")).unwrap();
        assert_eq!(s.status, 0);
        assert!(s.blob.is_empty());
        assert_eq!(s.native_os.as_deref(), Some("Windows 6.1"));
        assert_eq!(s.native_lanman.as_deref(), Some("Samba 4.17.12-Debian"));
        let r = parse_response(fx!("session-setup-null")).unwrap();
        assert_eq!((r.words.len(), r.mid), (6, 1));
        assert_ne!(r.uid, 0);
    }

    #[test]
    fn anonymous_listing_of_an_smb1_only_samba() {
        let s = crate::smb::parse_smb1_session_setup(fx!("session-setup-anonymous")).unwrap();
        assert_eq!(s.status, 0);
        assert_eq!(s.native_lanman.as_deref(), Some("Samba 4.17.12-Debian"));
        let r = parse_response(fx!("session-setup-anonymous")).unwrap();
        assert_eq!((r.command, r.mid), (SESSION_SETUP_ANDX, 2));

        let (status, tid) = parse_status(fx!("tree-connect-ipc"), TREE_CONNECT_ANDX).unwrap();
        assert_eq!(status, 0);
        assert_ne!(tid, 0);

        // srvsvc over SMB1: the pipe, the BIND and NetShareEnumAll, each a TransactNmPipe
        let fid = parse_open(fx!("open-srvsvc")).unwrap().unwrap();
        assert_ne!(fid, 0);
        let ack = parse_transaction(fx!("transact-bind-ack"), TRANSACTION).unwrap();
        assert_eq!(ack.status, 0);
        crate::srvsvc::parse_bind_ack(ack.data).unwrap();
        let t = parse_transaction(fx!("transact-share-enum"), TRANSACTION).unwrap();
        let f = crate::srvsvc::parse_response(t.data).unwrap();
        assert!(f.last);
        let list = crate::srvsvc::parse_share_enum(f.stub).unwrap();
        let names: Vec<_> = list.shares.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["pub", "guest", "emr-export-2026", "IPC$"]);
        assert_eq!((list.total, list.werror), (4, 0));

        // RAP: the same server leaves out the name longer than 12 characters
        let t = parse_transaction(fx!("rap-share-enum"), TRANSACTION).unwrap();
        assert_eq!(t.status, 0);
        let r = parse_rap_share_enum(t.params, t.data).unwrap();
        assert_eq!(r.status, 0);
        assert_eq!(r.list.total, 3);
        let shares: Vec<_> = r
            .list
            .shares
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.kind(),
                    s.is_special(),
                    s.remark.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            shares,
            [
                ("pub", "disk".to_string(), false, None),
                ("guest", "disk".to_string(), false, Some("guest files")),
                (
                    "IPC$",
                    "ipc".to_string(),
                    true,
                    Some("IPC Service (csr lab)")
                ),
            ]
        );

        let (status, tid) = parse_status(fx!("tree-connect-guest"), TREE_CONNECT_ANDX).unwrap();
        assert_eq!(status, 0);
        assert_ne!(tid, 0);
        // ".", ".." and three files; Samba points the last entry's NextEntryOffset at the
        // end of the data, so the count of entries bounds the walk
        assert_eq!(parse_find_first(fx!("find-first-guest")), Ok(Ok(3)));
        assert_eq!(
            parse_find_first(fx!("find-first-emr-export-2026")),
            Ok(Ok(3))
        );

        // [pub] is not guest ok: refused at the tree connect, an access check
        let (status, _) = parse_status(fx!("tree-connect-pub"), TREE_CONNECT_ANDX).unwrap();
        assert_eq!(status, crate::smb2::STATUS_ACCESS_DENIED);
        assert_eq!(
            parse_transaction(fx!("tree-connect-pub"), TRANSACTION),
            Err(Error::unexpected("SMB1 command", "0x75"))
        );
        // a cut answer is an error, not a short listing
        let whole = fx!("find-first-guest");
        let mut cut = whole[..whole.len() - 6].to_vec();
        cut[3] -= 6;
        assert!(parse_find_first(&cut).is_err());
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    fn check(b: &[u8]) {
        let _ = super::parse_response(b);
        let _ = super::parse_status(b, super::TREE_CONNECT_ANDX);
        let _ = super::parse_open(b);
        let _ = super::parse_find_first(b);
        if let Ok(t) = super::parse_transaction(b, super::TRANSACTION) {
            let _ = super::parse_rap_share_enum(t.params, t.data);
        }
        let _ = super::parse_rap_share_enum(b, b);
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            check(&b);
        }

        #[test]
        fn smb1_answers(cmd in prop::sample::select(vec![0x25u8, 0x32, 0x75, 0xa2]), wc in 0u8..20, b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut m = vec![0, 0, 1, 0, 0xff, b'S', b'M', b'B', cmd];
            m.extend_from_slice(&[0; 4]);
            m.push(0x88);
            m.extend_from_slice(&[0; 22]);
            m.push(wc);
            m.extend_from_slice(&b);
            check(&m);
        }
    }
}
