//! The share list over DCE/RPC (C706, MS-RPCE) on the `srvsvc` named pipe: a BIND to the
//! SRVSVC interface (MS-SRVS 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0, NDR transfer
//! syntax), one NetrShareEnum request (opnum 15, "NetShareEnumAll") at level 1, and the NDR
//! answer: each share's name, type and remark.
//!
//! The answer comes from whoever holds port 445, so every count, pointer and string length
//! in it is checked against the bytes that are there; nothing is allocated from a count the
//! peer sent (at most [`MAX_SHARES`] shares are kept, whatever the count says).
//!
//! Hand-written: the DCE/RPC crates on crates.io (dcerpc, msrpc) are clients bound to their
//! own transports or unmaintained; the subset needed here is one bind and one call.

use crate::{Error, Frame, Reader, frame};

/// Shares kept from one answer; the rest are counted in [`ShareList::total`].
pub const MAX_SHARES: usize = 256;
/// Largest DCE/RPC fragment accepted (and asked for).
pub const MAX_FRAGMENT: u16 = 16_384;
/// Longest share name or remark kept, in UTF-16 units (a Windows share name has at most 80).
const MAX_STRING: usize = 1024;

const PTYPE_REQUEST: u8 = 0;
const PTYPE_RESPONSE: u8 = 2;
const PTYPE_FAULT: u8 = 3;
const PTYPE_BIND: u8 = 11;
const PTYPE_BIND_ACK: u8 = 12;
const PTYPE_BIND_NAK: u8 = 13;
const PFC_FIRST_FRAG: u8 = 0x01;
const PFC_LAST_FRAG: u8 = 0x02;

/// SRVSVC 4b324fc8-1670-01d3-1278-5a47bf6ee188, as it goes on the wire.
const SRVSVC_UUID: [u8; 16] = [
    0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88,
];
/// NDR 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.
const NDR_UUID: [u8; 16] = [
    0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
];

/// NetrShareEnum.
const OPNUM_NETR_SHARE_ENUM: u16 = 15;

fn pdu(ptype: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let len = 16 + body.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&[5, 0, ptype, PFC_FIRST_FRAG | PFC_LAST_FRAG, 0x10, 0, 0, 0]);
    m.extend_from_slice(&(len as u16).to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes()); // no auth
    m.extend_from_slice(&call_id.to_le_bytes());
    m.extend_from_slice(body);
    m
}

/// BIND to SRVSVC v3.0 over NDR (C706 12.6.4.3).
pub fn bind(call_id: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(56);
    b.extend_from_slice(&MAX_FRAGMENT.to_le_bytes()); // max xmit
    b.extend_from_slice(&MAX_FRAGMENT.to_le_bytes()); // max recv
    b.extend_from_slice(&0u32.to_le_bytes()); // new association group
    b.extend_from_slice(&[1, 0, 0, 0]); // one context
    b.extend_from_slice(&0u16.to_le_bytes()); // context id 0
    b.extend_from_slice(&[1, 0]); // one transfer syntax
    b.extend_from_slice(&SRVSVC_UUID);
    b.extend_from_slice(&3u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&NDR_UUID);
    b.extend_from_slice(&2u32.to_le_bytes());
    pdu(PTYPE_BIND, call_id, &b)
}

fn align4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

