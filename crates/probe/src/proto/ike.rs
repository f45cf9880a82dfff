//! IKE: at most five datagrams, each on its own UDP socket (so replies cannot be mixed up),
//! in two rounds:
//! 1. IKEv1 main mode with a broad transform set, and IKEv2 IKE_SA_INIT, together;
//! 2. IKEv1 aggressive mode with PSK (as `ike-scan -A` does), and — when round 1 chose a
//!    strong transform — IKEv1 main mode with only weak transforms, together.
//!
//! An IKEv2 INVALID_KE_PAYLOAD is answered once with the group the responder asked for.
//! Key exchange values are random bytes; no exchange is ever completed, and the hash an
//! aggressive-mode reply exposes is only noted, never used.
//! On UDP 4500 every datagram carries the non-ESP marker (RFC 3948).

use super::io;
use super::{ProbeContext, random_bytes};
use clinicscan_model::{
    IkeFacts, IkeVendorId, PortReason, PortState, ProbeError, ProbeErrorKind, Service, Software,
};
use clinicscan_wire::ike::{self as wire, Message, Payload};

const NAME: &str = "ike";

fn random_vec(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 32);
    while v.len() < n {
        v.extend_from_slice(&random_bytes::<32>());
    }
    v.truncate(n);
    v
}

/// What one exchange gave.
enum Outcome {
    Reply(Message),
    Silence,
    Refused,
    Invalid(String),
    Local(String),
}

/// Sends `msg` from a fresh socket and waits for a reply carrying our SPI, sending it again
/// while none comes (`io::recv_retrying`: a lost datagram does not lose the fact).
async fn exchange(
    ctx: &ProbeContext,
    nat_t: bool,
    spi: [u8; 8],
    msg: Vec<u8>,
    budget: &std::sync::atomic::AtomicUsize,
) -> Outcome {
    let sock = match io::udp_socket(ctx).await {
        Ok(s) => s,
        Err(e) => return Outcome::Local(e.to_string()),
    };
    let mut datagram = if nat_t {
        wire::NON_ESP_MARKER.to_vec()
    } else {
        Vec::new()
    };
    datagram.extend_from_slice(&msg);
    match io::udp_send(ctx, &sock, &datagram).await {
        Ok(()) => {}
        Err(io::IoError::Refused) => return Outcome::Refused,
        Err(e) => return Outcome::Local(e.to_string()),
    }
    let deadline = io::step_deadline(ctx);
    let mut again = io::Retransmit::new(ctx);
    let mut buf = vec![0u8; wire::MAX_MESSAGE + 4];
    let mut last_invalid = None;
    loop {
        let received =
            io::recv_retrying(ctx, &sock, &mut buf, deadline, &mut again, &[&datagram]).await;
        let n = match received {
            Err(io::IoError::Timeout) => {
                return last_invalid.map_or(Outcome::Silence, Outcome::Invalid);
            }
            Err(io::IoError::Refused) => return Outcome::Refused,
            Err(e) => return Outcome::Local(e.to_string()),
            Ok(n) => n,
        };
        let left = budget.load(std::sync::atomic::Ordering::Relaxed);
        if n > left {
            return Outcome::Invalid(format!(
                "replies exceeded the {} byte budget",
                ctx.max_bytes
            ));
        }
        budget.store(left - n, std::sync::atomic::Ordering::Relaxed);
        let bytes = if nat_t {
            wire::strip_non_esp_marker(&buf[..n])
        } else {
            &buf[..n]
        };
        match wire::parse_message(bytes) {
            Ok(m) if m.initiator_spi == spi => return Outcome::Reply(m),
            Ok(_) => {}
            Err(e) => last_invalid = Some(e.to_string()),
        }
    }
}

