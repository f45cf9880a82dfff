//! SNMP: read-only GetRequests for sysDescr.0, sysObjectID.0 and sysName.0 with v2c and v1
//! for each configured community, and one SNMPv3 discovery message (RFC 3414 section 4),
//! all sent at once from one socket; replies are collected until the step deadline or
//! until every request is answered. Agents stay silent on a wrong community, so sending
//! together costs one timeout instead of one per community. Never a SetRequest.

use super::io;
use super::{ProbeContext, random_bytes};
use clinicscan_model::{
    PortReason, PortState, ProbeError, ProbeErrorKind, Service, SnmpEngine, SnmpFacts, Software,
};
use clinicscan_wire::snmp::{self as wire, Value, Version};

const NAME: &str = "snmp";
/// Most communities tried.
const MAX_COMMUNITIES: usize = 16;

struct Sent {
    request_id: i64,
    version: Version,
    community: String,
    answered: bool,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::OctetString(b) => Some(
            String::from_utf8_lossy(b)
                .trim_end_matches('\0')
                .to_string(),
        ),
        Value::Oid(o) => Some(o.clone()),
        _ => None,
    }
}

/// Fills `service.facts.snmp`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let sock = match io::udp_socket(ctx).await {
        Ok(s) => s,
        Err(e) => return local(service, e.to_string()),
    };
    let mut communities: Vec<String> = ctx.snmp_communities.clone();
    if communities.is_empty() {
        communities.push("public".to_string());
    }
    let mut seen = std::collections::HashSet::new();
    communities.retain(|c| seen.insert(c.clone()));
    communities.truncate(MAX_COMMUNITIES);

    let seed = random_bytes::<4>();
    let base = i64::from(u32::from_be_bytes(seed) & 0x3fff_ffff);
    let mut sent = Vec::new();
    let oids: [&[u32]; 3] = [&wire::SYS_DESCR, &wire::SYS_OBJECT_ID, &wire::SYS_NAME];
    // v2c answers a missing object per variable; v1 fails the whole request, so the printer
    // objects go with v2c only
    let oids_v2c: [&[u32]; 5] = [
        &wire::SYS_DESCR,
        &wire::SYS_OBJECT_ID,
        &wire::SYS_NAME,
        &wire::HR_DEVICE_TYPE_1,
        &wire::PRT_GENERAL_PRINTER_NAME_1,
    ];
    let mut refused = false;
    let mut datagrams = Vec::new();
    for c in &communities {
        for version in [Version::V2c, Version::V1] {
            let request_id = base + sent.len() as i64;
            let asked: &[&[u32]] = if version == Version::V2c {
                &oids_v2c
            } else {
                &oids
            };
            datagrams.push(wire::get_request(
                version,
                c.as_bytes(),
                request_id as i32,
                asked,
            ));
            sent.push(Sent {
                request_id,
                version,
                community: c.clone(),
                answered: false,
            });
        }
    }
    let v3_msg_id = base + sent.len() as i64;
    datagrams.push(wire::v3_discovery(v3_msg_id as i32, (v3_msg_id + 1) as i32));
    for d in &datagrams {
        match io::udp_send(ctx, &sock, d).await {
            Ok(()) => {}
            Err(io::IoError::Refused) => {
                refused = true;
                break;
            }
            Err(e) => return local(service, e.to_string()),
        }
    }

    let mut facts = SnmpFacts::default();
    let mut v3_answered = false;
    let mut replied = false;
    let mut got_datagram = false;
    let mut budget = ctx.max_bytes;
    let deadline = io::step_deadline(ctx);
    let mut again = io::Retransmit::new(ctx);
    let mut buf = vec![0u8; wire::MAX_MESSAGE];
    let mut invalid = None;
    loop {
        let all_answered = v3_answered && sent.iter().all(|s| s.answered);
        if refused || all_answered {
            break;
        }
        // Sent again while nothing answers (a lost datagram); once an agent answered, the
        // unanswered communities are simply wrong ones (agents stay silent on those).
        let unanswered: Vec<&[u8]> = if replied {
            Vec::new()
        } else {
            datagrams.iter().map(Vec::as_slice).collect()
        };
        let received =
            io::recv_retrying(ctx, &sock, &mut buf, deadline, &mut again, &unanswered).await;
        let n = match received {
            Err(io::IoError::Timeout) => break,
            Err(io::IoError::Refused) => {
                refused = true;
                break;
            }
            Err(e) => return local(service, e.to_string()),
            Ok(n) => n,
        };
        got_datagram = true;
        if n > budget {
            invalid = Some(format!(
                "replies exceeded the {} byte budget",
                ctx.max_bytes
            ));
            break;
        }
        budget -= n;
        let msg = &buf[..n];
        match wire::message_version(msg) {
            Ok(3) => match wire::parse_v3_message(msg) {
                Ok(r) if r.msg_id == v3_msg_id => {
                    replied = true;
                    v3_answered = true;
                    facts.engine = Some(SnmpEngine {
                        engine_id: r.engine_id.iter().map(|b| format!("{b:02x}")).collect(),
                        enterprise: wire::engine_enterprise(&r.engine_id),
                        boots: u32::try_from(r.boots).ok(),
                        time: u32::try_from(r.time).ok(),
                    });
                }
                Ok(_) => {}
                Err(e) => invalid = Some(e.to_string()),
            },
            Ok(_) => match wire::parse_community_message(msg) {
                Ok(r) => {
                    let Some(s) = sent
                        .iter_mut()
                        .find(|s| s.request_id == r.request_id && s.version == r.version)
                    else {
                        continue;
                    };
                    replied = true;
                    s.answered = true;
                    if r.pdu_type != wire::pdu::RESPONSE {
                        continue;
                    }
                    if !facts.versions.iter().any(|v| v == s.version.name()) {
                        facts.versions.push(s.version.name().to_string());
                    }
                    if !facts.communities_accepted.contains(&s.community) {
                        facts.communities_accepted.push(s.community.clone());
                    }
                    for vb in &r.varbinds {
                        match (vb.oid.as_str(), &vb.value) {
                            ("1.3.6.1.2.1.25.3.2.1.2.1", Value::Oid(t))
                                if t == wire::HR_DEVICE_PRINTER =>
                            {
                                facts.printer = Some(true);
                            }
                            ("1.3.6.1.2.1.43.5.1.1.16.1", Value::OctetString(_)) => {
                                facts.printer = Some(true);
                                if facts.printer_name.is_none() {
                                    facts.printer_name = text(&vb.value);
                                }
                            }
                            _ => {}
                        }
                        let slot = match vb.oid.as_str() {
                            "1.3.6.1.2.1.1.1.0" => &mut facts.sys_descr,
                            "1.3.6.1.2.1.1.2.0" => &mut facts.sys_object_id,
                            "1.3.6.1.2.1.1.5.0" => &mut facts.sys_name,
                            _ => continue,
                        };
                        if slot.is_none() {
                            *slot = text(&vb.value);
                        }
                    }
                }
                Err(e) => invalid = Some(e.to_string()),
            },
            Err(e) => invalid = Some(e.to_string()),
        }
    }
    if v3_answered {
        facts.versions.push("v3".to_string());
    }
    let order = |v: &String| match v.as_str() {
        "v1" => 0,
        "v2c" => 1,
        _ => 2,
    };
    facts.versions.sort_by_key(order);

    if let Some(d) = invalid {
        service.probe_errors.push(ProbeError {
            probe: NAME.to_string(),
            kind: ProbeErrorKind::InvalidMessage,
            detail: d,
        });
    }
    if replied {
        service.state = PortState::Open;
        service.reason = PortReason::UdpResponse;
        service.protocol = Some("snmp".to_string());
        if facts.engine.as_ref().and_then(|e| e.enterprise) == Some(8072) {
            service.software = Some(Software {
                vendor: None,
                product: "Net-SNMP".to_string(),
                version: None,
                evidence: "SNMPv3 engine ID enterprise 8072 (net-snmp)".to_string(),
            });
        }
        service.facts.snmp = Some(facts);
    } else if got_datagram {
        // Something answered, but not with SNMP for our requests: open, protocol unproven.
        service.state = PortState::Open;
        service.reason = PortReason::UdpResponse;
    } else if refused {
        service.state = PortState::Closed;
        service.reason = PortReason::PortUnreachable;
    } else {
        service.probe_errors.push(ProbeError {
            probe: NAME.to_string(),
            kind: ProbeErrorKind::NoReply,
            detail: format!(
                "no reply to v1/v2c ({} communities) or v3 discovery",
                communities.len()
            ),
        });
    }
}

fn local(service: &mut Service, detail: String) {
    service.probe_errors.push(ProbeError {
        probe: NAME.to_string(),
        kind: ProbeErrorKind::Local,
        detail,
    });
}
