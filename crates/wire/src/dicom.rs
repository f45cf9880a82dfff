//! DICOM upper layer (PS3.8 section 9.3) for a Verification association: A-ASSOCIATE-RQ,
//! -AC, -RJ, A-ABORT, P-DATA-TF carrying a C-ECHO (PS3.7 section 9.3.5), A-RELEASE.
//!
//! The C-ECHO command set is encoded in Implicit VR Little Endian (PS3.5 section A.1), as
//! PS3.7 requires for every command set.

use crate::{Error, Frame, Reader, frame};

/// Verification SOP Class.
pub const VERIFICATION_SOP_CLASS: &str = "1.2.840.10008.1.1";
/// DICOM Application Context Name.
pub const APPLICATION_CONTEXT: &str = "1.2.840.10008.3.1.1.1";
/// Implicit VR Little Endian.
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR Little Endian.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// clinicscan's implementation class UID (a UUID-derived UID under 2.25, PS3.5 B.2).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.255207837101231471883014935866330405711";
/// clinicscan's implementation version name (at most 16 characters).
pub const IMPLEMENTATION_VERSION: &str = "CLINICSCAN_1";

/// Largest PDU clinicscan accepts from a peer.
pub const MAX_PDU: usize = 65_536;
/// Max PDU length clinicscan announces.
pub const OUR_MAX_PDU: u32 = 16_384;

/// PDU types.
pub mod pdu {
    /// A-ASSOCIATE-RQ.
    pub const ASSOCIATE_RQ: u8 = 0x01;
    /// A-ASSOCIATE-AC.
    pub const ASSOCIATE_AC: u8 = 0x02;
    /// A-ASSOCIATE-RJ.
    pub const ASSOCIATE_RJ: u8 = 0x03;
    /// P-DATA-TF.
    pub const P_DATA_TF: u8 = 0x04;
    /// A-RELEASE-RQ.
    pub const RELEASE_RQ: u8 = 0x05;
    /// A-RELEASE-RP.
    pub const RELEASE_RP: u8 = 0x06;
    /// A-ABORT.
    pub const ABORT: u8 = 0x07;
}

/// A-ASSOCIATE-AC, the parts clinicscan reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssociateAc {
    /// Presentation context results: (id, result, transfer syntax).
    pub contexts: Vec<(u8, u8, Option<String>)>,
    /// Max PDU length the peer accepts.
    pub max_pdu: Option<u32>,
    /// Implementation Class UID.
    pub implementation_class_uid: Option<String>,
    /// Implementation Version Name.
    pub implementation_version: Option<String>,
}

/// A-ASSOCIATE-RJ fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssociateRj {
    /// 1 rejected-permanent, 2 rejected-transient.
    pub result: u8,
    /// 1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation).
    pub source: u8,
    /// Reason/diagnostic.
    pub reason: u8,
}

impl AssociateRj {
    /// "rejected-permanent; service-user; calling-AE-title-not-recognized".
    pub fn text(&self) -> String {
        let result = match self.result {
            1 => "rejected-permanent",
            2 => "rejected-transient",
            _ => "unknown-result",
        };
        let (source, reason) = match self.source {
            1 => (
                "service-user",
                match self.reason {
                    1 => "no-reason-given",
                    2 => "application-context-name-not-supported",
                    3 => "calling-AE-title-not-recognized",
                    7 => "called-AE-title-not-recognized",
                    _ => "reserved",
                },
            ),
            2 => (
                "service-provider-acse",
                match self.reason {
                    1 => "no-reason-given",
                    2 => "protocol-version-not-supported",
                    _ => "reserved",
                },
            ),
            3 => (
                "service-provider-presentation",
                match self.reason {
                    0 => "reserved",
                    1 => "temporary-congestion",
                    2 => "local-limit-exceeded",
                    _ => "reserved",
                },
            ),
            _ => ("unknown-source", "unknown"),
        };
        format!("{result}; {source}; {reason}")
    }
}

/// A-ABORT fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abort {
    /// 0 service-user, 2 service-provider.
    pub source: u8,
    /// Reason (provider aborts).
    pub reason: u8,
}

impl Abort {
    /// "service-provider; unexpected-PDU".
    pub fn text(&self) -> String {
        let source = match self.source {
            0 => "service-user",
            2 => "service-provider",
            _ => "reserved",
        };
        let reason = match self.reason {
            0 => "reason-not-specified",
            1 => "unrecognized-PDU",
            2 => "unexpected-PDU",
            4 => "unrecognized-PDU-parameter",
            5 => "unexpected-PDU-parameter",
            6 => "invalid-PDU-parameter-value",
            _ => "reserved",
        };
        format!("{source}; {reason}")
    }
}

