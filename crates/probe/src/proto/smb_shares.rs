//! What an anonymous (null) SMB2/3 session can see: the share list and, for each disk
//! share, whether its top directory can be listed and how many entries the listing held.
//!
//! Continues the SMB probe's connection after the NTLM CHALLENGE: the second leg is an
//! anonymous AUTHENTICATE (empty user, domain and responses, the ANONYMOUS flag), which
//! Samba audits as `user []\[] ... [No-Password] status [NT_STATUS_OK]` and Windows as an
//! ANONYMOUS LOGON — a success. Any user name instead ("guest", the Unix user smbclient
//! sends) is looked up and logged as NT_STATUS_NO_SUCH_USER, a failed login, before
//! `map to guest` lets it in: so the null session is the only one this probe makes (see
//! the probe design rule in docs/ARCHITECTURE.md).
//!
//! Then: TREE_CONNECT `\\host\IPC$`, the `srvsvc` pipe, a DCE/RPC bind and one
//! NetShareEnumAll at level 1; per disk share that is not administrative (at most
//! [`MAX_SHARES_TRIED`]): TREE_CONNECT, CREATE of the root *as a directory* with list rights
//! only, one QUERY_DIRECTORY, CLOSE, TREE_DISCONNECT; LOGOFF at the end. No file is opened,
//! nothing is read from or written to a file, and no name found is kept: the count and a
//! boolean are the facts, because the names of files in a clinic's export or backup share
//! can be patient data (a patient's name in a scanned referral's file name).
//!
//! An anonymous session has no session key, so nothing can be signed. A server that
//! requires signing either refuses the null session (Samba: STATUS_ACCESS_DENIED) or
//! refuses the unsigned requests that follow; either is recorded as the fact with the
//! server's status, never guessed around.

use clinicscan_model::{ProbeError, SmbAnonymous, SmbShare};
use clinicscan_wire::smb2::{self, FileId, Ids};
use clinicscan_wire::{ntlm, smb, srvsvc};
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget, FrameError, invalid, read_framed};

const PROBE: &str = "smb";

/// Disk shares whose top directory is tried, at most.
pub(crate) const MAX_SHARES_TRIED: usize = 32;
/// Bytes of directory entries asked for per share: enough to count a few hundred names.
const LISTING_BYTES: u32 = 16 * 1024;
/// DCE/RPC answer bytes asked for per transceive or read, and fragments read at most.
const PIPE_BYTES: u32 = srvsvc::MAX_FRAGMENT as u32;
const MAX_FRAGMENTS: usize = 16;
/// Interim (STATUS_PENDING) answers skipped per request, at most.
const MAX_INTERIM: usize = 4;

/// One SMB connection after the NTLM CHALLENGE: requests in order, one answer each. `I`
/// is the dialect's ids (SMB2's here, SMB1's in `smb1_shares`); each dialect's `call`
/// numbers its requests and checks its answers.
pub(crate) struct Session<'a, I> {
    ctx: &'a ProbeContext,
    stream: &'a mut TcpStream,
    budget: &'a mut Budget,
    buf: Vec<u8>,
    pub(crate) ids: I,
}

impl<'a, I> Session<'a, I> {
    pub(crate) fn new(
        ctx: &'a ProbeContext,
        stream: &'a mut TcpStream,
        budget: &'a mut Budget,
        ids: I,
    ) -> Self {
        Session {
            ctx,
            stream,
            budget,
            buf: Vec::new(),
            ids,
        }
    }

    /// Sends one request.
    pub(crate) async fn send(&mut self, request: &[u8]) -> Result<(), ProbeError> {
        io::write_all(self.ctx, self.stream, request)
            .await
            .map_err(|e| e.to_probe_error(PROBE))
    }

    /// The next whole SMB message (bytes after it stay buffered).
    pub(crate) async fn next_message(&mut self) -> Result<Vec<u8>, ProbeError> {
        let n = read_framed(
            self.ctx,
            self.stream,
            &mut self.buf,
            self.budget,
            smb::message_complete,
        )
        .await
        .map_err(|e: FrameError| e.to_probe_error(PROBE))?;
        Ok(self.buf.drain(..n).collect())
    }
}

