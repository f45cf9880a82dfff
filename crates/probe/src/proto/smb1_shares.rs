//! What an anonymous (null) SMB1 session can see, for a server that speaks no SMB2 (an old
//! NAS, a Windows XP/2003-era device, an old modality's file share): the same facts as
//! `smb_shares` fills over SMB2/3, so the rule and the report read them alike.
//!
//! Continues the SMB1 connection of the SMB probe after the NTLM CHALLENGE leg of
//! SESSION_SETUP_ANDX: the second leg is the anonymous AUTHENTICATE (empty user, domain and
//! responses, the ANONYMOUS flag), which Samba audits as a successful `user []\[]` logon,
//! not a failed one (see `smb_shares` and the probe design rule in docs/ARCHITECTURE.md).
//! A server that did not negotiate extended security gets the null session as one plain
//! SESSION_SETUP_ANDX instead: an empty account and no password at all, which Samba audits
//! the same way.
//!
//! Then: TREE_CONNECT_ANDX `\\host\IPC$` and the share list: NetShareEnumAll over the
//! `srvsvc` pipe (NT_CREATE_ANDX, a DCE/RPC BIND and one call, each a TransactNmPipe,
//! CLOSE), or, when the server refuses the pipe or the call, RAP NetShareEnum (a
//! TRANSACTION on `\PIPE\LANMAN`, level 1), the call every SMB1 server of that era answers
//! but whose names stop at 12 characters (Samba leaves longer ones out); per disk share
//! that is not administrative (at most `smb_shares::MAX_SHARES_TRIED`): TREE_CONNECT_ANDX,
//! one TRANS2 FIND_FIRST2 of `\*` (names only, the search closed by the server),
//! TREE_DISCONNECT; LOGOFF_ANDX at the end. No file is opened, read or written; only the
//! count of entries is kept.

use clinicscan_model::{ProbeError, SmbAnonymous};
use clinicscan_wire::smb1::{self, Ids};
use clinicscan_wire::{ntlm, smb, smb2, srvsvc};
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{Budget, invalid};
use super::smb_shares::{Session, Step, record_listing, record_share_list, to_try};

const PROBE: &str = "smb";

/// Directory entries asked for per share: enough to count a few hundred names.
const LISTING_NAMES: u16 = 512;
/// Most bytes asked for in one TRANSACTION answer; less when the server's buffer is smaller,
/// so that every answer comes in one message.
const MAX_ANSWER: u32 = 16 * 1024;
/// Room for the SMB1 header and the transaction words in the server's buffer.
const ANSWER_OVERHEAD: u32 = 128;

impl Session<'_, Ids> {
    /// Sends the request `make` builds for the next MID and returns the answer to it.
    async fn call(&mut self, make: impl FnOnce(Ids) -> Vec<u8>) -> Result<Vec<u8>, ProbeError> {
        let request = make(self.ids);
        let sent = self.ids.mid;
        self.ids.mid = self.ids.mid.wrapping_add(1);
        self.send(&request).await?;
        let msg = self.next_message().await?;
        let r = smb1::parse_response(&msg).map_err(|e| invalid(PROBE, e))?;
        if r.mid != sent {
            return Err(invalid(
                PROBE,
                format!("an answer to SMB1 request {} where {sent} was due", r.mid),
            ));
        }
        Ok(msg)
    }

    async fn tree_connect(&mut self, path: &str) -> Result<u16, Step> {
        let m = self.call(|ids| smb1::tree_connect(path, ids)).await?;
        let (status, tid) = smb1::parse_status(&m, smb1::TREE_CONNECT_ANDX)
            .map_err(|e| Step::Failed(invalid(PROBE, e)))?;
        if status != smb2::STATUS_SUCCESS {
            return Err(Step::Status(status));
        }
        Ok(tid)
    }

    /// Leaves the tree `tid`; a refusal changes no fact.
    async fn tree_disconnect(&mut self, tid: u16) {
        let ids = self.ids;
        let _ = self
            .call(|i| {
                smb1::tree_disconnect(Ids {
                    tid,
                    mid: i.mid,
                    ..ids
                })
            })
            .await;
        self.ids.tid = 0;
    }

    /// One TRANSACTION or TRANSACTION2 answer: parameters and data, or the refusing status.
    async fn transaction(
        &mut self,
        command: u8,
        make: impl FnOnce(Ids) -> Vec<u8>,
    ) -> Result<(Vec<u8>, Vec<u8>), Step> {
        let m = self.call(make).await?;
        let t =
            smb1::parse_transaction(&m, command).map_err(|e| Step::Failed(invalid(PROBE, e)))?;
        if t.status != smb2::STATUS_SUCCESS {
            return Err(Step::Status(t.status));
        }
        Ok((t.params.to_vec(), t.data.to_vec()))
    }
}