/// One PDU a peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    /// A-ASSOCIATE-AC.
    AssociateAc(AssociateAc),
    /// A-ASSOCIATE-RJ.
    AssociateRj(AssociateRj),
    /// P-DATA-TF: the PDVs (context id, control header, data).
    PData(Vec<(u8, u8, Vec<u8>)>),
    /// A-RELEASE-RQ.
    ReleaseRq,
    /// A-RELEASE-RP.
    ReleaseRp,
    /// A-ABORT.
    Abort(Abort),
    /// A-ASSOCIATE-RQ (only a peer that echoes would send this).
    AssociateRq,
}

fn ae_field(ae: &str) -> [u8; 16] {
    let mut f = [b' '; 16];
    for (dst, src) in f
        .iter_mut()
        .zip(ae.bytes().filter(|b| b.is_ascii_graphic() || *b == b' '))
    {
        *dst = src;
    }
    f
}

fn uid_bytes(uid: &str) -> Vec<u8> {
    uid.as_bytes().to_vec()
}

fn item(out: &mut Vec<u8>, kind: u8, content: &[u8]) {
    out.push(kind);
    out.push(0);
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(content);
}

fn pdu_bytes(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind, 0];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A-ASSOCIATE-RQ proposing Verification (context id 1) with Implicit and Explicit VR
/// Little Endian.
pub fn associate_rq(calling_ae: &str, called_ae: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&ae_field(called_ae));
    body.extend_from_slice(&ae_field(calling_ae));
    body.extend_from_slice(&[0u8; 32]);
    item(&mut body, 0x10, &uid_bytes(APPLICATION_CONTEXT));
    let mut pc = vec![1, 0, 0, 0];
    item(&mut pc, 0x30, &uid_bytes(VERIFICATION_SOP_CLASS));
    item(&mut pc, 0x40, &uid_bytes(IMPLICIT_VR_LE));
    item(&mut pc, 0x40, &uid_bytes(EXPLICIT_VR_LE));
    item(&mut body, 0x20, &pc);
    let mut user = Vec::new();
    item(&mut user, 0x51, &OUR_MAX_PDU.to_be_bytes());
    item(&mut user, 0x52, &uid_bytes(IMPLEMENTATION_CLASS_UID));
    item(&mut user, 0x55, IMPLEMENTATION_VERSION.as_bytes());
    item(&mut body, 0x50, &user);
    pdu_bytes(pdu::ASSOCIATE_RQ, &body)
}

/// A-RELEASE-RQ.
pub fn release_rq() -> Vec<u8> {
    pdu_bytes(pdu::RELEASE_RQ, &[0; 4])
}

fn element(out: &mut Vec<u8>, elem: u16, value: &[u8]) {
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

/// C-ECHO-RQ command set (Implicit VR LE), in one P-DATA-TF PDV on context `pc_id`.
pub fn c_echo_rq(pc_id: u8, message_id: u16) -> Vec<u8> {
    let mut uid = uid_bytes(VERIFICATION_SOP_CLASS);
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    let mut rest = Vec::new();
    element(&mut rest, 0x0002, &uid);
    element(&mut rest, 0x0100, &0x0030u16.to_le_bytes());
    element(&mut rest, 0x0110, &message_id.to_le_bytes());
    element(&mut rest, 0x0800, &0x0101u16.to_le_bytes());
    let mut cmd = Vec::new();
    element(&mut cmd, 0x0000, &(rest.len() as u32).to_le_bytes());
    cmd.extend_from_slice(&rest);
    let mut pdv = Vec::new();
    pdv.extend_from_slice(&((cmd.len() + 2) as u32).to_be_bytes());
    pdv.push(pc_id);
    pdv.push(0x03); // command, last fragment
    pdv.extend_from_slice(&cmd);
    pdu_bytes(pdu::P_DATA_TF, &pdv)
}

/// Reads a PDU header: the type and the body length, within [`MAX_PDU`].
fn pdu_header(r: &mut Reader<'_>) -> Result<(u8, usize), Error> {
    let ty = r.u8()?;
    r.skip(1)?;
    let len = r.u32()?;
    if len as usize > MAX_PDU {
        return Err(Error::bad_length("DICOM PDU", len));
    }
    Ok((ty, len as usize))
}

/// Framing: a whole PDU at the start of `buf`.
pub fn pdu_len(buf: &[u8]) -> Frame {
    frame(buf, "DICOM PDU", |r| Ok(6 + pdu_header(r)?.1))
}

/// Splits `body` into items (type, content).
fn items(body: &[u8]) -> Result<Vec<(u8, &[u8])>, Error> {
    let mut r = Reader::new(body, "DICOM item");
    let mut out = Vec::new();
    while !r.is_empty() {
        let kind = r.u8()?;
        r.skip(1)?;
        let len = usize::from(r.u16()?);
        out.push((kind, r.take(len)?));
    }
    Ok(out)
}

fn uid_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches(['\0', ' '])
        .to_string()
}

