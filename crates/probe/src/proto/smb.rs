//! The SMB service probe: SMB1 acceptance (and, when accepted, the OS strings), the SMB2/3
//! dialects accepted, signing, the NTLM target information of the first session-setup
//! leg (as nmap's smb-os-discovery), and on the same connection what an anonymous (null)
//! session can see: the share list and which disk shares' top directories it can list
//! (`smb_shares`) — or, for a server that speaks no SMB2, the same on the SMB1 connection
//! (`smb1_shares`, RAP NetShareEnum). The only AUTHENTICATE ever sent is the anonymous one.
//!
//! # Connection count
//!
//! A server answers one NEGOTIATE per connection (MS-SMB2 3.3.5.3: a second one
//! disconnects), and each answer names one dialect: the highest it accepts among those
//! offered. So clinicscan makes
//! - one SMB1 connection offering only "NT LM 0.12" (plus, on the same connection when
//!   accepted, a SESSION_SETUP that returns NativeOS/NativeLanMan, and the anonymous
//!   listing when the SMB2 connection could not make one);
//! - one SMB2 connection offering 2.0.2–3.1.1 (with the 3.1.1 contexts): the maximum dialect
//!   and SecurityMode, then on the same connection the SESSION_SETUP with NTLM NEGOTIATE;
//! - one connection per dialect below that maximum, offering that dialect alone, run
//!   concurrently with each other and with the SMB1 connection (one round of wall time).
//!   Servers do not have to accept a contiguous range, so the set is asked, not inferred.
//!
//! nmap needs six connections for smb-protocols, one for smb2-security-mode and one or two
//! for smb-os-discovery (nine against samba in the lab); clinicscan needs at most six for the
//! same facts, and the answers arrive in two rounds of round trips.

use clinicscan_model::{NtlmInfo, ProbeError, Service, SmbAnonymous, SmbFacts, Software};
use clinicscan_wire::ntlm;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::io::{self, Budget, FrameError, IoError, invalid, read_framed};
use super::smb1_shares::{self, Logon};
use super::{ProbeContext, smb_shares};
use clinicscan_wire::smb as wire;
use clinicscan_wire::smb2;

const PROBE: &str = "smb";

async fn exchange(
    ctx: &ProbeContext,
    stream: &mut TcpStream,
    budget: &mut Budget,
    request: &[u8],
) -> Result<Vec<u8>, FrameError> {
    io::write_all(ctx, stream, request)
        .await
        .map_err(FrameError::Io)?;
    let mut buf = Vec::new();
    let n = read_framed(ctx, stream, &mut buf, budget, wire::message_complete).await?;
    buf.truncate(n);
    Ok(buf)
}

fn ntlm_facts(c: ntlm::Challenge) -> NtlmInfo {
    NtlmInfo {
        netbios_computer: c.netbios_computer,
        netbios_domain: c.netbios_domain,
        dns_computer: c.dns_computer,
        dns_domain: c.dns_domain,
        os_version: c.os_version,
    }
}

/// What the SMB1 connection showed.
#[derive(Default)]
struct Smb1Result {
    accepted: Option<bool>,
    security_mode: Option<u8>,
    native_os: Option<String>,
    native_lanman: Option<String>,
    ntlm: Option<NtlmInfo>,
    /// What an anonymous session could see over SMB1, when asked for.
    anonymous: Option<SmbAnonymous>,
    /// The connection was closed or reset instead of answered.
    refused_by_close: bool,
}

