//! SNMP messages over [`super::ber`]: v1/v2c GetRequest (RFC 1157, RFC 3416) and the
//! SNMPv3 discovery exchange (RFC 3412 message, RFC 3414 USM security parameters, RFC 3411
//! engine ID). Only reads: clinicscan never builds a SetRequest.

use crate::ber;
use crate::{Error, Reader};

/// sysDescr.0.
pub const SYS_DESCR: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 1, 0];
/// sysObjectID.0.
pub const SYS_OBJECT_ID: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];
/// sysName.0.
pub const SYS_NAME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 5, 0];
/// HOST-RESOURCES-MIB hrDeviceType.1: the first device's type (a printer's agent lists the
/// printer first).
pub const HR_DEVICE_TYPE_1: [u32; 12] = [1, 3, 6, 1, 2, 1, 25, 3, 2, 1, 2, 1];
/// hrDevicePrinter, the hrDeviceType value of a printer (RFC 2790).
pub const HR_DEVICE_PRINTER: &str = "1.3.6.1.2.1.25.3.1.5";
/// Printer-MIB prtGeneralPrinterName.1 (RFC 3805).
pub const PRT_GENERAL_PRINTER_NAME_1: [u32; 12] = [1, 3, 6, 1, 2, 1, 43, 5, 1, 1, 16, 1];
/// usmStatsUnknownEngineIDs.0.
pub const USM_STATS_UNKNOWN_ENGINE_IDS: &str = "1.3.6.1.6.3.15.1.1.4.0";

/// Largest datagram clinicscan reads.
pub const MAX_MESSAGE: usize = 8192;
/// Most varbinds read from one response.
const MAX_VARBINDS: usize = 32;
/// Longest engine ID (RFC 3411: 5..=32 octets).
const MAX_ENGINE_ID: usize = 32;

/// PDU tags.
pub mod pdu {
    /// GetRequest-PDU.
    pub const GET_REQUEST: u8 = 0xa0;
    /// Response-PDU (GetResponse in v1).
    pub const RESPONSE: u8 = 0xa2;
    /// SetRequest-PDU (never sent).
    pub const SET_REQUEST: u8 = 0xa3;
    /// Report-PDU.
    pub const REPORT: u8 = 0xa8;
}

/// SNMP version field values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SNMPv1 (0).
    V1,
    /// SNMPv2c (1).
    V2c,
    /// SNMPv3 (3).
    V3,
}

impl Version {
    fn wire(self) -> i64 {
        match self {
            Version::V1 => 0,
            Version::V2c => 1,
            Version::V3 => 3,
        }
    }

    /// "v1", "v2c", "v3".
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2c => "v2c",
            Version::V3 => "v3",
        }
    }
}

/// A variable binding's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// OCTET STRING.
    OctetString(Vec<u8>),
    /// OBJECT IDENTIFIER, dotted.
    Oid(String),
    /// INTEGER.
    Integer(i64),
    /// Counter32, Gauge32, TimeTicks.
    Unsigned(u32),
    /// NULL.
    Null,
    /// noSuchObject, noSuchInstance, endOfMibView (v2c exceptions).
    Exception(u8),
    /// Anything else: tag only.
    Other(u8),
}

/// A variable binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarBind {
    /// The OID, dotted.
    pub oid: String,
    /// The value.
    pub value: Value,
}

/// A v1/v2c response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityResponse {
    /// Version of the message.
    pub version: Version,
    /// Community echoed.
    pub community: Vec<u8>,
    /// PDU tag.
    pub pdu_type: u8,
    /// request-id.
    pub request_id: i64,
    /// error-status.
    pub error_status: i64,
    /// Variable bindings.
    pub varbinds: Vec<VarBind>,
}

/// An SNMPv3 response (unauthenticated: a discovery REPORT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Response {
    /// msgID.
    pub msg_id: i64,
    /// Authoritative engine ID.
    pub engine_id: Vec<u8>,
    /// Engine boots.
    pub boots: i64,
    /// Engine time.
    pub time: i64,
    /// PDU tag, when the scoped PDU was in plaintext.
    pub pdu_type: Option<u8>,
    /// Variable bindings of the plaintext PDU.
    pub varbinds: Vec<VarBind>,
}