/// Parses one PDU.
pub fn parse_pdu(buf: &[u8]) -> Result<Pdu, Error> {
    let mut r = Reader::new(buf, "DICOM PDU");
    let (ty, len) = pdu_header(&mut r)?;
    let mut body = r.sub(len, "DICOM PDU")?;
    match ty {
        pdu::ASSOCIATE_AC => {
            body.skip(68)?;
            let mut ac = AssociateAc::default();
            for (kind, content) in items(body.rest())? {
                match kind {
                    0x21 => {
                        let mut c = Reader::new(content, "DICOM presentation context");
                        let [id, _, result, _] = c.array()?;
                        let ts = items(c.rest())?
                            .into_iter()
                            .find(|(k, _)| *k == 0x40)
                            .map(|(_, c)| uid_text(c));
                        ac.contexts.push((id, result, ts));
                    }
                    0x50 => {
                        for (sub, c) in items(content)? {
                            match sub {
                                0x51 if c.len() == 4 => {
                                    ac.max_pdu = Some(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
                                }
                                0x52 => ac.implementation_class_uid = Some(uid_text(c)),
                                0x55 => {
                                    ac.implementation_version =
                                        Some(String::from_utf8_lossy(c).trim().to_string());
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(Pdu::AssociateAc(ac))
        }
        pdu::ASSOCIATE_RJ => {
            let [_, result, source, reason] = body.array()?;
            Ok(Pdu::AssociateRj(AssociateRj {
                result,
                source,
                reason,
            }))
        }
        pdu::ABORT => {
            let [_, _, source, reason] = body.array()?;
            Ok(Pdu::Abort(Abort { source, reason }))
        }
        pdu::P_DATA_TF => {
            let mut pdvs = Vec::new();
            while !body.is_empty() {
                let ilen = body.u32()?;
                if ilen < 2 {
                    return Err(Error::bad_length("DICOM PDV item", ilen));
                }
                let mut pdv = body.sub(ilen as usize, "DICOM PDV item")?;
                let [context, header] = pdv.array()?;
                pdvs.push((context, header, pdv.rest().to_vec()));
            }
            Ok(Pdu::PData(pdvs))
        }
        pdu::RELEASE_RQ => Ok(Pdu::ReleaseRq),
        pdu::RELEASE_RP => Ok(Pdu::ReleaseRp),
        pdu::ASSOCIATE_RQ => Ok(Pdu::AssociateRq),
        other => Err(Error::unexpected(
            "DICOM PDU type",
            format_args!("0x{other:02x}"),
        )),
    }
}

/// The fields of a command set that clinicscan reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Command {
    /// (0000,0100) Command Field.
    pub command_field: Option<u16>,
    /// (0000,0120) Message ID Being Responded To.
    pub responded_to: Option<u16>,
    /// (0000,0900) Status.
    pub status: Option<u16>,
}

/// C-ECHO-RSP command field.
pub const C_ECHO_RSP: u16 = 0x8030;

/// Parses an Implicit VR Little Endian command set.
pub fn parse_command(b: &[u8]) -> Result<Command, Error> {
    let mut r = Reader::new(b, "DICOM command set");
    let mut cmd = Command::default();
    while !r.is_empty() {
        let group = r.u16_le()?;
        let elem = r.u16_le()?;
        let len = usize::try_from(r.u32_le()?).unwrap_or(usize::MAX);
        let value = r.take(len)?;
        let us = (value.len() == 2).then(|| u16::from_le_bytes([value[0], value[1]]));
        if group == 0 {
            match elem {
                0x0100 => cmd.command_field = us,
                0x0120 => cmd.responded_to = us,
                0x0900 => cmd.status = us,
                _ => {}
            }
        }
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/dicom/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn associate_rq_layout() {
        let rq = associate_rq("CLINICSCAN", "ANY-SCP");
        assert_eq!(rq[0], pdu::ASSOCIATE_RQ);
        assert_eq!(pdu_len(&rq), Ok(Some(rq.len())));
        assert_eq!(&rq[10..26], b"ANY-SCP         ");
        assert_eq!(&rq[26..42], b"CLINICSCAN      ");
        let it = items(&rq[74..]).unwrap();
        assert_eq!(
            it.iter().map(|i| i.0).collect::<Vec<_>>(),
            vec![0x10, 0x20, 0x50]
        );
    }

    #[test]
    fn c_echo_rq_command_parses_back() {
        let p = c_echo_rq(1, 7);
        let Pdu::PData(pdvs) = parse_pdu(&p).unwrap() else {
            panic!()
        };
        assert_eq!(pdvs.len(), 1);
        assert_eq!((pdvs[0].0, pdvs[0].1), (1, 3));
        let c = parse_command(&pdvs[0].2).unwrap();
        assert_eq!(c.command_field, Some(0x0030));
        // The group length covers the rest of the command set exactly.
        let data = &pdvs[0].2;
        assert_eq!(
            u32::from_le_bytes(data[8..12].try_into().unwrap()) as usize,
            data.len() - 12
        );
    }

    #[test]
    fn recorded_storescp_accept() {
        let b = fixture("csv-storescp-associate-ac.bin");
        assert_eq!(pdu_len(&b), Ok(Some(b.len())));
        let Pdu::AssociateAc(ac) = parse_pdu(&b).unwrap() else {
            panic!("not an AC")
        };
        // storescp prefers Explicit VR Little Endian of the two offered.
        assert_eq!(ac.contexts, vec![(1, 0, Some(EXPLICIT_VR_LE.to_string()))]);
        assert_eq!(
            ac.implementation_class_uid.as_deref(),
            Some("1.2.276.0.7230010.3.0.3.6.7")
        );
        assert_eq!(
            ac.implementation_version.as_deref(),
            Some("OFFIS_DCMTK_367")
        );
        assert_eq!(ac.max_pdu, Some(16_384));
    }

    #[test]
    fn recorded_echo_response() {
        let b = fixture("csv-storescp-echo-rsp.bin");
        let Pdu::PData(pdvs) = parse_pdu(&b).unwrap() else {
            panic!("not P-DATA")
        };
        let c = parse_command(&pdvs[0].2).unwrap();
        assert_eq!(c.command_field, Some(C_ECHO_RSP));
        assert_eq!(c.responded_to, Some(1));
        assert_eq!(c.status, Some(0));
    }

    #[test]
    fn recorded_release_rp() {
        assert_eq!(
            parse_pdu(&fixture("csv-storescp-release-rp.bin")),
            Ok(Pdu::ReleaseRp)
        );
    }

    #[test]
    fn recorded_reject_of_unknown_calling_ae() {
        let Pdu::AssociateRj(rj) = parse_pdu(&fixture("csv-dcmqrscp-associate-rj.bin")).unwrap()
        else {
            panic!("not an RJ")
        };
        assert_eq!(
            rj.text(),
            "rejected-permanent; service-user; called-AE-title-not-recognized"
        );
    }

    #[test]
    fn abort_text() {
        let Pdu::Abort(a) = parse_pdu(&[7, 0, 0, 0, 0, 4, 0, 0, 2, 2]).unwrap() else {
            panic!()
        };
        assert_eq!(a.text(), "service-provider; unexpected-PDU");
    }

    #[test]
    fn malformed_pdus_are_errors() {
        let err = |b: &[u8]| parse_pdu(b).unwrap_err().to_string();
        assert_eq!(err(&[2, 0, 0, 0]), "DICOM PDU: length 4 bytes, need 6");
        assert_eq!(
            err(&[2, 0, 0xff, 0xff, 0xff, 0xff]),
            "DICOM PDU length 4294967295 out of bounds"
        );
        assert!(pdu_len(&[2, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(pdu_len(&[2, 0, 0, 0, 0]), Ok(None));
        assert_eq!(err(&[9, 0, 0, 0, 0, 0]), "unexpected DICOM PDU type 0x09");
        let mut bad_item = vec![2, 0, 0, 0, 0, 72];
        bad_item.extend_from_slice(&[0; 68]);
        bad_item.extend_from_slice(&[0x21, 0, 0xff, 0xff]);
        assert_eq!(err(&bad_item), "DICOM item: length 4 bytes, need 65539");
        assert_eq!(
            err(&[4, 0, 0, 0, 0, 5, 0, 0, 0, 1, 1]),
            "DICOM PDV item length 1 out of bounds"
        );
        assert_eq!(
            parse_command(&[0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff])
                .unwrap_err()
                .to_string(),
            format!(
                "DICOM command set: length 8 bytes, need {}",
                8 + 0xffff_ffffusize
            )
        );
        let ac = fixture("csv-storescp-associate-ac.bin");
        for cut in 0..ac.len() {
            assert!(parse_pdu(&ac[..cut]).is_err(), "cut {cut}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = pdu_len(&b);
            let _ = parse_pdu(&b);
            let _ = parse_command(&b);
        }
    }
}