/// Why a step stopped: the server's refusal (a status) or a failure of the exchange.
pub(crate) enum Step {
    Status(u32),
    Failed(ProbeError),
}

impl From<ProbeError> for Step {
    fn from(e: ProbeError) -> Self {
        Step::Failed(e)
    }
}

impl Session<'_, Ids> {
    /// Sends the request `make` builds for the next message id and returns the final
    /// answer to it (interim STATUS_PENDING answers skipped).
    async fn call(&mut self, make: impl FnOnce(Ids) -> Vec<u8>) -> Result<Vec<u8>, ProbeError> {
        let request = make(self.ids);
        let sent = self.ids.message_id;
        self.ids.message_id += 1;
        self.send(&request).await?;
        for _ in 0..=MAX_INTERIM {
            let msg = self.next_message().await?;
            let r = smb2::parse_response(&msg).map_err(|e| invalid(PROBE, e))?;
            if r.message_id != sent {
                return Err(invalid(
                    PROBE,
                    format!("an answer to message {} where {sent} was due", r.message_id),
                ));
            }
            if !r.is_interim() {
                return Ok(msg);
            }
        }
        Err(invalid(PROBE, "the server kept answering STATUS_PENDING"))
    }

    async fn tree_connect(&mut self, path: &str) -> Result<u32, Step> {
        let m = self.call(|ids| smb2::tree_connect(path, ids)).await?;
        let t = smb2::parse_tree_connect(&m).map_err(|e| invalid(PROBE, e))?;
        if t.status != smb2::STATUS_SUCCESS {
            return Err(Step::Status(t.status));
        }
        Ok(t.tree_id)
    }

    /// Leaves the tree `tree_id`; a refusal changes no fact.
    async fn tree_disconnect(&mut self, tree_id: u32) {
        let ids = self.ids;
        let _ = self
            .call(|i| {
                smb2::tree_disconnect(Ids {
                    tree_id,
                    message_id: i.message_id,
                    ..ids
                })
            })
            .await;
    }

    async fn close(&mut self, file: FileId) {
        let _ = self.call(|ids| smb2::close(file, ids)).await;
    }

    async fn open(&mut self, make: impl FnOnce(Ids) -> Vec<u8>) -> Result<FileId, Step> {
        let m = self.call(make).await?;
        smb2::parse_create(&m)
            .map_err(|e| invalid(PROBE, e))?
            .map_err(Step::Status)
    }
}

/// Logs on anonymously on `stream` (whose NTLM CHALLENGE leg gave `session_id`, with the
/// next request being `message_id`) and lists what the session can see.
pub(crate) async fn list(
    ctx: &ProbeContext,
    stream: &mut TcpStream,
    budget: &mut Budget,
    session_id: u64,
    message_id: u64,
    errors: &mut Vec<ProbeError>,
) -> SmbAnonymous {
    let ids = Ids {
        message_id,
        session_id,
        tree_id: 0,
    };
    let mut s = Session::new(ctx, stream, budget, ids);
    let mut out = SmbAnonymous::default();
    let blob = ntlm::spnego_response(&ntlm::anonymous_authenticate());
    let setup = match s.call(|ids| smb2::session_setup(&blob, ids)).await {
        Ok(m) => smb2::parse_session_setup(&m).map_err(|e| invalid(PROBE, e)),
        Err(e) => Err(e),
    };
    let setup = match setup {
        Ok(setup) => setup,
        Err(e) => {
            out.reason = Some(e.detail.clone());
            errors.push(e);
            return out;
        }
    };
    if setup.status != smb2::STATUS_SUCCESS {
        out.session = Some(false);
        out.shares_listed = Some(false);
        out.reason = Some(smb2::status_name(setup.status));
        return out;
    }
    out.session = Some(true);
    s.ids.session_id = setup.session_id;
    if setup.session_flags & smb2::SESSION_FLAG_ENCRYPT_DATA != 0 {
        // everything after would have to be encrypted, with a key this session lacks
        out.shares_listed = Some(false);
        out.reason = Some("the server requires encryption for the session".to_string());
        logoff(&mut s).await;
        return out;
    }

    let address = ctx.addr.ip().to_string();
    let list = share_list(&mut s, &address).await;
    record_share_list(&mut out, list, "NetShareEnumAll returned WERROR", errors);

    let mut tried = 0;
    for share in out.shares.iter_mut() {
        if !to_try(share, &mut tried) {
            continue;
        }
        let listing = top_directory(&mut s, &address, &share.name).await;
        if !record_listing(share, listing, errors) {
            break;
        }
    }
    logoff(&mut s).await;
    out
}