fn varbind_list(oids: &[&[u32]]) -> Vec<u8> {
    let mut list = Vec::new();
    for oid in oids {
        let mut vb = ber::encode_oid(oid);
        vb.extend_from_slice(&[ber::NULL, 0]);
        ber::put(&mut list, ber::SEQUENCE, &vb);
    }
    ber::tlv(ber::SEQUENCE, &list)
}

fn get_pdu(request_id: i32, oids: &[&[u32]]) -> Vec<u8> {
    let mut body = ber::encode_integer(i64::from(request_id));
    body.extend_from_slice(&ber::encode_integer(0));
    body.extend_from_slice(&ber::encode_integer(0));
    body.extend_from_slice(&varbind_list(oids));
    ber::tlv(pdu::GET_REQUEST, &body)
}

/// A v1 or v2c GetRequest for `oids`.
pub fn get_request(
    version: Version,
    community: &[u8],
    request_id: i32,
    oids: &[&[u32]],
) -> Vec<u8> {
    let mut body = ber::encode_integer(version.wire());
    ber::put(&mut body, ber::OCTET_STRING, community);
    body.extend_from_slice(&get_pdu(request_id, oids));
    ber::tlv(ber::SEQUENCE, &body)
}

/// The SNMPv3 discovery message (RFC 3414 section 4): noAuthNoPriv, reportable, empty
/// engine ID and user name, a GetRequest with no variable bindings.
pub fn v3_discovery(msg_id: i32, request_id: i32) -> Vec<u8> {
    let mut global = ber::encode_integer(i64::from(msg_id));
    global.extend_from_slice(&ber::encode_integer(65_507)); // msgMaxSize
    ber::put(&mut global, ber::OCTET_STRING, &[0x04]); // reportable
    global.extend_from_slice(&ber::encode_integer(3)); // USM
    let mut usm = Vec::new();
    ber::put(&mut usm, ber::OCTET_STRING, &[]); // engine ID
    usm.extend_from_slice(&ber::encode_integer(0)); // boots
    usm.extend_from_slice(&ber::encode_integer(0)); // time
    for _ in 0..3 {
        ber::put(&mut usm, ber::OCTET_STRING, &[]); // user, auth, priv
    }
    let mut scoped = Vec::new();
    ber::put(&mut scoped, ber::OCTET_STRING, &[]); // contextEngineID
    ber::put(&mut scoped, ber::OCTET_STRING, &[]); // contextName
    scoped.extend_from_slice(&get_pdu(request_id, &[]));

    let mut body = ber::encode_integer(3);
    ber::put(&mut body, ber::SEQUENCE, &global);
    ber::put(&mut body, ber::OCTET_STRING, &ber::tlv(ber::SEQUENCE, &usm));
    ber::put(&mut body, ber::SEQUENCE, &scoped);
    ber::tlv(ber::SEQUENCE, &body)
}

/// The version field of a message, to dispatch to the right parser.
pub fn message_version(buf: &[u8]) -> Result<i64, Error> {
    let mut msg = ber::nested(
        &mut Reader::new(buf, "SNMP message"),
        ber::SEQUENCE,
        "SNMP message",
    )?;
    ber::read_integer(&mut msg)
}

/// The outer SEQUENCE of a message no larger than [`MAX_MESSAGE`].
fn message(buf: &[u8]) -> Result<Reader<'_>, Error> {
    if buf.len() > MAX_MESSAGE {
        return Err(Error::TooLarge {
            what: "SNMP message",
            len: buf.len(),
        });
    }
    ber::nested(
        &mut Reader::new(buf, "SNMP message"),
        ber::SEQUENCE,
        "SNMP message",
    )
}

fn parse_value(t: ber::Tlv<'_>) -> Value {
    match t.tag {
        ber::OCTET_STRING => Value::OctetString(t.content.to_vec()),
        ber::OID => ber::oid_text(t.content).map_or(Value::Other(t.tag), Value::Oid),
        ber::INTEGER => ber::integer(t.content).map_or(Value::Other(t.tag), Value::Integer),
        0x41..=0x43 => ber::unsigned32(t.content).map_or(Value::Other(t.tag), Value::Unsigned),
        ber::NULL => Value::Null,
        0x80..=0x82 => Value::Exception(t.tag),
        other => Value::Other(other),
    }
}