/// The SMB1 connection; with `list_anonymous`, the anonymous share listing on it too (for a
/// server whose SMB2 path could not make one).
async fn smb1(
    ctx: &ProbeContext,
    budget: &mut Budget,
    list_anonymous: bool,
    errors: &mut Vec<ProbeError>,
) -> Smb1Result {
    let mut r = Smb1Result::default();
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => {
            errors.push(e.to_probe_error(PROBE));
            return r;
        }
    };
    let msg = match exchange(ctx, &mut stream, budget, &wire::smb1_negotiate()).await {
        Ok(m) => m,
        Err(FrameError::Io(IoError::Closed(_))) => {
            r.refused_by_close = true;
            return r;
        }
        Err(FrameError::Io(IoError::Io(e))) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            r.refused_by_close = true;
            return r;
        }
        Err(e) => {
            errors.push(e.to_probe_error(PROBE));
            return r;
        }
    };
    if wire::is_smb2(&msg) {
        // answered in SMB2: "NT LM 0.12" is not spoken
        r.accepted = Some(false);
        return r;
    }
    let neg = match wire::parse_smb1_negotiate(&msg) {
        Ok(n) => n,
        Err(e) => {
            errors.push(invalid(PROBE, e));
            return r;
        }
    };
    r.accepted = Some(neg.accepted);
    if !neg.accepted {
        return r;
    }
    r.security_mode = Some(neg.security_mode);
    if neg.extended_security {
        let blob = ntlm::spnego_init(&ntlm::negotiate());
        let uid = wire::smb1_uid(&msg).unwrap_or(0);
        match exchange(
            ctx,
            &mut stream,
            budget,
            &wire::smb1_session_setup(&blob, uid),
        )
        .await
        {
            Ok(m) => match wire::parse_smb1_session_setup(&m) {
                Ok(s) => {
                    r.native_os = s.native_os;
                    r.native_lanman = s.native_lanman;
                    r.ntlm = ntlm::find_challenge(&s.blob).ok().map(ntlm_facts);
                    // the second leg: an anonymous logon and what it can see
                    if list_anonymous && s.status == wire::STATUS_MORE_PROCESSING_REQUIRED {
                        let logon = Logon::Ntlm {
                            uid: wire::smb1_uid(&m).unwrap_or(uid),
                        };
                        let (anonymous, _) = smb1_shares::list(
                            ctx,
                            &mut stream,
                            budget,
                            logon,
                            neg.max_buffer_size,
                            errors,
                        )
                        .await;
                        r.anonymous = Some(anonymous);
                    }
                }
                Err(e) => errors.push(invalid(PROBE, e)),
            },
            Err(e) => errors.push(e.to_probe_error(PROBE)),
        }
    } else if list_anonymous {
        // no extended security (an older stack): the null session is one plain
        // SESSION_SETUP_ANDX, whose answer also carries NativeOS and NativeLanMan
        let (anonymous, setup) = smb1_shares::list(
            ctx,
            &mut stream,
            budget,
            Logon::Plain,
            neg.max_buffer_size,
            errors,
        )
        .await;
        if let Some(setup) = setup {
            r.native_os = setup.native_os;
            r.native_lanman = setup.native_lanman;
        }
        r.anonymous = Some(anonymous);
    }
    let _ = stream.shutdown().await;
    r
}

/// One SMB2 NEGOTIATE on a fresh connection.
async fn smb2_negotiate(
    ctx: &ProbeContext,
    budget: &mut Budget,
    dialects: &[u16],
) -> Result<(TcpStream, Option<wire::Smb2Negotiate>), ProbeError> {
    let mut stream = io::connect(ctx)
        .await
        .map_err(|e| e.to_probe_error(PROBE))?;
    match exchange(ctx, &mut stream, budget, &wire::smb2_negotiate(dialects)).await {
        // an SMB1-only server may answer an SMB2 NEGOTIATE in SMB1: no SMB2 spoken
        Ok(m) if m.get(4..8) == Some(&[0xff, b'S', b'M', b'B'][..]) => Ok((stream, None)),
        Ok(m) => {
            let n = wire::parse_smb2_negotiate(&m).map_err(|e| invalid(PROBE, e))?;
            Ok((stream, Some(n)))
        }
        // a server that shares no dialect may hang up instead of answering
        Err(FrameError::Io(IoError::Closed(_))) => Ok((stream, None)),
        Err(FrameError::Io(IoError::Io(e))) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Ok((stream, None))
        }
        Err(e) => Err(e.to_probe_error(PROBE)),
    }
}