/// How the null session is made on the negotiated connection.
pub(crate) enum Logon {
    /// Extended security: the anonymous NTLM AUTHENTICATE, second leg of the session whose
    /// NTLM CHALLENGE leg gave `uid`.
    Ntlm { uid: u16 },
    /// No extended security: one SESSION_SETUP_ANDX with an empty account and no password.
    Plain,
}

/// Logs on anonymously on `stream` (the server's buffer is `max_buffer` bytes) and lists
/// what the session can see; with the session setup's answer (its NativeOS and
/// NativeLanMan, when the logon was [`Logon::Plain`]).
pub(crate) async fn list(
    ctx: &ProbeContext,
    stream: &mut TcpStream,
    budget: &mut Budget,
    logon: Logon,
    max_buffer: u32,
    errors: &mut Vec<ProbeError>,
) -> (SmbAnonymous, Option<smb::Smb1SessionSetup>) {
    let ids = match logon {
        // after the NEGOTIATE (MID 0) and the first leg (MID 1)
        Logon::Ntlm { uid } => Ids {
            uid,
            tid: 0,
            mid: 2,
        },
        Logon::Plain => Ids {
            uid: 0,
            tid: 0,
            mid: 1,
        },
    };
    let mut s = Session::new(ctx, stream, budget, ids);
    let answer = u16::try_from(max_buffer.saturating_sub(ANSWER_OVERHEAD).min(MAX_ANSWER))
        .unwrap_or(u16::MAX);
    let mut out = SmbAnonymous::default();
    let blob = ntlm::spnego_response(&ntlm::anonymous_authenticate());
    let answer_to = |m: Vec<u8>| {
        smb::parse_smb1_session_setup(&m)
            .map(|setup| (setup, smb::smb1_uid(&m)))
            .map_err(|e| invalid(PROBE, e))
    };
    let setup = match logon {
        Logon::Ntlm { .. } => s.call(|ids| smb1::session_setup(&blob, ids)).await,
        Logon::Plain => s.call(smb1::null_session_setup).await,
    }
    .and_then(answer_to);
    let (setup, uid) = match setup {
        Ok(setup) => setup,
        Err(e) => {
            out.reason = Some(e.detail.clone());
            errors.push(e);
            return (out, None);
        }
    };
    if setup.status != smb2::STATUS_SUCCESS {
        out.session = Some(false);
        out.shares_listed = Some(false);
        out.reason = Some(smb2::status_name(setup.status));
        return (out, Some(setup));
    }
    out.session = Some(true);
    if let Some(uid) = uid {
        s.ids.uid = uid;
    }

    let address = ctx.addr.ip().to_string();
    let (list, refused) = share_list(&mut s, &address, answer).await;
    record_share_list(&mut out, list, refused, errors);

    let mut tried = 0;
    for share in out.shares.iter_mut() {
        if !to_try(share, &mut tried) {
            continue;
        }
        // RAP gives names in the server's OEM code page, which the answer does not name:
        // a name that is not ASCII cannot be addressed back
        if share.name.contains('\u{fffd}') {
            share.reason = Some(
                "not tried: the RAP share list gives this name in the server's code page"
                    .to_string(),
            );
            continue;
        }
        let listing = top_directory(&mut s, &address, &share.name, answer).await;
        if !record_listing(share, listing, errors) {
            break;
        }
    }
    let _ = s.call(smb1::logoff).await;
    (out, Some(setup))
}