/// Parses a PDU element (any of the response-like tags); returns tag, request-id,
/// error-status and the varbinds.
fn parse_pdu(r: &mut Reader<'_>) -> Result<(u8, i64, i64, Vec<VarBind>), Error> {
    let t = ber::read(r)?;
    if !matches!(t.tag, pdu::RESPONSE | pdu::REPORT | pdu::GET_REQUEST) {
        return Err(Error::unexpected(
            "SNMP PDU tag",
            format_args!("0x{:02x}", t.tag),
        ));
    }
    let mut p = Reader::new(t.content, "SNMP PDU");
    let request_id = ber::read_integer(&mut p)?;
    let error_status = ber::read_integer(&mut p)?;
    let _error_index = ber::read_integer(&mut p)?;
    let mut list = ber::nested(&mut p, ber::SEQUENCE, "SNMP varbind list")?;
    let mut varbinds = Vec::new();
    while !list.is_empty() && varbinds.len() < MAX_VARBINDS {
        let mut vb = ber::nested(&mut list, ber::SEQUENCE, "SNMP varbind")?;
        let oid = ber::oid_text(ber::expect(&mut vb, ber::OID)?)?;
        let value = parse_value(ber::read(&mut vb)?);
        varbinds.push(VarBind { oid, value });
    }
    Ok((t.tag, request_id, error_status, varbinds))
}

/// Parses a v1/v2c message.
pub fn parse_community_message(buf: &[u8]) -> Result<CommunityResponse, Error> {
    let mut msg = message(buf)?;
    let version = match ber::read_integer(&mut msg)? {
        0 => Version::V1,
        1 => Version::V2c,
        v => return Err(Error::unexpected("SNMP version", v)),
    };
    let community = ber::expect(&mut msg, ber::OCTET_STRING)?.to_vec();
    let (pdu_type, request_id, error_status, varbinds) = parse_pdu(&mut msg)?;
    Ok(CommunityResponse {
        version,
        community,
        pdu_type,
        request_id,
        error_status,
        varbinds,
    })
}

/// Parses an SNMPv3 message far enough to read the engine parameters and, when in
/// plaintext (noAuthNoPriv or a REPORT), the PDU.
pub fn parse_v3_message(buf: &[u8]) -> Result<V3Response, Error> {
    let mut msg = message(buf)?;
    let v = ber::read_integer(&mut msg)?;
    if v != 3 {
        return Err(Error::unexpected("SNMP version", v));
    }
    let mut global = ber::nested(&mut msg, ber::SEQUENCE, "SNMPv3 global data")?;
    let msg_id = ber::read_integer(&mut global)?;
    let mut sec = ber::nested(&mut msg, ber::OCTET_STRING, "SNMPv3 security parameters")?;
    let mut usm = ber::nested(&mut sec, ber::SEQUENCE, "SNMPv3 USM parameters")?;
    let engine_id = ber::expect(&mut usm, ber::OCTET_STRING)?;
    if engine_id.len() > MAX_ENGINE_ID {
        return Err(Error::bad_length("SNMP engine id", engine_id.len() as u64));
    }
    let boots = ber::read_integer(&mut usm)?;
    let time = ber::read_integer(&mut usm)?;
    let (pdu_type, varbinds) = match ber::read(&mut msg) {
        Ok(t) if t.tag == ber::SEQUENCE => {
            let mut scoped = Reader::new(t.content, "SNMPv3 scoped PDU");
            let _context_engine = ber::expect(&mut scoped, ber::OCTET_STRING)?;
            let _context_name = ber::expect(&mut scoped, ber::OCTET_STRING)?;
            let (tag, _, _, vbs) = parse_pdu(&mut scoped)?;
            (Some(tag), vbs)
        }
        // An encrypted scoped PDU (OCTET STRING): nothing more to read.
        _ => (None, Vec::new()),
    };
    Ok(V3Response {
        msg_id,
        engine_id: engine_id.to_vec(),
        boots,
        time,
        pdu_type,
        varbinds,
    })
}