/// NetrShareEnum (opnum 15) at level 1 for `server` ("\\10.0.0.1"), as a REQUEST PDU.
pub fn net_share_enum_all(server: &str, call_id: u32) -> Vec<u8> {
    let name: Vec<u16> = server.encode_utf16().chain(Some(0)).collect();
    let mut s = Vec::with_capacity(64 + name.len() * 2);
    // ServerName: unique pointer to a conformant varying string
    s.extend_from_slice(&0x0002_0000u32.to_le_bytes());
    s.extend_from_slice(&(name.len() as u32).to_le_bytes());
    s.extend_from_slice(&0u32.to_le_bytes());
    s.extend_from_slice(&(name.len() as u32).to_le_bytes());
    s.extend(name.iter().flat_map(|u| u.to_le_bytes()));
    align4(&mut s);
    // InfoStruct (a reference pointer: inline): Level 1, union arm 1, pointer to an empty
    // SHARE_INFO_1_CONTAINER
    s.extend_from_slice(&1u32.to_le_bytes());
    s.extend_from_slice(&1u32.to_le_bytes());
    s.extend_from_slice(&0x0002_0004u32.to_le_bytes());
    s.extend_from_slice(&0u32.to_le_bytes()); // EntriesRead
    s.extend_from_slice(&0u32.to_le_bytes()); // Buffer: null
    s.extend_from_slice(&u32::MAX.to_le_bytes()); // PreferedMaximumLength: all
    // ResumeHandle: unique pointer to 0
    s.extend_from_slice(&0x0002_0008u32.to_le_bytes());
    s.extend_from_slice(&0u32.to_le_bytes());
    let mut b = Vec::with_capacity(8 + s.len());
    b.extend_from_slice(&(s.len() as u32).to_le_bytes()); // alloc hint
    b.extend_from_slice(&0u16.to_le_bytes()); // context id
    b.extend_from_slice(&OPNUM_NETR_SHARE_ENUM.to_le_bytes());
    b.extend_from_slice(&s);
    pdu(PTYPE_REQUEST, call_id, &b)
}

/// Framing: one whole DCE/RPC PDU at the start of `buf`.
pub fn pdu_complete(buf: &[u8]) -> Frame {
    frame(buf, "DCE/RPC header", |r| {
        let header = header(r)?;
        Ok(usize::from(header.frag_len))
    })
}

struct Header {
    ptype: u8,
    flags: u8,
    frag_len: u16,
}

fn header(r: &mut Reader<'_>) -> Result<Header, Error> {
    let version = r.u8()?;
    let minor = r.u8()?;
    if (version, minor) != (5, 0) {
        return Err(Error::unexpected(
            "DCE/RPC version",
            format_args!("{version}.{minor}"),
        ));
    }
    let ptype = r.u8()?;
    let flags = r.u8()?;
    let drep = r.array::<4>()?;
    if drep[0] & 0xf0 != 0x10 {
        // big-endian data representation: no server clinicscan meets sends it
        return Err(Error::unexpected(
            "DCE/RPC data representation",
            format_args!("{:#04x}", drep[0]),
        ));
    }
    let frag_len = r.u16_le()?;
    if frag_len < 16 || frag_len > MAX_FRAGMENT.saturating_mul(4) {
        return Err(Error::bad_length("DCE/RPC fragment", frag_len));
    }
    Ok(Header {
        ptype,
        flags,
        frag_len,
    })
}

/// Checks a BIND_ACK: the server accepted SRVSVC over NDR. A BIND_NAK or a rejected
/// context is an [`Error::Unexpected`] naming the reason.
pub fn parse_bind_ack(pdu: &[u8]) -> Result<(), Error> {
    let mut r = Reader::new(pdu, "DCE/RPC BIND_ACK");
    let h = header(&mut r)?;
    let mut r =
        Reader::new(pdu, "DCE/RPC BIND_ACK").sub(usize::from(h.frag_len), "DCE/RPC BIND_ACK")?;
    r.seek(16)?;
    match h.ptype {
        PTYPE_BIND_ACK => {}
        PTYPE_BIND_NAK => {
            let reason = r.u16_le()?;
            return Err(Error::unexpected("DCE/RPC BIND_NAK reason", reason));
        }
        t => return Err(Error::unexpected("DCE/RPC packet type", t)),
    }
    r.skip(2 + 2 + 4)?; // max xmit, max recv, association group
    let addr_len = usize::from(r.u16_le()?);
    r.skip(addr_len)?;
    let pad = (4 - r.position() % 4) % 4;
    r.skip(pad)?;
    let results = r.u8()?;
    if results == 0 {
        return Err(Error::invalid("a BIND_ACK with no context result"));
    }
    r.skip(3)?;
    let result = r.u16_le()?;
    let reason = r.u16_le()?;
    if result != 0 {
        return Err(Error::unexpected(
            "DCE/RPC presentation context result",
            format_args!("{result} (reason {reason})"),
        ));
    }
    Ok(())
}

/// One RESPONSE fragment: its stub data and whether it is the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The stub bytes of this fragment.
    pub stub: &'a [u8],
    /// PFC_LAST_FRAG is set.
    pub last: bool,
}

