//! The SMB2/3 messages of an anonymous share listing (MS-SMB2 2.2): SESSION_SETUP legs on a
//! session, TREE_CONNECT, CREATE of a named pipe or of a share's root directory, IOCTL
//! FSCTL_PIPE_TRANSCEIVE and READ on the pipe, QUERY_DIRECTORY, CLOSE, TREE_DISCONNECT and
//! LOGOFF: encoders for what clinicscan sends, parsers of what the server answers.
//!
//! What can be opened is fixed here, not by the caller: a named pipe on IPC$ (the DCE/RPC
//! transport, read and write of pipe data), and a share's root *as a directory* with
//! FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE — never a file's data, never a
//! write, delete or ownership right. There is no encoder for anything else.
//!
//! Hand-written for the reason `smb` gives: the SMB crates on crates.io (smb, pavao,
//! smb2) are whole clients with their own sockets and authenticate with a user name; none
//! makes a null session or exposes a parser of one response.

use crate::smb::{not_smb, session_message};
use crate::{Error, Reader};

/// SESSION_SETUP.
pub const SESSION_SETUP: u16 = 0x01;
/// LOGOFF.
pub const LOGOFF: u16 = 0x02;
/// TREE_CONNECT.
pub const TREE_CONNECT: u16 = 0x03;
/// TREE_DISCONNECT.
pub const TREE_DISCONNECT: u16 = 0x04;
/// CREATE.
pub const CREATE: u16 = 0x05;
/// CLOSE.
pub const CLOSE: u16 = 0x06;
/// READ.
pub const READ: u16 = 0x08;
/// IOCTL.
pub const IOCTL: u16 = 0x0b;
/// QUERY_DIRECTORY.
pub const QUERY_DIRECTORY: u16 = 0x0e;

/// STATUS_SUCCESS.
pub const STATUS_SUCCESS: u32 = 0;
/// STATUS_PENDING: an interim answer; the real one follows.
pub const STATUS_PENDING: u32 = 0x0000_0103;
/// STATUS_BUFFER_OVERFLOW: the answer holds part of the data, more can be read.
pub const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
/// STATUS_NO_MORE_FILES: an empty directory listing.
pub const STATUS_NO_MORE_FILES: u32 = 0x8000_0006;
/// STATUS_MORE_PROCESSING_REQUIRED.
pub const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xC000_0016;
/// STATUS_ACCESS_DENIED.
pub const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;

/// SMB2_SESSION_FLAG_IS_GUEST.
pub const SESSION_FLAG_IS_GUEST: u16 = 0x0001;
/// SMB2_SESSION_FLAG_IS_NULL: the server made an anonymous session.
pub const SESSION_FLAG_IS_NULL: u16 = 0x0002;
/// SMB2_SESSION_FLAG_ENCRYPT_DATA.
pub const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x0004;

/// SMB2_FLAGS_ASYNC_COMMAND.
const FLAG_ASYNC: u32 = 0x0000_0002;
/// SMB2_FLAGS_SIGNED.
pub const FLAG_SIGNED: u32 = 0x0000_0008;

/// Credits asked for with every request: enough that a share listing never waits for one.
const CREDITS_REQUESTED: u16 = 32;

/// The NT status names a share listing meets, for reasons a reader can follow.
pub fn status_name(status: u32) -> String {
    let name = match status {
        0 => "STATUS_SUCCESS",
        STATUS_PENDING => "STATUS_PENDING",
        STATUS_BUFFER_OVERFLOW => "STATUS_BUFFER_OVERFLOW",
        STATUS_NO_MORE_FILES => "STATUS_NO_MORE_FILES",
        STATUS_MORE_PROCESSING_REQUIRED => "STATUS_MORE_PROCESSING_REQUIRED",
        STATUS_ACCESS_DENIED => "STATUS_ACCESS_DENIED",
        0xC000_000D => "STATUS_INVALID_PARAMETER",
        0xC000_000F => "STATUS_NO_SUCH_FILE",
        0xC000_0034 => "STATUS_OBJECT_NAME_NOT_FOUND",
        0xC000_006D => "STATUS_LOGON_FAILURE",
        0xC000_006E => "STATUS_ACCOUNT_RESTRICTION",
        0xC000_00BB => "STATUS_NOT_SUPPORTED",
        0xC000_00CC => "STATUS_BAD_NETWORK_NAME",
        0xC000_0064 => "STATUS_NO_SUCH_USER",
        0xC000_0203 => "STATUS_USER_SESSION_DELETED",
        _ => return format!("NT status {status:#010x}"),
    };
    name.to_string()
}