/// The IANA enterprise number of an engine ID (RFC 3411 SnmpEngineID: the first four
/// octets, with the high bit set in the RFC 3411 format and clear in the older RFC 1910
/// format).
pub fn engine_enterprise(engine_id: &[u8]) -> Option<u32> {
    let b = engine_id.get(..4)?;
    if engine_id.len() < 5 {
        return None;
    }
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/snmp/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn get_request_encoding_matches_net_snmp() {
        // `snmpget -v2c -c public HOST sysDescr.0` with request-id 0x1234.
        let r = get_request(Version::V2c, b"public", 0x1234, &[&SYS_DESCR]);
        assert_eq!(
            r,
            [
                0x30, 0x27, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0,
                0x1a, 0x02, 0x02, 0x12, 0x34, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30,
                0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00
            ]
        );
        let parsed = parse_community_message(&r).unwrap();
        assert_eq!(parsed.pdu_type, pdu::GET_REQUEST);
        assert_eq!(parsed.varbinds[0].oid, "1.3.6.1.2.1.1.1.0");
    }

    #[test]
    fn discovery_message_parses_back() {
        let m = v3_discovery(77, 78);
        let p = parse_v3_message(&m).unwrap();
        assert_eq!(p.msg_id, 77);
        assert!(p.engine_id.is_empty());
        assert_eq!(p.pdu_type, Some(pdu::GET_REQUEST));
        assert!(p.varbinds.is_empty());
    }

    #[test]
    fn recorded_v2c_response() {
        let b = fixture("csv-snmpd-v2c-public.bin");
        assert_eq!(message_version(&b), Ok(1));
        let r = parse_community_message(&b).unwrap();
        assert_eq!(r.version, Version::V2c);
        assert_eq!(r.community, b"public");
        assert_eq!(r.pdu_type, pdu::RESPONSE);
        assert_eq!(r.error_status, 0);
        assert_eq!(r.varbinds.len(), 3);
        assert_eq!(r.varbinds[0].oid, "1.3.6.1.2.1.1.1.0");
        assert_eq!(
            r.varbinds[0].value,
            Value::OctetString(b"clinicscan lab snmpd".to_vec())
        );
        assert_eq!(
            r.varbinds[1].value,
            Value::Oid("1.3.6.1.4.1.8072.3.2.10".into())
        );
        assert_eq!(
            r.varbinds[2].value,
            Value::OctetString(b"csv-snmp".to_vec())
        );
    }

    #[test]
    fn recorded_v1_response() {
        let r = parse_community_message(&fixture("csv-snmpd-v1-public.bin")).unwrap();
        assert_eq!(r.version, Version::V1);
        assert_eq!(r.varbinds.len(), 3);
    }

    #[test]
    fn recorded_v3_report() {
        let b = fixture("csv-snmpd-v3-report.bin");
        assert_eq!(message_version(&b), Ok(3));
        let r = parse_v3_message(&b).unwrap();
        assert_eq!(r.pdu_type, Some(pdu::REPORT));
        assert_eq!(r.varbinds[0].oid, USM_STATS_UNKNOWN_ENGINE_IDS);
        assert_eq!(engine_enterprise(&r.engine_id), Some(8072));
        assert_eq!(r.engine_id[0] & 0x80, 0x80);
    }

    #[test]
    fn malformed_messages_are_errors() {
        let good = fixture("csv-snmpd-v2c-public.bin");
        for cut in 0..good.len() {
            assert!(parse_community_message(&good[..cut]).is_err(), "cut {cut}");
        }
        let v3 = fixture("csv-snmpd-v3-report.bin");
        for cut in 0..v3.len() {
            assert!(parse_v3_message(&v3[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(
            parse_community_message(&v3),
            Err(Error::unexpected("SNMP version", 3))
        );
        let mut set = get_request(Version::V2c, b"public", 1, &[&SYS_NAME]);
        set[13] = pdu::SET_REQUEST;
        assert_eq!(
            parse_community_message(&set),
            Err(Error::unexpected("SNMP PDU tag", "0xa3"))
        );
        assert_eq!(
            parse_community_message(&vec![0x30; MAX_MESSAGE + 1]),
            Err(Error::TooLarge {
                what: "SNMP message",
                len: MAX_MESSAGE + 1
            })
        );
        assert_eq!(engine_enterprise(&[0x80, 0, 0x1f, 0x88]), None);
        assert_eq!(engine_enterprise(&[0x80, 0, 0x1f, 0x88, 0x80]), Some(8072));
        assert_eq!(
            engine_enterprise(&[0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8]),
            Some(9)
        );
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = message_version(&b);
            let _ = parse_community_message(&b);
            let _ = parse_v3_message(&b);
        }
    }
}