/// Parses a RESPONSE fragment (C706 12.6.4.10); a FAULT is an [`Error::Unexpected`] with
/// its status.
pub fn parse_response(pdu: &[u8]) -> Result<Fragment<'_>, Error> {
    let mut r = Reader::new(pdu, "DCE/RPC RESPONSE");
    let h = header(&mut r)?;
    let auth_len = usize::from(r.u16_le()?);
    let mut r =
        Reader::new(pdu, "DCE/RPC RESPONSE").sub(usize::from(h.frag_len), "DCE/RPC RESPONSE")?;
    r.seek(16)?;
    match h.ptype {
        PTYPE_RESPONSE => {}
        PTYPE_FAULT => {
            r.skip(8)?;
            let status = r.u32_le()?;
            return Err(Error::unexpected(
                "DCE/RPC fault status",
                format_args!("{status:#010x}"),
            ));
        }
        t => return Err(Error::unexpected("DCE/RPC packet type", t)),
    }
    r.skip(8)?; // alloc hint, context id, cancel count, reserved
    let stub_len = r
        .remaining()
        .checked_sub(if auth_len > 0 { auth_len + 8 } else { 0 })
        .ok_or_else(|| Error::bad_length("DCE/RPC auth", auth_len as u64))?;
    Ok(Fragment {
        stub: r.take(stub_len)?,
        last: h.flags & PFC_LAST_FRAG != 0,
    })
}

/// A share as NetrShareEnum level 1 lists it (MS-SRVS 2.2.4.23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// shi1_netname.
    pub name: String,
    /// shi1_type: the low bits are the kind (0 disk, 1 print queue, 2 device, 3 IPC),
    /// 0x80000000 a special (administrative) share, 0x40000000 a temporary one.
    pub share_type: u32,
    /// shi1_remark, when not empty.
    pub remark: Option<String>,
}

impl Share {
    /// A disk share (STYPE_DISKTREE), special or not.
    pub fn is_disk(&self) -> bool {
        self.share_type & 0x0fff_ffff == 0
    }

    /// The kind as a word: "disk", "printer", "device", "ipc" or the number.
    pub fn kind(&self) -> String {
        match self.share_type & 0x0fff_ffff {
            0 => "disk".into(),
            1 => "printer".into(),
            2 => "device".into(),
            3 => "ipc".into(),
            n => format!("{n:#x}"),
        }
    }

    /// STYPE_SPECIAL: an administrative share (C$, ADMIN$, IPC$).
    pub fn is_special(&self) -> bool {
        self.share_type & 0x8000_0000 != 0
    }
}

/// The share list of a NetrShareEnum answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareList {
    /// The shares, at most [`MAX_SHARES`].
    pub shares: Vec<Share>,
    /// How many entries the answer held (more than `shares.len()` when capped).
    pub total: u32,
    /// The WERROR the call returned (0: success).
    pub werror: u32,
}

fn align(r: &mut Reader<'_>) -> Result<(), Error> {
    r.skip((4 - r.position() % 4) % 4)
}

/// A conformant varying UTF-16 string (MS-RPCE 2.2.5.2.4.2 / C706 14.3.4.2), NUL dropped.
fn ndr_string(r: &mut Reader<'_>, keep: bool) -> Result<Option<String>, Error> {
    align(r)?;
    let max = r.u32_le()?;
    let offset = r.u32_le()?;
    let actual = r.u32_le()?;
    if offset > max || actual > max - offset {
        return Err(Error::bad_length("NDR string", u64::from(actual)));
    }
    let bytes = usize::try_from(actual)
        .ok()
        .and_then(|n| n.checked_mul(2))
        .ok_or_else(|| Error::bad_length("NDR string", u64::from(actual)))?;
    let raw = r.take(bytes)?;
    if !keep {
        return Ok(None);
    }
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .take(MAX_STRING)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    let s: String = String::from_utf16_lossy(&units)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    Ok(Some(s))
}