/// Where a request goes: its message id, session and tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    /// MessageId (one per request, in order).
    pub message_id: u64,
    /// SessionId the server assigned (0 before the first SESSION_SETUP answer).
    pub session_id: u64,
    /// TreeId of the connected share (0 outside a tree).
    pub tree_id: u32,
}

/// A server-assigned handle of an open pipe or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(pub [u8; 16]);

fn request(command: u16, ids: Ids, body: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(64 + body.len());
    h.extend_from_slice(&[0xfe, b'S', b'M', b'B']);
    h.extend_from_slice(&64u16.to_le_bytes());
    // CreditCharge 0: reserved in 2.0.2, read as 1 by later dialects (MS-SMB2 3.3.5.2.5);
    // every request here carries at most one credit's worth (64 KiB).
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&command.to_le_bytes());
    h.extend_from_slice(&CREDITS_REQUESTED.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // flags: not signed (no session key)
    h.extend_from_slice(&0u32.to_le_bytes()); // next command
    h.extend_from_slice(&ids.message_id.to_le_bytes());
    h.extend_from_slice(&0xfeffu32.to_le_bytes()); // process id
    h.extend_from_slice(&ids.tree_id.to_le_bytes());
    h.extend_from_slice(&ids.session_id.to_le_bytes());
    h.extend_from_slice(&[0; 16]);
    h.extend_from_slice(body);
    session_message(&h)
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// SESSION_SETUP carrying `blob` on the session of `ids` (MS-SMB2 2.2.5).
pub fn session_setup(blob: &[u8], ids: Ids) -> Vec<u8> {
    let mut b = Vec::with_capacity(24 + blob.len());
    b.extend_from_slice(&25u16.to_le_bytes());
    b.push(0); // flags
    b.push(1); // SecurityMode: signing enabled (as every client says; nothing is signed)
    b.extend_from_slice(&0u32.to_le_bytes()); // capabilities
    b.extend_from_slice(&0u32.to_le_bytes()); // channel
    b.extend_from_slice(&88u16.to_le_bytes()); // security buffer offset: 64 + 24
    b.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes()); // previous session id
    b.extend_from_slice(blob);
    request(SESSION_SETUP, ids, &b)
}

/// TREE_CONNECT to `path`, `\\server\share` (MS-SMB2 2.2.9).
pub fn tree_connect(path: &str, ids: Ids) -> Vec<u8> {
    let p = utf16le(path);
    let mut b = Vec::with_capacity(8 + p.len());
    b.extend_from_slice(&9u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes()); // flags
    b.extend_from_slice(&72u16.to_le_bytes()); // path offset: 64 + 8
    b.extend_from_slice(&(p.len() as u16).to_le_bytes());
    b.extend_from_slice(&p);
    request(TREE_CONNECT, ids, &b)
}

/// FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE: reading and
/// writing a named pipe's data is how DCE/RPC travels over it.
const PIPE_ACCESS: u32 = 0x0000_0001 | 0x0000_0002 | 0x0000_0080 | 0x0010_0000;
/// FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE: list a directory, nothing more.
const DIRECTORY_ACCESS: u32 = 0x0000_0001 | 0x0000_0080 | 0x0010_0000;
/// FILE_DIRECTORY_FILE: the open fails unless the name is a directory.
const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
/// FILE_NON_DIRECTORY_FILE.
const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;