/// Whether the server accepts `dialect` offered alone (None: could not be told).
async fn accepts(ctx: &ProbeContext, dialect: u16, errors: &mut Vec<ProbeError>) -> Option<bool> {
    // each concurrent connection gets a share of the probe's byte limit
    let mut budget = Budget::new((ctx.max_bytes / 8).max(4096).min(ctx.max_bytes));
    match smb2_negotiate(ctx, &mut budget, &[dialect]).await {
        Ok((mut s, n)) => {
            let _ = s.shutdown().await;
            Some(matches!(n, Some(n) if n.status == wire::STATUS_SUCCESS && n.dialect == dialect))
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

async fn maybe_accepts(
    ctx: &ProbeContext,
    dialect: Option<u16>,
    errors: &mut Vec<ProbeError>,
) -> Option<bool> {
    match dialect {
        Some(d) => accepts(ctx, d, errors).await,
        None => None,
    }
}

/// Fills `service.facts.smb` from real handshakes.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut budget = Budget::new(ctx.max_bytes);
    let mut errors = Vec::new();
    let mut facts = SmbFacts::default();

    // SMB2/3: the maximum, signing, NTLM
    let mut max = None;
    match smb2_negotiate(ctx, &mut budget, &wire::DIALECTS).await {
        Ok((mut stream, Some(n))) if n.status == wire::STATUS_SUCCESS => {
            max = Some(n.dialect);
            facts.max_dialect = Some(wire::dialect_name(n.dialect));
            facts.signing_enabled = Some(n.security_mode & 0x01 != 0);
            facts.signing_required = Some(n.security_mode & 0x02 != 0);
            let blob = ntlm::spnego_init(&ntlm::negotiate());
            match exchange(
                ctx,
                &mut stream,
                &mut budget,
                &wire::smb2_session_setup(&blob, 1),
            )
            .await
            {
                Ok(m) => match smb2::parse_session_setup(&m) {
                    Ok(s) => {
                        match ntlm::find_challenge(&s.blob) {
                            Ok(c) => facts.ntlm = Some(ntlm_facts(c)),
                            Err(e) => errors.push(invalid(PROBE, e)),
                        }
                        // the second leg: an anonymous logon and what it can see
                        if s.status == smb2::STATUS_MORE_PROCESSING_REQUIRED {
                            facts.anonymous = Some(
                                smb_shares::list(
                                    ctx,
                                    &mut stream,
                                    &mut budget,
                                    s.session_id,
                                    2,
                                    &mut errors,
                                )
                                .await,
                            );
                        }
                    }
                    Err(e) => errors.push(invalid(PROBE, e)),
                },
                Err(e) => errors.push(e.to_probe_error(PROBE)),
            }
            let _ = stream.shutdown().await;
        }
        Ok((_, Some(n))) => errors.push(invalid(
            PROBE,
            format!("SMB2 NEGOTIATE refused with status {:#010x}", n.status),
        )),
        Ok((_, None)) => {}
        Err(e) => errors.push(e),
    }

    // Over SMB1 only when the SMB2 path could not make an anonymous session at all (the
    // server speaks no SMB2, or the SMB2 session setup did not start).
    let list_anonymous = facts.anonymous.is_none();
    // The lower dialects, each alone, and SMB1: concurrently (one round of round trips),
    // or one after another with the gentle profile's pause between connections.
    let lower: Vec<u16> = match max {
        Some(max) => wire::DIALECTS
            .iter()
            .copied()
            .filter(|&d| d < max)
            .collect(),
        None => Vec::new(),
    };
    let at = |i: usize| lower.get(i).copied();
    let mut errs = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let [e0, e1, e2, e3, e4] = &mut errs;
    // Gentle hosts get the dialects one connection at a time (each paced by connect).
    let (results, s1) = if !ctx.pace.is_gentle() {
        let (a, b, c, d, s1) = tokio::join!(
            maybe_accepts(ctx, at(0), e0),
            maybe_accepts(ctx, at(1), e1),
            maybe_accepts(ctx, at(2), e2),
            maybe_accepts(ctx, at(3), e3),
            smb1(ctx, &mut budget, list_anonymous, e4)
        );
        ([a, b, c, d], s1)
    } else {
        let mut r = [None; 4];
        for (i, e) in [e0, e1, e2, e3].into_iter().enumerate() {
            if at(i).is_some() {
                r[i] = maybe_accepts(ctx, at(i), e).await;
            }
        }
        (r, smb1(ctx, &mut budget, list_anonymous, e4).await)
    };
    for (d, ok) in lower.iter().zip(results) {
        if ok == Some(true) {
            facts.dialects.push(wire::dialect_name(*d));
        }
    }
    if let Some(max) = max {
        facts.dialects.push(wire::dialect_name(max));
    }
    errors.extend(errs.into_iter().flatten());

    facts.smb1 = match s1.accepted {
        Some(a) => Some(a),
        // hanging up on an SMB1 negotiate is how Windows refuses it, but only an SMB2
        // answer proves the peer is an SMB server at all
        None if s1.refused_by_close && max.is_some() => Some(false),
        None => None,
    };
    if max.is_none()
        && let Some(mode) = s1.security_mode
    {
        facts.signing_enabled = Some(mode & 0x04 != 0);
        facts.signing_required = Some(mode & 0x08 != 0);
    }
    if facts.ntlm.is_none() {
        facts.ntlm = s1.ntlm;
    }
    if facts.anonymous.is_none() {
        facts.anonymous = s1.anonymous;
    }
    facts.native_os = s1.native_os.clone();
    if let Some(lanman) = s1.native_lanman.as_deref() {
        let (product, version) = match lanman.split_once(' ') {
            Some((p, v)) => (p.to_string(), Some(v.to_string())),
            None => (lanman.to_string(), None),
        };
        service.software = Some(Software {
            vendor: None,
            product,
            version,
            evidence: format!("SMB1 NativeLanMan: {lanman}"),
        });
    }
    if max.is_some() || s1.accepted == Some(true) {
        service.protocol = Some("smb".to_string());
        service.facts.smb = Some(facts);
    } else if errors.is_empty() {
        // Hanging up is a refusal only from a proven SMB server; here nothing was proven.
        errors.push(ProbeError {
            probe: PROBE.to_string(),
            kind: clinicscan_model::ProbeErrorKind::ConnectionClosed,
            detail: "the peer hung up on both the SMB2 and the SMB1 negotiate".to_string(),
        });
    }
    service.probe_errors.extend(errors);
}