/// Puts the share list (or why there is none) into `out`; `refused` names the call whose
/// non-zero result code follows it in the reason.
pub(crate) fn record_share_list(
    out: &mut SmbAnonymous,
    list: Result<srvsvc::ShareList, Step>,
    refused: &str,
    errors: &mut Vec<ProbeError>,
) {
    match list {
        Ok(list) => {
            out.shares_listed = Some(list.werror == 0);
            if list.werror != 0 {
                out.reason = Some(format!("{refused} {:#010x}", list.werror));
            }
            out.shares_total = Some(list.total);
            out.shares = list
                .shares
                .iter()
                .map(|sh| SmbShare {
                    name: sh.name.clone(),
                    kind: sh.kind(),
                    special: sh.is_special(),
                    remark: sh.remark.clone(),
                    listable: None,
                    reason: None,
                    entries: None,
                })
                .collect();
        }
        Err(Step::Status(status)) => {
            out.shares_listed = Some(false);
            out.reason = Some(smb2::status_name(status));
        }
        Err(Step::Failed(e)) => {
            out.reason = Some(e.detail.clone());
            errors.push(e);
        }
    }
}

/// Whether `share`'s top directory is to be listed: a disk share, not administrative, and
/// within [`MAX_SHARES_TRIED`] (`tried` counts them; a share over the limit gets its reason).
pub(crate) fn to_try(share: &mut SmbShare, tried: &mut usize) -> bool {
    // administrative shares (C$, ADMIN$) end in '$' or are flagged special
    if share.kind != "disk" || share.special || share.name.ends_with('$') {
        return false;
    }
    if *tried == MAX_SHARES_TRIED {
        share.reason = Some(format!(
            "not tried: at most {MAX_SHARES_TRIED} shares are listed per server"
        ));
        return false;
    }
    *tried += 1;
    true
}

/// Puts the outcome of listing `share`'s top directory into it; false when the exchange
/// failed and the connection is in an unknown state, so nothing more is asked on it.
pub(crate) fn record_listing(
    share: &mut SmbShare,
    listing: Result<u32, Step>,
    errors: &mut Vec<ProbeError>,
) -> bool {
    match listing {
        Ok(entries) => {
            share.listable = Some(true);
            share.entries = Some(entries);
            true
        }
        Err(Step::Status(status)) => {
            share.listable = Some(false);
            share.reason = Some(smb2::status_name(status));
            true
        }
        Err(Step::Failed(e)) => {
            share.reason = Some(e.detail.clone());
            errors.push(e);
            false
        }
    }
}

async fn logoff(s: &mut Session<'_, Ids>) {
    let _ = s.call(smb2::logoff).await;
}

/// NetShareEnumAll over `\\address\IPC$\srvsvc`.
async fn share_list(s: &mut Session<'_, Ids>, address: &str) -> Result<srvsvc::ShareList, Step> {
    let tree = s.tree_connect(&format!(r"\\{address}\IPC$")).await?;
    s.ids.tree_id = tree;
    let result = async {
        let pipe = s.open(|ids| smb2::open_pipe("srvsvc", ids)).await?;
        let result = enumerate(s, pipe, address).await;
        s.close(pipe).await;
        result
    }
    .await;
    s.tree_disconnect(tree).await;
    s.ids.tree_id = 0;
    result
}