fn create(name: &str, access: u32, share_access: u32, options: u32, ids: Ids) -> Vec<u8> {
    let n = utf16le(name);
    let mut b = Vec::with_capacity(57 + n.len());
    b.extend_from_slice(&57u16.to_le_bytes());
    b.push(0); // security flags
    b.push(0); // oplock: none
    b.extend_from_slice(&2u32.to_le_bytes()); // impersonation
    b.extend_from_slice(&0u64.to_le_bytes()); // SmbCreateFlags
    b.extend_from_slice(&0u64.to_le_bytes()); // reserved
    b.extend_from_slice(&access.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // file attributes
    b.extend_from_slice(&share_access.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // FILE_OPEN: never create
    b.extend_from_slice(&options.to_le_bytes());
    b.extend_from_slice(&120u16.to_le_bytes()); // name offset: 64 + 56
    b.extend_from_slice(&(n.len() as u16).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // no create contexts
    b.extend_from_slice(&0u32.to_le_bytes());
    if n.is_empty() {
        b.push(0); // the buffer holds at least one byte
    } else {
        b.extend_from_slice(&n);
    }
    request(CREATE, ids, &b)
}

/// CREATE opening the named pipe `name` ("srvsvc") on IPC$.
pub fn open_pipe(name: &str, ids: Ids) -> Vec<u8> {
    create(name, PIPE_ACCESS, 0x3, FILE_NON_DIRECTORY_FILE, ids)
}

/// CREATE opening the connected share's root as a directory, to list it and nothing else.
/// Others may keep reading, writing and deleting (share access 7): the open must not get in
/// the way of the clinic's own use of the share.
pub fn open_share_root(ids: Ids) -> Vec<u8> {
    create("", DIRECTORY_ACCESS, 0x7, FILE_DIRECTORY_FILE, ids)
}

/// FSCTL_PIPE_TRANSCEIVE: write `input` to the pipe and read its answer.
const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;

/// IOCTL FSCTL_PIPE_TRANSCEIVE on `file` carrying `input` (MS-SMB2 2.2.31), with at most
/// `max_output` bytes back.
pub fn pipe_transceive(file: FileId, input: &[u8], max_output: u32, ids: Ids) -> Vec<u8> {
    let mut b = Vec::with_capacity(56 + input.len());
    b.extend_from_slice(&57u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&FSCTL_PIPE_TRANSCEIVE.to_le_bytes());
    b.extend_from_slice(&file.0);
    b.extend_from_slice(&120u32.to_le_bytes()); // input offset: 64 + 56
    b.extend_from_slice(&(input.len() as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // max input response
    b.extend_from_slice(&0u32.to_le_bytes()); // output offset
    b.extend_from_slice(&0u32.to_le_bytes()); // output count
    b.extend_from_slice(&max_output.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // SMB2_0_IOCTL_IS_FSCTL
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(input);
    request(IOCTL, ids, &b)
}

/// READ of at most `length` bytes from the pipe `file` (MS-SMB2 2.2.19): the rest of a
/// DCE/RPC answer longer than one transceive.
pub fn read_pipe(file: FileId, length: u32, ids: Ids) -> Vec<u8> {
    let mut b = Vec::with_capacity(49);
    b.extend_from_slice(&49u16.to_le_bytes());
    b.push(0x50); // padding: data right after the 80-byte header and body
    b.push(0); // flags
    b.extend_from_slice(&length.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes()); // offset
    b.extend_from_slice(&file.0);
    b.extend_from_slice(&0u32.to_le_bytes()); // minimum count
    b.extend_from_slice(&0u32.to_le_bytes()); // channel
    b.extend_from_slice(&0u32.to_le_bytes()); // remaining
    b.extend_from_slice(&0u16.to_le_bytes()); // channel info offset
    b.extend_from_slice(&0u16.to_le_bytes()); // channel info length
    b.push(0);
    request(READ, ids, &b)
}

/// FileNamesInformation: the shortest entry that still counts the names.
const FILE_NAMES_INFORMATION: u8 = 0x0c;

/// QUERY_DIRECTORY of `file` for "*" with FileNamesInformation, from the start, at most
/// `max_output` bytes of entries (MS-SMB2 2.2.33).
pub fn query_directory(file: FileId, max_output: u32, ids: Ids) -> Vec<u8> {
    let pattern = utf16le("*");
    let mut b = Vec::with_capacity(32 + pattern.len());
    b.extend_from_slice(&33u16.to_le_bytes());
    b.push(FILE_NAMES_INFORMATION);
    b.push(0x01); // SMB2_RESTART_SCANS
    b.extend_from_slice(&0u32.to_le_bytes()); // file index
    b.extend_from_slice(&file.0);
    b.extend_from_slice(&96u16.to_le_bytes()); // name offset: 64 + 32
    b.extend_from_slice(&(pattern.len() as u16).to_le_bytes());
    b.extend_from_slice(&max_output.to_le_bytes());
    b.extend_from_slice(&pattern);
    request(QUERY_DIRECTORY, ids, &b)
}

/// CLOSE of `file` (MS-SMB2 2.2.15).
pub fn close(file: FileId, ids: Ids) -> Vec<u8> {
    let mut b = Vec::with_capacity(24);
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&file.0);
    request(CLOSE, ids, &b)
}

/// TREE_DISCONNECT of the tree in `ids` (MS-SMB2 2.2.11).
pub fn tree_disconnect(ids: Ids) -> Vec<u8> {
    request(TREE_DISCONNECT, ids, &[4, 0, 0, 0])
}

/// LOGOFF of the session in `ids` (MS-SMB2 2.2.7).
pub fn logoff(ids: Ids) -> Vec<u8> {
    request(LOGOFF, ids, &[4, 0, 0, 0])
}

/// The header of an SMB2 answer and the message it heads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// The command answered.
    pub command: u16,
    /// NT status.
    pub status: u32,
    /// Header flags (ASYNC, SIGNED, ...).
    pub flags: u32,
    /// MessageId of the request answered.
    pub message_id: u64,
    /// SessionId.
    pub session_id: u64,
    /// TreeId (0 in an async answer, which carries an AsyncId there instead).
    pub tree_id: u32,
    /// The whole SMB2 message from its header on: the offsets in bodies count from here.
    pub smb: &'a [u8],
}

impl Response<'_> {
    /// An interim STATUS_PENDING answer: the real one follows on the same message id.
    pub fn is_interim(&self) -> bool {
        self.status == STATUS_PENDING && self.flags & FLAG_ASYNC != 0
    }
}

/// Parses the SMB2 header of a NetBIOS session message framed by
/// [`crate::smb::message_complete`].
pub fn parse_response(msg: &[u8]) -> Result<Response<'_>, Error> {
    let mut r = Reader::new(msg, "NetBIOS session message");
    r.skip(4)?;
    let smb = r.rest();
    let mut h = Reader::new(smb, "SMB2 header");
    if h.take(4).ok() != Some(&[0xfe, b'S', b'M', b'B'][..]) {
        return Err(not_smb());
    }
    let mut h = Reader::new(smb, "SMB2 header").sub(64, "SMB2 header")?;
    h.seek(8)?;
    let status = h.u32_le()?;
    let command = h.u16_le()?;
    h.skip(2)?; // credits granted
    let flags = h.u32_le()?;
    if flags & 0x1 == 0 {
        return Err(Error::invalid("an SMB2 request where an answer was due"));
    }
    h.skip(4)?; // next command: compounds are never asked for
    let message_id = u64::from(h.u32_le()?) | u64::from(h.u32_le()?) << 32;
    h.skip(4)?; // process id (sync) / AsyncId low (async)
    let tree_id = if flags & FLAG_ASYNC != 0 {
        h.skip(4)?;
        0
    } else {
        h.u32_le()?
    };
    let session_id = u64::from(h.u32_le()?) | u64::from(h.u32_le()?) << 32;
    Ok(Response {
        command,
        status,
        flags,
        message_id,
        session_id,
        tree_id,
        smb,
    })
}

/// The body of `r` after checking it answers `command`. An error answer (MS-SMB2 2.2.2,
/// StructureSize 9) has no body worth reading: `None`.
fn body<'a>(
    r: &Response<'a>,
    command: u16,
    what: &'static str,
    size: u16,
) -> Result<Option<Reader<'a>>, Error> {
    if r.command != command {
        return Err(Error::unexpected(
            "SMB2 command",
            format_args!("{:#x}", r.command),
        ));
    }
    let mut b = Reader::new(r.smb, what);
    b.seek(64)?;
    let s = b.u16_le()?;
    if s == size {
        return Ok(Some(b));
    }
    if s == 9 && r.status != STATUS_SUCCESS {
        return Ok(None);
    }
    Err(Error::unexpected(what, format_args!("structure size {s}")))
}