fn ke_value(group: u16) -> Vec<u8> {
    if let Some(point) = wire::ecp_public_value(group) {
        return point.to_vec();
    }
    let mut ke = random_vec(wire::ke_len(group).unwrap_or(128));
    // Keep a MODP value below the prime (every MODP prime starts with 0xFFFF...).
    if group != 31 && !ke.is_empty() {
        ke[0] = 0x40 | (ke[0] & 0x3f);
    }
    ke
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn record_common(facts: &mut IkeFacts, msg: &Message) {
    for p in &msg.payloads {
        match p {
            Payload::VendorId(v) => {
                let hex = wire::hex(v);
                if !facts.vendor_ids.iter().any(|x| x.hex == hex) {
                    facts.vendor_ids.push(IkeVendorId {
                        hex,
                        name: wire::vendor_id_name(v).map(str::to_string),
                    });
                }
            }
            Payload::Notify(t, _) => {
                push_unique(
                    &mut facts.notifications,
                    wire::notify_name(*t, msg.major_version),
                );
            }
            _ => {}
        }
    }
}

fn v1_choice(msg: &Message) -> Option<wire::V1Transform> {
    msg.payloads.iter().find_map(|p| match p {
        Payload::SaV1(t) => t.first().copied(),
        _ => None,
    })
}

fn v2_choice(msg: &Message) -> Option<String> {
    msg.payloads.iter().find_map(|p| match p {
        Payload::SaV2(t) if !t.is_empty() => Some(
            t.iter()
                .map(wire::V2Transform::text)
                .collect::<Vec<_>>()
                .join("/"),
        ),
        _ => None,
    })
}

/// Products named by vendor IDs.
const PRODUCT_VIDS: &[&str] = &[
    "strongSwan",
    "Cisco Unity",
    "Cisco VPN Concentrator",
    "Cisco",
    "Microsoft Windows",
    "Fortinet FortiGate",
    "Check Point VPN-1 / Firewall-1",
    "Juniper NetScreen",
    "SonicWall",
    "KAME/racoon",
    "Openswan/Libreswan",
];

/// Fills `service.facts.ike`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let nat_t = ctx.addr.port() == 4500;
    let budget = std::sync::atomic::AtomicUsize::new(ctx.max_bytes);
    let mut facts = IkeFacts::default();
    let mut outcomes = Vec::new();

    // Round 1: main mode (broad) and IKE_SA_INIT.
    let mm_spi: [u8; 8] = random_bytes();
    let v2_spi: [u8; 8] = random_bytes();
    let nonce: [u8; 32] = random_bytes();
    let (mm, v2) = tokio::join!(
        exchange(
            ctx,
            nat_t,
            mm_spi,
            wire::v1_main_mode(mm_spi, &wire::broad_transforms()),
            &budget
        ),
        exchange(
            ctx,
            nat_t,
            v2_spi,
            wire::v2_sa_init(v2_spi, 14, &ke_value(14), &nonce, None),
            &budget
        ),
    );
    let mut chosen = None;
    match &mm {
        Outcome::Reply(m) => {
            record_common(&mut facts, m);
            chosen = v1_choice(m);
            facts.v1 = Some(chosen.is_some());
            if let Some(t) = chosen {
                facts.v1_transform = Some(t.text());
                facts.weak_parameters.extend(t.weaknesses());
            }
        }
        Outcome::Silence => {}
        _ => {}
    }
    // A COOKIE (responder under half-open load) is echoed once, as RFC 7296 2.6 asks; an
    // INVALID_KE_PAYLOAD names the group the responder wants: ask once more with it.
    let mut v2 = v2;
    let mut group = 14;
    let mut cookie: Option<Vec<u8>> = None;
    for _ in 0..2 {
        let Outcome::Reply(m) = &v2 else { break };
        if m.major_version != 2 || v2_choice(m).is_some() {
            break;
        }
        record_common(&mut facts, m);
        let notify = |want: u16| {
            m.payloads.iter().find_map(|p| match p {
                Payload::Notify(t, d) if *t == want => Some(d.clone()),
                _ => None,
            })
        };
        if let Some(c) = notify(16_390).filter(|c| !c.is_empty() && c.len() <= 64) {
            cookie = Some(c);
        } else if let Some(g) = notify(17)
            .filter(|d| d.len() >= 2)
            .map(|d| u16::from_be_bytes([d[0], d[1]]))
            .filter(|g| *g != group && wire::ke_len(*g).is_some())
        {
            group = g;
        } else {
            break;
        }
        let spi: [u8; 8] = if cookie.is_some() {
            v2_spi
        } else {
            random_bytes()
        };
        let msg = wire::v2_sa_init(spi, group, &ke_value(group), &nonce, cookie.as_deref());
        v2 = exchange(ctx, nat_t, spi, msg, &budget).await;
    }
    if let Outcome::Reply(m) = &v2 {
        record_common(&mut facts, m);
        let choice = v2_choice(m);
        let refused = m.notifications().any(|t| t == 14);
        let proto_ok = m.major_version == 2;
        facts.v2 = if choice.is_some() || (proto_ok && !refused) {
            Some(true)
        } else {
            Some(false)
        };
        facts.v2_transform = choice;
    }

    // Round 2: aggressive mode with PSK, and weak-only main mode when round 1 chose strong.
    let am_group = chosen
        .map(|t| t.group)
        .filter(|g| wire::ke_len(*g).is_some())
        .unwrap_or(2);
    let am_spi: [u8; 8] = random_bytes();
    let weak_spi: [u8; 8] = random_bytes();
    let ask_weak = chosen.is_some_and(|t| t.weaknesses().is_empty());
    let am_nonce: [u8; 20] = random_bytes();
    let am_msg = wire::v1_aggressive(
        am_spi,
        &wire::aggressive_transforms(am_group),
        &ke_value(am_group),
        &am_nonce,
        "clinicscan@clinicscan.invalid",
    );
    let (am, weak) = tokio::join!(exchange(ctx, nat_t, am_spi, am_msg, &budget), async {
        if ask_weak {
            Some(
                exchange(
                    ctx,
                    nat_t,
                    weak_spi,
                    wire::v1_main_mode(weak_spi, &wire::weak_transforms()),
                    &budget,
                )
                .await,
            )
        } else {
            None
        }
    });
    if let Outcome::Reply(m) = &am {
        record_common(&mut facts, m);
        let psk_hash = m.exchange == wire::exchange::AGGRESSIVE
            && v1_choice(m).is_some_and(|t| t.auth == wire::v1::AUTH_PSK)
            && m.payloads.contains(&Payload::Hash);
        facts.v1_aggressive_psk = Some(psk_hash);
        if facts.v1.is_none() && m.major_version == 1 {
            facts.v1 = Some(v1_choice(m).is_some());
        }
    }
    if let Some(Outcome::Reply(m)) = &weak {
        for p in &m.payloads {
            if let Payload::VendorId(_) = p {
                record_common(&mut facts, m);
            }
        }
        if let Some(t) = v1_choice(m) {
            for w in t.weaknesses() {
                push_unique(&mut facts.weak_parameters, w);
            }
        }
    }

    outcomes.push(mm);
    outcomes.push(v2);
    outcomes.push(am);
    if let Some(w) = weak {
        outcomes.push(w);
    }
    let replied = outcomes.iter().any(|o| matches!(o, Outcome::Reply(_)));
    let refused = outcomes.iter().any(|o| matches!(o, Outcome::Refused));
    if replied {
        service.state = PortState::Open;
        service.reason = PortReason::UdpResponse;
        service.protocol = Some("ike".to_string());
        if let Some((vid, name)) = facts.vendor_ids.iter().find_map(|v| {
            v.name
                .as_deref()
                .filter(|n| PRODUCT_VIDS.contains(n))
                .map(|n| (v.hex.clone(), n.to_string()))
        }) {
            service.software = Some(Software {
                vendor: None,
                product: name,
                version: None,
                evidence: format!("IKE vendor ID {vid}"),
            });
        }
        service.facts.ike = Some(facts);
    } else if refused {
        service.state = PortState::Closed;
        service.reason = PortReason::PortUnreachable;
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Invalid(_))) {
        // Something answered, but not with IKE: the port is open, the protocol unproven.
        service.state = PortState::Open;
        service.reason = PortReason::UdpResponse;
    } else {
        // Silence: the port stays open|filtered and every IKE fact is unknown.
        service.facts.ike = Some(facts);
        service.probe_errors.push(ProbeError {
            probe: NAME.to_string(),
            kind: ProbeErrorKind::NoReply,
            detail: "no reply to IKEv1 or IKEv2".to_string(),
        });
    }
    for o in &outcomes {
        match o {
            Outcome::Invalid(d) => service.probe_errors.push(ProbeError {
                probe: NAME.to_string(),
                kind: ProbeErrorKind::InvalidMessage,
                detail: d.clone(),
            }),
            Outcome::Local(d) => service.probe_errors.push(ProbeError {
                probe: NAME.to_string(),
                kind: ProbeErrorKind::Local,
                detail: d.clone(),
            }),
            _ => {}
        }
    }
}