/// The share list on `\\address\IPC$`: NetShareEnumAll over the `srvsvc` pipe, or, when
/// the server refuses the pipe or the call, RAP NetShareEnum over `\PIPE\LANMAN`; and the
/// words for a non-zero result of the one that answered.
async fn share_list(
    s: &mut Session<'_, Ids>,
    address: &str,
    answer: u16,
) -> (Result<srvsvc::ShareList, Step>, &'static str) {
    const SRVSVC: &str = "NetShareEnumAll over SMB1 returned WERROR";
    let tid = match s.tree_connect(&format!(r"\\{address}\IPC$")).await {
        Ok(tid) => tid,
        Err(e) => return (Err(e), SRVSVC),
    };
    s.ids.tid = tid;
    let mut result = (share_enum_all(s, address, answer).await, SRVSVC);
    if let (Err(Step::Status(_)), _) = result {
        result = (
            rap_share_enum(s, answer).await,
            "RAP NetShareEnum over SMB1 returned error",
        );
    }
    s.tree_disconnect(tid).await;
    result
}

/// NetShareEnumAll over the `srvsvc` pipe: one BIND and one call, each a TransactNmPipe.
async fn share_enum_all(
    s: &mut Session<'_, Ids>,
    address: &str,
    answer: u16,
) -> Result<srvsvc::ShareList, Step> {
    let m = s.call(|ids| smb1::open_pipe(r"\srvsvc", ids)).await?;
    let fid = smb1::parse_open(&m)
        .map_err(|e| Step::Failed(invalid(PROBE, e)))?
        .map_err(Step::Status)?;
    let result = async {
        let (_, ack) = s
            .transaction(smb1::TRANSACTION, |ids| {
                smb1::transact_pipe(fid, &srvsvc::bind(1), answer, ids)
            })
            .await?;
        srvsvc::parse_bind_ack(&ack).map_err(|e| Step::Failed(invalid(PROBE, e)))?;
        let request = srvsvc::net_share_enum_all(&format!(r"\\{address}"), 2);
        let (_, pdu) = s
            .transaction(smb1::TRANSACTION, |ids| {
                smb1::transact_pipe(fid, &request, answer, ids)
            })
            .await?;
        let fragment = srvsvc::parse_response(&pdu).map_err(|e| Step::Failed(invalid(PROBE, e)))?;
        if !fragment.last {
            return Err(Step::Failed(invalid(
                PROBE,
                "the share list took more than one DCE/RPC fragment",
            )));
        }
        srvsvc::parse_share_enum(fragment.stub).map_err(|e| Step::Failed(invalid(PROBE, e)))
    }
    .await;
    let _ = s.call(|ids| smb1::close(fid, ids)).await;
    result
}

/// RAP NetShareEnum over `\PIPE\LANMAN`: no pipe to open, but only names of at most 12
/// characters (Samba leaves longer ones out of the answer).
async fn rap_share_enum(s: &mut Session<'_, Ids>, answer: u16) -> Result<srvsvc::ShareList, Step> {
    let (params, data) = s
        .transaction(smb1::TRANSACTION, |ids| smb1::rap_share_enum(answer, ids))
        .await?;
    let mut shares =
        smb1::parse_rap_share_enum(&params, &data).map_err(|e| Step::Failed(invalid(PROBE, e)))?;
    // ERROR_MORE_DATA: the entries that fit in the answer are a listing all the same
    if shares.status == smb1::RAP_MORE_DATA {
        shares.list.werror = 0;
    }
    Ok(shares.list)
}

/// Whether the anonymous session can list `\\address\share`'s top directory: the entries
/// of the first answer, or the status that refused it.
async fn top_directory(
    s: &mut Session<'_, Ids>,
    address: &str,
    share: &str,
    answer: u16,
) -> Result<u32, Step> {
    let tid = s.tree_connect(&format!(r"\\{address}\{share}")).await?;
    s.ids.tid = tid;
    let listed = match s
        .call(|ids| smb1::find_first_top(LISTING_NAMES, answer, ids))
        .await
    {
        Ok(m) => smb1::parse_find_first(&m)
            .map_err(|e| Step::Failed(invalid(PROBE, e)))
            .and_then(|r| r.map_err(Step::Status)),
        Err(e) => Err(Step::Failed(e)),
    };
    s.tree_disconnect(tid).await;
    listed
}