/// The bytes at `offset` (from the SMB2 header) of `len`, checked to lie in the message.
fn buffer<'a>(
    smb: &'a [u8],
    offset: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Error> {
    let mut r = Reader::new(smb, what);
    r.seek(offset)?;
    r.take(len)
}

/// A SESSION_SETUP answer: the session, its flags and the security blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetup {
    /// NT status.
    pub status: u32,
    /// SessionId the server assigned.
    pub session_id: u64,
    /// SessionFlags: IS_GUEST, IS_NULL, ENCRYPT_DATA.
    pub session_flags: u16,
    /// The security blob.
    pub blob: Vec<u8>,
}

/// Parses a SESSION_SETUP answer.
pub fn parse_session_setup(msg: &[u8]) -> Result<SessionSetup, Error> {
    let r = parse_response(msg)?;
    let mut out = SessionSetup {
        status: r.status,
        session_id: r.session_id,
        session_flags: 0,
        blob: Vec::new(),
    };
    let Some(mut b) = body(&r, SESSION_SETUP, "SMB2 SESSION_SETUP response", 9)? else {
        return Ok(out);
    };
    out.session_flags = b.u16_le()?;
    let off = usize::from(b.u16_le()?);
    let len = usize::from(b.u16_le()?);
    if len > 0 {
        out.blob = buffer(r.smb, off, len, "SMB2 security buffer")?.to_vec();
    }
    Ok(out)
}