/// Parses the stub of a NetrShareEnum answer at level 1 (MS-SRVS 3.1.4.8): the
/// LPSHARE_ENUM_STRUCT, TotalEntries, ResumeHandle and the WERROR.
pub fn parse_share_enum(stub: &[u8]) -> Result<ShareList, Error> {
    let mut r = Reader::new(stub, "NetrShareEnum answer");
    let level = r.u32_le()?;
    let arm = r.u32_le()?;
    if level != 1 || arm != 1 {
        return Err(Error::unexpected(
            "NetrShareEnum level",
            format_args!("{level} (union arm {arm})"),
        ));
    }
    let container = r.u32_le()?;
    let mut shares = Vec::new();
    let mut total = 0u32;
    if container != 0 {
        let count = r.u32_le()?;
        let buffer = r.u32_le()?;
        if buffer != 0 {
            let conformance = r.u32_le()?;
            if conformance < count {
                return Err(Error::bad_length("SHARE_INFO_1 array", u64::from(count)));
            }
            // the fixed parts, 12 bytes each, all present before any string: reading them
            // checks the count against the bytes that are there
            let n = usize::try_from(count).unwrap_or(usize::MAX);
            let fixed_len = n
                .checked_mul(12)
                .ok_or_else(|| Error::bad_length("SHARE_INFO_1 array", u64::from(count)))?;
            let mut fixed = r.sub(fixed_len, "SHARE_INFO_1 array")?;
            shares.reserve(n.min(MAX_SHARES));
            // the deferred strings follow in entry order (name, then remark); entries past
            // the cap are read through without being kept
            for i in 0..n {
                let name_ptr = fixed.u32_le()?;
                let share_type = fixed.u32_le()?;
                let remark_ptr = fixed.u32_le()?;
                let keep = i < MAX_SHARES;
                let name = if name_ptr != 0 {
                    ndr_string(&mut r, keep)?
                } else {
                    None
                };
                let remark = if remark_ptr != 0 {
                    ndr_string(&mut r, keep)?
                } else {
                    None
                };
                if keep {
                    shares.push(Share {
                        name: name.unwrap_or_default(),
                        share_type,
                        remark: remark.filter(|s| !s.is_empty()),
                    });
                }
            }
        }
        total = count;
    }
    align(&mut r)?;
    let _total_entries = r.u32_le()?;
    if r.u32_le()? != 0 {
        r.skip(4)?; // the resume handle's value
    }
    let werror = r.u32_le()?;
    Ok(ShareList {
        shares,
        total,
        werror,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        align4(out);
        let u: Vec<u16> = s.encode_utf16().chain(Some(0)).collect();
        for n in [u.len() as u32, 0, u.len() as u32] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend(u.iter().flat_map(|x| x.to_le_bytes()));
    }

    /// A NetrShareEnum level-1 answer stub listing `shares`.
    pub(crate) fn answer(shares: &[(&str, u32, &str)]) -> Vec<u8> {
        let mut s = Vec::new();
        for n in [
            1u32,
            1,
            0x20000,
            shares.len() as u32,
            0x20004,
            shares.len() as u32,
        ] {
            s.extend_from_slice(&n.to_le_bytes());
        }
        for (i, (_, ty, _)) in shares.iter().enumerate() {
            s.extend_from_slice(&(0x20008 + i as u32 * 8).to_le_bytes());
            s.extend_from_slice(&ty.to_le_bytes());
            s.extend_from_slice(&(0x2000c + i as u32 * 8).to_le_bytes());
        }
        for (name, _, remark) in shares {
            string(&mut s, name);
            string(&mut s, remark);
        }
        align4(&mut s);
        for n in [shares.len() as u32, 0, 0] {
            s.extend_from_slice(&n.to_le_bytes());
        }
        s
    }

    #[test]
    fn parses_a_share_list() {
        let stub = answer(&[
            ("emr-backup", 0, "nightly export"),
            ("IPC$", 0x8000_0003, "IPC Service (clinic)"),
            ("staff", 0, ""),
        ]);
        let l = parse_share_enum(&stub).unwrap();
        assert_eq!(l.total, 3);
        assert_eq!(l.werror, 0);
        assert_eq!(l.shares[0].name, "emr-backup");
        assert_eq!(l.shares[0].remark.as_deref(), Some("nightly export"));
        assert!(l.shares[0].is_disk() && !l.shares[0].is_special());
        assert_eq!(l.shares[1].kind(), "ipc");
        assert!(l.shares[1].is_special() && !l.shares[1].is_disk());
        assert_eq!(l.shares[2].remark, None);
    }

    #[test]
    fn hostile_counts_and_lengths_are_errors() {
        let good = answer(&[("a", 0, "b")]);
        // a count of 2^30 entries with one entry's bytes: never allocated, an error
        let mut big = good.clone();
        big[12..16].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        big[20..24].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        assert!(matches!(
            parse_share_enum(&big),
            Err(Error::Truncated { .. })
        ));
        // conformance below the count
        let mut low = good.clone();
        low[20..24].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            parse_share_enum(&low),
            Err(Error::BadLength { .. })
        ));
        // a string whose actual count is beyond its maximum
        let mut s = good.clone();
        s[44..48].copy_from_slice(&9u32.to_le_bytes());
        assert!(matches!(parse_share_enum(&s), Err(Error::BadLength { .. })));
        for cut in 0..good.len() {
            assert!(parse_share_enum(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(matches!(
            parse_share_enum(&[2, 0, 0, 0, 2, 0, 0, 0]),
            Err(Error::Unexpected { .. })
        ));
    }

    #[test]
    fn more_shares_than_kept() {
        let names: Vec<String> = (0..MAX_SHARES + 3).map(|i| format!("s{i}")).collect();
        let list: Vec<(&str, u32, &str)> = names.iter().map(|n| (n.as_str(), 0, "")).collect();
        let l = parse_share_enum(&answer(&list)).unwrap();
        assert_eq!(l.shares.len(), MAX_SHARES);
        assert_eq!(l.total as usize, MAX_SHARES + 3);
        assert_eq!(
            l.shares[MAX_SHARES - 1].name,
            format!("s{}", MAX_SHARES - 1)
        );
    }

    #[test]
    fn pdus() {
        let b = bind(1);
        assert_eq!(pdu_complete(&b), Ok(Some(72)));
        assert_eq!(b.len(), 72);
        let q = net_share_enum_all(r"\\10.77.10.20", 2);
        assert_eq!(pdu_complete(&q), Ok(Some(q.len())));
        assert_eq!(pdu_complete(&q[..10]), Ok(None));
        assert!(pdu_complete(&[4, 0, 0, 0]).is_err());
        let mut ack = pdu(PTYPE_BIND_ACK, 1, &[]);
        let mut body = vec![0xb8, 0x10, 0xb8, 0x10, 1, 0, 0, 0, 4, 0];
        body.extend_from_slice(b"\\PIPE\\srvsvc\0"[..4].as_ref());
        body.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0; 20]);
        ack.extend_from_slice(&body);
        let n = ack.len() as u16;
        ack[8..10].copy_from_slice(&n.to_le_bytes());
        assert_eq!(parse_bind_ack(&ack), Ok(()));
        let mut nak = pdu(PTYPE_BIND_NAK, 1, &[4, 0]);
        nak[8..10].copy_from_slice(&18u16.to_le_bytes());
        assert_eq!(
            parse_bind_ack(&nak),
            Err(Error::unexpected("DCE/RPC BIND_NAK reason", 4))
        );
        let stub = answer(&[("x", 0, "")]);
        let mut resp = pdu(PTYPE_RESPONSE, 2, &[0; 8]);
        resp.extend_from_slice(&stub);
        let n = resp.len() as u16;
        resp[8..10].copy_from_slice(&n.to_le_bytes());
        let f = parse_response(&resp).unwrap();
        assert!(f.last);
        assert_eq!(f.stub, &stub[..]);
        let mut fault = pdu(PTYPE_FAULT, 2, &[0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0]);
        fault[8..10].copy_from_slice(&28u16.to_le_bytes());
        assert_eq!(
            parse_response(&fault),
            Err(Error::unexpected("DCE/RPC fault status", "0x00000005"))
        );
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = super::pdu_complete(&b);
            let _ = super::parse_bind_ack(&b);
            let _ = super::parse_response(&b);
            let _ = super::parse_share_enum(&b);
        }

        #[test]
        fn share_lists(b in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..200) {
            let mut stub = super::tests::answer(&[("a", 0, "r"), ("b", 3, "")]);
            let at = cut.min(stub.len());
            let end = at.saturating_add(b.len().min(8)).min(stub.len());
            stub.splice(at..end, b.iter().copied().take(8));
            let _ = super::parse_share_enum(&stub);
        }
    }
}
