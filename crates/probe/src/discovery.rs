//! Host discovery.
//!
//! - On-link IPv4 with raw access: ARP alone decides (every host on the link must answer
//!   ARP to talk IP at all), and gives the MAC.
//! - Otherwise with raw access: the packet engine ([`crate::sweep`]) pings many addresses at
//!   once, ICMP echo and SYNs to the clinic's key ports (a firewalled PC or an オン資
//!   terminal that drops ICMP still answers, or refuses, one of them). A SYN holds nothing
//!   open on the device: the kernel resets the half-open connection. An answer that comes
//!   after the address's wait still counts.
//! - Without raw access: TCP connects to the same ports, the first answer wins.
//! - Nothing: down (no-response), or unreachable when only ICMP unreachable came back.
//!
//! Connect pings and ARP wait as the scan-wide [`crate::rtt::DiscoveryWait`] says: the
//! configured timeout until some host has answered, then a smoothed estimate of the answers'
//! round trips.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use clinicscan_model::{HostReason, PortReason, PortState};
use tokio::task::JoinSet;

use crate::attempt::{Attempt, state_of};
use crate::portscan::{HostCtx, Limits, PortResult, connect_once};
use crate::raw::{ArpPinger, mac_string};
use crate::sweep::PingAnswer;

/// Ports tried by TCP ping, most telling first: remote access, Windows, web, DICOM, then
/// printers and databases — a device reachable only on its raw print port (guest Wi-Fi to a
/// multifunction printer) must not be missed. A ping only connects and closes: no byte is
/// ever written, so a raw printer port prints nothing.
pub(crate) const PING_PORTS: &[u16] = &[
    80, 443, 22, 445, 3389, 135, 139, 8080, 5900, 11112, 104, 631, 8443, 23, 9100, 515, 21, 1433,
    3306, 5432,
];

/// What discovery found.
#[derive(Debug, Clone)]
pub(crate) enum Discovery {
    /// The host answered.
    Up {
        reason: HostReason,
        detail: Option<String>,
        rtt: Option<Duration>,
        mac: Option<String>,
        /// Port results of TCP pings that completed (reused by the port scan).
        ports: Vec<(u16, PortResult)>,
    },
    /// Nothing answered.
    Down(HostReason),
}

impl Discovery {
    /// Up for a reason that needs no packet (a target the user says is up, our own address).
    pub fn given(reason: HostReason) -> Self {
        Discovery::Up {
            reason,
            detail: None,
            rtt: None,
            mac: None,
            ports: Vec::new(),
        }
    }

    /// The packet engine's answer for one address.
    pub fn from_ping(answer: PingAnswer) -> Self {
        let tcp = |port: u16, open: bool, rtt: Option<Duration>| {
            let (state, reason) = if open {
                (PortState::Open, PortReason::SynAck)
            } else {
                (PortState::Closed, PortReason::Reset)
            };
            Discovery::Up {
                reason: if open {
                    HostReason::TcpSynAck
                } else {
                    HostReason::TcpRst
                },
                detail: Some(format!("tcp/{port}")),
                rtt,
                mac: None,
                ports: vec![(
                    port,
                    PortResult {
                        state,
                        reason,
                        latency: rtt,
                        local_error: None,
                        replies_dropped: false,
                    },
                )],
            }
        };
        match answer {
            PingAnswer::Echo { rtt } => Discovery::Up {
                reason: HostReason::EchoReply,
                detail: None,
                rtt: Some(rtt),
                mac: None,
                ports: Vec::new(),
            },
            PingAnswer::Tcp { port, open, rtt } => tcp(port, open, Some(rtt)),
            PingAnswer::Late {
                port: Some((port, open)),
                rtt,
            } => tcp(port, open, Some(rtt)),
            PingAnswer::Late { port: None, rtt } => Discovery::Up {
                reason: HostReason::EchoReply,
                detail: None,
                rtt: Some(rtt),
                mac: None,
                ports: Vec::new(),
            },
            PingAnswer::Down { unreachable: true } => Discovery::Down(HostReason::Unreachable),
            PingAnswer::Down { unreachable: false } => Discovery::Down(HostReason::NoResponse),
        }
    }
}

/// ARP on the local link: the pinger, the interface and our own address on it.
pub(crate) type OnLink<'a> = (
    &'a ArpPinger,
    &'a pnet::datalink::NetworkInterface,
    std::net::Ipv4Addr,
);

/// Discovers one host by ARP (on-link, raw access) or by TCP connects. `Err` from ARP is
/// returned as `Err` so the caller can fall back and note it.
pub(crate) async fn discover(
    limits: &Arc<Limits>,
    host: &Arc<HostCtx>,
    arp: Option<OnLink<'_>>,
) -> Result<Discovery, std::io::Error> {
    let wait = &limits.discovery;
    if let (Some((arp, iface, own)), IpAddr::V4(target)) = (arp, host.addr) {
        return Ok(match arp.ping(iface, own, target, wait).await? {
            Some((mac, rtt)) => {
                wait.sample(rtt);
                Discovery::Up {
                    reason: HostReason::ArpResponse,
                    detail: None,
                    rtt: Some(rtt),
                    mac: Some(mac_string(mac)),
                    ports: Vec::new(),
                }
            }
            None => Discovery::Down(HostReason::NoResponse),
        });
    }
    Ok(connect_pings(limits, host).await)
}

/// TCP connects to the ping ports; the first to answer decides.
async fn connect_pings(limits: &Arc<Limits>, host: &Arc<HostCtx>) -> Discovery {
    let mut set: JoinSet<(u16, Attempt, Duration)> = JoinSet::new();
    for &port in PING_PORTS {
        let (l, h) = (limits.clone(), host.clone());
        set.spawn(async move {
            let Ok(_permit) = h.sem.clone().acquire_owned().await else {
                return (port, Attempt::Timeout, Duration::ZERO);
            };
            let timeout = l.discovery.current();
            let (a, rtt) = connect_once(&l, &h, port, timeout).await;
            (port, a, rtt)
        });
    }
    let mut unreachable = false;
    while let Some(r) = set.join_next().await {
        let Ok((port, a, rtt)) = r else { continue };
        let (state, port_reason) = state_of(&a);
        let reason = match a {
            Attempt::Open => HostReason::TcpSynAck,
            Attempt::Closed => HostReason::TcpRst,
            Attempt::Unreachable => {
                unreachable = true;
                continue;
            }
            Attempt::Timeout | Attempt::Local(_) => continue,
        };
        limits.discovery.sample(rtt);
        set.abort_all();
        return Discovery::Up {
            reason,
            detail: Some(format!("tcp/{port}")),
            rtt: Some(rtt),
            mac: None,
            ports: vec![(
                port,
                PortResult {
                    state,
                    reason: port_reason,
                    latency: Some(rtt),
                    local_error: None,
                    replies_dropped: false,
                },
            )],
        };
    }
    Discovery::Down(if unreachable {
        HostReason::Unreachable
    } else {
        HostReason::NoResponse
    })
}