/// A TREE_CONNECT answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnect {
    /// NT status.
    pub status: u32,
    /// TreeId of the share (when connected).
    pub tree_id: u32,
    /// ShareType: 1 disk, 2 pipe, 3 print.
    pub share_type: u8,
    /// MaximalAccess the session has on the share.
    pub maximal_access: u32,
}

/// Parses a TREE_CONNECT answer.
pub fn parse_tree_connect(msg: &[u8]) -> Result<TreeConnect, Error> {
    let r = parse_response(msg)?;
    let mut out = TreeConnect {
        status: r.status,
        tree_id: r.tree_id,
        share_type: 0,
        maximal_access: 0,
    };
    let Some(mut b) = body(&r, TREE_CONNECT, "SMB2 TREE_CONNECT response", 16)? else {
        return Ok(out);
    };
    out.share_type = b.u8()?;
    b.skip(1 + 4 + 4)?; // reserved, share flags, capabilities
    out.maximal_access = b.u32_le()?;
    Ok(out)
}

/// Parses a CREATE answer: the handle, or the status that refused it.
pub fn parse_create(msg: &[u8]) -> Result<Result<FileId, u32>, Error> {
    let r = parse_response(msg)?;
    let Some(mut b) = body(&r, CREATE, "SMB2 CREATE response", 89)? else {
        return Ok(Err(r.status));
    };
    if r.status != STATUS_SUCCESS {
        return Ok(Err(r.status));
    }
    b.seek(64 + 64)?;
    Ok(Ok(FileId(b.array()?)))
}

/// Parses an IOCTL (or READ) answer carrying pipe data: its status and the data.
pub fn parse_pipe_data(msg: &[u8]) -> Result<(u32, &[u8]), Error> {
    let r = parse_response(msg)?;
    match r.command {
        IOCTL => {
            let Some(mut b) = body(&r, IOCTL, "SMB2 IOCTL response", 49)? else {
                return Ok((r.status, &[]));
            };
            b.skip(2 + 4 + 16 + 4 + 4)?; // reserved, ctl code, file id, input offset/count
            let off = usize::try_from(b.u32_le()?).unwrap_or(usize::MAX);
            let len = usize::try_from(b.u32_le()?).unwrap_or(usize::MAX);
            Ok((r.status, buffer(r.smb, off, len, "SMB2 IOCTL output")?))
        }
        _ => {
            let Some(mut b) = body(&r, READ, "SMB2 READ response", 17)? else {
                return Ok((r.status, &[]));
            };
            let off = usize::from(b.u8()?);
            b.skip(1)?;
            let len = usize::try_from(b.u32_le()?).unwrap_or(usize::MAX);
            Ok((r.status, buffer(r.smb, off, len, "SMB2 READ data")?))
        }
    }
}

/// What one QUERY_DIRECTORY answer showed of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    /// Entries in the answer other than "." and "..".
    pub entries: u32,
}