async fn enumerate(
    s: &mut Session<'_, Ids>,
    pipe: FileId,
    address: &str,
) -> Result<srvsvc::ShareList, Step> {
    let ack = transceive(s, pipe, &srvsvc::bind(1)).await?;
    srvsvc::parse_bind_ack(&ack).map_err(|e| invalid(PROBE, e))?;
    let request = srvsvc::net_share_enum_all(&format!(r"\\{address}"), 2);
    let mut pdu = transceive(s, pipe, &request).await?;
    let mut stub = Vec::new();
    for _ in 0..MAX_FRAGMENTS {
        let fragment = srvsvc::parse_response(&pdu).map_err(|e| invalid(PROBE, e))?;
        stub.extend_from_slice(fragment.stub);
        if fragment.last {
            return srvsvc::parse_share_enum(&stub).map_err(|e| Step::Failed(invalid(PROBE, e)));
        }
        pdu = read_pdu(s, pipe).await?;
    }
    Err(Step::Failed(invalid(
        PROBE,
        format!("the share list took more than {MAX_FRAGMENTS} DCE/RPC fragments"),
    )))
}

/// One PDU from the pipe data of an IOCTL or READ answer, reading on while the server says
/// STATUS_BUFFER_OVERFLOW (the PDU is longer than one answer).
async fn pipe_pdu(s: &mut Session<'_, Ids>, pipe: FileId, first: Vec<u8>) -> Result<Vec<u8>, Step> {
    let mut data = Vec::new();
    let mut msg = first;
    for _ in 0..MAX_FRAGMENTS {
        let (status, bytes) = smb2::parse_pipe_data(&msg).map_err(|e| invalid(PROBE, e))?;
        data.extend_from_slice(bytes);
        match status {
            smb2::STATUS_SUCCESS => {
                return match srvsvc::pdu_complete(&data) {
                    Ok(Some(_)) => Ok(data),
                    Ok(None) => Err(Step::Failed(invalid(PROBE, "a DCE/RPC PDU cut short"))),
                    Err(e) => Err(Step::Failed(invalid(PROBE, e))),
                };
            }
            smb2::STATUS_BUFFER_OVERFLOW => {
                msg = s.call(|ids| smb2::read_pipe(pipe, PIPE_BYTES, ids)).await?;
            }
            other => return Err(Step::Status(other)),
        }
    }
    Err(Step::Failed(invalid(
        PROBE,
        "a DCE/RPC PDU longer than the limit",
    )))
}

async fn transceive(s: &mut Session<'_, Ids>, pipe: FileId, input: &[u8]) -> Result<Vec<u8>, Step> {
    let m = s
        .call(|ids| smb2::pipe_transceive(pipe, input, PIPE_BYTES, ids))
        .await?;
    pipe_pdu(s, pipe, m).await
}

async fn read_pdu(s: &mut Session<'_, Ids>, pipe: FileId) -> Result<Vec<u8>, Step> {
    let m = s.call(|ids| smb2::read_pipe(pipe, PIPE_BYTES, ids)).await?;
    pipe_pdu(s, pipe, m).await
}

/// Whether the anonymous session can list `\\address\share`'s top directory: the entries
/// of the first answer, or the status that refused it.
async fn top_directory(s: &mut Session<'_, Ids>, address: &str, share: &str) -> Result<u32, Step> {
    let tree = s.tree_connect(&format!(r"\\{address}\{share}")).await?;
    s.ids.tree_id = tree;
    let result = async {
        let dir = s.open(smb2::open_share_root).await?;
        let listed = match s
            .call(|ids| smb2::query_directory(dir, LISTING_BYTES, ids))
            .await
        {
            Ok(m) => smb2::parse_query_directory(&m)
                .map_err(|e| Step::Failed(invalid(PROBE, e)))
                .and_then(|r| r.map(|l| l.entries).map_err(Step::Status)),
            Err(e) => Err(Step::Failed(e)),
        };
        s.close(dir).await;
        listed
    }
    .await;
    s.tree_disconnect(tree).await;
    s.ids.tree_id = 0;
    result
}