/// Parses a QUERY_DIRECTORY answer of FileNamesInformation entries (MS-FSCC 2.4.28):
/// `Ok(Ok(listing))` when the directory could be listed (STATUS_NO_MORE_FILES is an empty
/// one), `Ok(Err(status))` when the server refused. Only the count is kept: the names of
/// files on a clinic's share (an EMR export, a scanned referral) can be patient data.
pub fn parse_query_directory(msg: &[u8]) -> Result<Result<Listing, u32>, Error> {
    let r = parse_response(msg)?;
    if r.status == STATUS_NO_MORE_FILES {
        return Ok(Ok(Listing { entries: 0 }));
    }
    let Some(mut b) = body(&r, QUERY_DIRECTORY, "SMB2 QUERY_DIRECTORY response", 9)? else {
        return Ok(Err(r.status));
    };
    if r.status != STATUS_SUCCESS {
        return Ok(Err(r.status));
    }
    let off = usize::from(b.u16_le()?);
    let len = usize::try_from(b.u32_le()?).unwrap_or(usize::MAX);
    let data = buffer(r.smb, off, len, "SMB2 directory entries")?;
    Ok(Ok(Listing {
        entries: count_names(data, usize::MAX)?,
    }))
}

/// The entries other than "." and ".." in a chain of at most `limit` FileNamesInformation
/// entries (MS-FSCC 2.4.28; SMB1's SMB_FIND_FILE_NAMES_INFO has the same layout, but Samba
/// gives its last entry a NextEntryOffset to the end of the data, so SMB1 passes the
/// SearchCount as the limit). Names are read only to be compared with "." and "..", never
/// kept.
pub(crate) fn count_names(data: &[u8], limit: usize) -> Result<u32, Error> {
    let mut entries = 0u32;
    let mut at = 0usize;
    for _ in 0..limit {
        let mut e = Reader::new(data, "FileNamesInformation entry");
        e.seek(at)?;
        let next = usize::try_from(e.u32_le()?).unwrap_or(usize::MAX);
        e.skip(4)?; // file index
        let name_len = usize::try_from(e.u32_le()?).unwrap_or(usize::MAX);
        let name = e.take(name_len)?;
        if name != [b'.', 0] && name != [b'.', 0, b'.', 0] {
            entries = entries.saturating_add(1);
        }
        if next == 0 {
            break;
        }
        // each entry starts after the previous one's fixed part: the walk always advances
        if next < 12 {
            return Err(Error::bad_length(
                "FileNamesInformation NextEntryOffset",
                next as u64,
            ));
        }
        at = at.checked_add(next).ok_or_else(|| {
            Error::bad_length("FileNamesInformation NextEntryOffset", next as u64)
        })?;
    }
    Ok(entries)
}

/// The status of an answer to `command` (CLOSE, TREE_DISCONNECT, LOGOFF).
pub fn parse_status(msg: &[u8], command: u16) -> Result<u32, Error> {
    let r = parse_response(msg)?;
    if r.command != command {
        return Err(Error::unexpected(
            "SMB2 command",
            format_args!("{:#x}", r.command),
        ));
    }
    Ok(r.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `command` with `status` and `body`, as a server frames it.
    pub(crate) fn answer(command: u16, status: u32, ids: Ids, body: &[u8]) -> Vec<u8> {
        let mut m = request(command, ids, body);
        m[4 + 8..4 + 12].copy_from_slice(&status.to_le_bytes());
        m[4 + 16] = 1; // SMB2_FLAGS_SERVER_TO_REDIR
        m
    }

    fn ids() -> Ids {
        Ids {
            message_id: 7,
            session_id: 0x1122_3344_5566_7788,
            tree_id: 5,
        }
    }

    #[test]
    fn requests_are_framed_and_addressed() {
        let m = tree_connect(r"\\10.0.0.1\IPC$", ids());
        assert_eq!(crate::smb::message_complete(&m), Ok(Some(m.len())));
        let smb = &m[4..];
        assert_eq!(&smb[..4], b"\xfeSMB");
        assert_eq!(u16::from_le_bytes([smb[12], smb[13]]), TREE_CONNECT);
        assert_eq!(smb[24], 7);
        assert_eq!(u32::from_le_bytes([smb[36], smb[37], smb[38], smb[39]]), 5);
        assert_eq!(&smb[40..48], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&smb[72..74], &[b'\\', 0]);
        // not a response: the parser refuses to take a request for one
        assert!(parse_response(&m).is_err());
    }

    #[test]
    fn the_share_root_is_opened_to_list_only() {
        let m = open_share_root(ids());
        let body = &m[4 + 64..];
        let access = u32::from_le_bytes([body[24], body[25], body[26], body[27]]);
        assert_eq!(access, 0x0010_0081);
        // no FILE_WRITE_DATA, APPEND, WRITE_EA/ATTRIBUTES, DELETE, WRITE_DAC, WRITE_OWNER,
        // GENERIC_WRITE/ALL, MAXIMUM_ALLOWED
        assert_eq!(access & 0xf20f_0116, 0);
        let disposition = u32::from_le_bytes([body[36], body[37], body[38], body[39]]);
        assert_eq!(disposition, 1, "FILE_OPEN");
        let options = u32::from_le_bytes([body[40], body[41], body[42], body[43]]);
        assert_eq!(options, FILE_DIRECTORY_FILE);
        assert_eq!(
            u16::from_le_bytes([body[46], body[47]]),
            0,
            "the root: no name"
        );
    }

    #[test]
    fn parses_session_tree_create_and_listing() {
        let mut b = vec![9, 0, 2, 0, 72, 0, 2, 0, 0xa1, 0];
        b.truncate(10);
        let s = parse_session_setup(&answer(SESSION_SETUP, 0, ids(), &b)).unwrap();
        assert_eq!(s.session_flags, SESSION_FLAG_IS_NULL);
        assert_eq!(s.session_id, ids().session_id);
        assert_eq!(s.blob, [0xa1, 0]);

        let mut b = vec![16, 0, 1, 0];
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&0x0012_0089u32.to_le_bytes());
        let t = parse_tree_connect(&answer(TREE_CONNECT, 0, ids(), &b)).unwrap();
        assert_eq!(
            (t.tree_id, t.share_type, t.maximal_access),
            (5, 1, 0x0012_0089)
        );
        let denied = [9u8, 0, 0, 0, 0, 0, 0, 0, 0];
        let t = parse_tree_connect(&answer(TREE_CONNECT, STATUS_ACCESS_DENIED, ids(), &denied))
            .unwrap();
        assert_eq!(t.status, STATUS_ACCESS_DENIED);

        let mut b = vec![89, 0];
        b.resize(64, 0);
        b.extend_from_slice(&[0xab; 16]);
        b.resize(88, 0);
        assert_eq!(
            parse_create(&answer(CREATE, 0, ids(), &b)).unwrap(),
            Ok(FileId([0xab; 16]))
        );
        assert_eq!(
            parse_create(&answer(CREATE, STATUS_ACCESS_DENIED, ids(), &denied)).unwrap(),
            Err(STATUS_ACCESS_DENIED)
        );

        // ".", "..", "a.txt": two entries of 12 + name bytes, 8-aligned
        let mut entries = Vec::new();
        for (name, last) in [(".", false), ("..", false), ("a.txt", true)] {
            let n = utf16le(name);
            let size = (12 + n.len()).next_multiple_of(8);
            let next = if last { 0 } else { size as u32 };
            entries.extend_from_slice(&next.to_le_bytes());
            entries.extend_from_slice(&0u32.to_le_bytes());
            entries.extend_from_slice(&(n.len() as u32).to_le_bytes());
            entries.extend_from_slice(&n);
            if !last {
                entries.resize(entries.len().next_multiple_of(8), 0);
            }
        }
        let mut b = vec![9, 0, 72, 0];
        b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        b.extend_from_slice(&entries);
        let l = parse_query_directory(&answer(QUERY_DIRECTORY, 0, ids(), &b)).unwrap();
        assert_eq!(l, Ok(Listing { entries: 1 }));
        // an entry pointing back into itself
        let mut looped = b.clone();
        looped[8..12].copy_from_slice(&4u32.to_le_bytes());
        assert!(parse_query_directory(&answer(QUERY_DIRECTORY, 0, ids(), &looped)).is_err());
        // a length past the end
        let mut long = b.clone();
        long[4..8].copy_from_slice(&0xffffu32.to_le_bytes());
        assert!(matches!(
            parse_query_directory(&answer(QUERY_DIRECTORY, 0, ids(), &long)),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(
            parse_query_directory(&answer(
                QUERY_DIRECTORY,
                STATUS_NO_MORE_FILES,
                ids(),
                &denied
            ))
            .unwrap(),
            Ok(Listing { entries: 0 })
        );
    }

    #[test]
    fn interim_answers_are_told_apart() {
        let mut m = answer(IOCTL, STATUS_PENDING, ids(), &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        m[4 + 16] |= 0x02;
        let r = parse_response(&m).unwrap();
        assert!(r.is_interim());
        assert_eq!(r.tree_id, 0);
        assert_eq!(status_name(STATUS_ACCESS_DENIED), "STATUS_ACCESS_DENIED");
        assert_eq!(status_name(0xC000_1234), "NT status 0xc0001234");
    }
}

/// Recorded answers of Samba 4.17.12 to an anonymous share listing (fixtures/smb/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::srvsvc;

    macro_rules! fx {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/smb/",
                $name
            ))
        };
    }

    #[test]
    fn samba_anonymous_share_listing() {
        let s = parse_session_setup(fx!("samba-smb1-smb2-session-setup-anonymous.bin")).unwrap();
        assert_eq!(s.status, STATUS_SUCCESS);
        // Samba 4.17 sets neither IS_GUEST nor IS_NULL for the null session it accepted: the
        // probe judges by what the session can do, not by these flags
        assert_eq!(s.session_flags, 0);
        let t = parse_tree_connect(fx!("samba-smb1-smb2-tree-connect-ipc.bin")).unwrap();
        assert_eq!((t.status, t.share_type), (STATUS_SUCCESS, 2));
        assert!(
            parse_create(fx!("samba-smb1-smb2-create-srvsvc.bin"))
                .unwrap()
                .is_ok()
        );

        let (status, ack) = parse_pipe_data(fx!("samba-smb1-smb2-ioctl-bind-ack.bin")).unwrap();
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(srvsvc::pdu_complete(ack), Ok(Some(ack.len())));
        srvsvc::parse_bind_ack(ack).unwrap();
        let (status, pdu) = parse_pipe_data(fx!("samba-smb1-smb2-ioctl-share-enum.bin")).unwrap();
        assert_eq!(status, STATUS_SUCCESS);
        let f = srvsvc::parse_response(pdu).unwrap();
        assert!(f.last);
        let list = srvsvc::parse_share_enum(f.stub).unwrap();
        assert_eq!((list.total, list.werror), (3, 0));
        let names: Vec<(&str, String, Option<&str>)> = list
            .shares
            .iter()
            .map(|s| (s.name.as_str(), s.kind(), s.remark.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("pub", "disk".to_string(), None),
                ("guest", "disk".to_string(), Some("guest files")),
                ("IPC$", "ipc".to_string(), Some("IPC Service (csr lab)")),
            ]
        );
        assert!(list.shares[2].is_special());

        let t = parse_tree_connect(fx!("samba-smb1-smb2-tree-connect-guest.bin")).unwrap();
        assert_eq!((t.status, t.share_type), (STATUS_SUCCESS, 1));
        assert!(
            parse_create(fx!("samba-smb1-smb2-create-root-guest.bin"))
                .unwrap()
                .is_ok()
        );
        let l = parse_query_directory(fx!("samba-smb1-smb2-query-directory-guest.bin")).unwrap();
        assert_eq!(l, Ok(Listing { entries: 2 }));
        // [pub] is not guest ok: refused at the tree connect
        let t = parse_tree_connect(fx!("samba-smb1-smb2-tree-connect-pub.bin")).unwrap();
        assert_eq!(t.status, STATUS_ACCESS_DENIED);
    }

    #[test]
    fn truncated_recordings_are_errors() {
        for b in [
            &fx!("samba-smb1-smb2-ioctl-share-enum.bin")[..],
            &fx!("samba-smb1-smb2-query-directory-guest.bin")[..],
        ] {
            for cut in [70, b.len() - 1] {
                let short = &b[..cut];
                assert!(
                    parse_pipe_data(short).is_err() || parse_query_directory(short).is_err(),
                    "cut at {cut}"
                );
            }
        }
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    fn check(b: &[u8]) {
        let _ = super::parse_response(b);
        let _ = super::parse_session_setup(b);
        let _ = super::parse_tree_connect(b);
        let _ = super::parse_create(b);
        let _ = super::parse_pipe_data(b);
        let _ = super::parse_query_directory(b);
        let _ = super::parse_status(b, super::CLOSE);
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            check(&b);
        }

        #[test]
        fn answers(cmd in prop::sample::select(vec![1u16, 3, 5, 8, 0xb, 0xe]), status in any::<u32>(), b in proptest::collection::vec(any::<u8>(), 0..200)) {
            check(&super::tests::answer(cmd, status, super::Ids::default(), &b));
        }
    }
}
