//! Host discovery.
//!
//! - On-link IPv4 with raw access: ARP alone decides (every host on the link must answer
//!   ARP to talk IP at all), and gives the MAC.
//! - Otherwise, in parallel: ICMP echo when privileged, and TCP pings to the clinic's key
//!   ports always (a firewalled PC or an オン資 terminal that drops ICMP still answers, or
//!   refuses, one of them). SYN-ACK or RST: up. The first answer wins. Privileged, a TCP
//!   ping is one raw SYN (the kernel resets the half-open connection: no socket, no file
//!   descriptor, no connection the device must hold); otherwise a connect.
//! - Nothing: down (no-response), or unreachable when only ICMP unreachable came back.
//!
//! Every wait is the scan-wide [`crate::rtt::DiscoveryWait`]: the configured timeout until
//! some host has answered, then a smoothed estimate of the answers' round trips, so that on
//! a LAN an address with no host costs a few hundred milliseconds, not the full timeout.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use clinicscan_model::HostReason;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::attempt::{Attempt, state_of};
use crate::portscan::{HostCtx, Limits, PortResult, connect_once};
use crate::raw::{ArpPinger, IcmpPinger, mac_string};

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

/// The privileged tools available.
pub(crate) struct RawTools<'a> {
    pub icmp: Option<&'a IcmpPinger>,
    pub arp: Option<(
        &'a ArpPinger,
        &'a pnet::datalink::NetworkInterface,
        std::net::Ipv4Addr,
    )>,
}

/// One pace slot of `host` (an owned future, so the loop can keep it across iterations).
async fn paced(limits: Arc<Limits>, host: Arc<HostCtx>) {
    limits.pace(&host).await;
}

enum Ping {
    Icmp(Option<Duration>),
    Tcp(u16, Attempt, Duration),
}

/// Discovers one host. `Err` from ARP is returned as `Err` so the caller can fall back
/// and note it; the TCP/ICMP path never fails.
pub(crate) async fn discover(
    limits: &Arc<Limits>,
    host: &Arc<HostCtx>,
    raw: RawTools<'_>,
) -> Result<Discovery, std::io::Error> {
    let wait = &limits.discovery;
    if let (Some((arp, iface, own)), IpAddr::V4(target)) = (raw.arp, host.addr) {
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
    Ok(ping(limits, host, raw.icmp).await)
}

async fn ping(limits: &Arc<Limits>, host: &Arc<HostCtx>, icmp: Option<&IcmpPinger>) -> Discovery {
    let wait = &limits.discovery;
    let mut set: JoinSet<Ping> = JoinSet::new();
    // Raw SYN pings go out one pace slot at a time from the loop below, and stop once the
    // host has answered: spawned all at once, each would reserve its slot up front and a
    // gentle device that answered the first would wait out the other nineteen.
    let mut syn_ports: &[u16] = if limits.ping_syn.is_some() {
        PING_PORTS
    } else {
        for &port in PING_PORTS {
            let (l, h) = (limits.clone(), host.clone());
            set.spawn(async move {
                let Ok(_permit) = h.sem.clone().acquire_owned().await else {
                    return Ping::Tcp(port, Attempt::Timeout, Duration::ZERO);
                };
                let timeout = l.discovery.current();
                let (a, rtt) = connect_once(&l, &h, port, 0, timeout).await;
                Ping::Tcp(port, a, rtt)
            });
        }
        &[]
    };
    // A raw SYN holds nothing open on the device, so the host's connection limit does not
    // apply; its pace (gentle profiles) and the scan's do.
    let slot = paced(limits.clone(), host.clone());
    tokio::pin!(slot);
    let icmp_fut = async {
        match icmp {
            Some(p) if p.supports(host.addr) => Some(p.ping(host.addr, wait).await),
            _ => None,
        }
    };
    tokio::pin!(icmp_fut);
    let mut icmp_done = false;
    let mut unreachable = false;
    let mut ports = Vec::new();
    loop {
        let next = tokio::select! {
            () = &mut slot, if !syn_ports.is_empty() => {
                if let (Some((&port, rest)), Some(syn)) =
                    (syn_ports.split_first(), limits.ping_syn.clone())
                {
                    syn_ports = rest;
                    let l = limits.clone();
                    let addr = host.addr;
                    set.spawn(async move {
                        let start = Instant::now();
                        let a = syn.ping(addr, port, &l.discovery).await;
                        Ping::Tcp(port, a, start.elapsed())
                    });
                } else {
                    syn_ports = &[];
                }
                if !syn_ports.is_empty() {
                    slot.set(paced(limits.clone(), host.clone()));
                }
                continue;
            }
            r = &mut icmp_fut, if !icmp_done => {
                icmp_done = true;
                match r {
                    Some(rtt) => Ping::Icmp(rtt),
                    None => continue,
                }
            }
            // (an empty set with pings still to send is not the end)
            r = set.join_next(), if !set.is_empty() || syn_ports.is_empty() => match r {
                None if icmp_done => break,
                None => {
                    // only ICMP left: wait for it
                    icmp_done = true;
                    match (&mut icmp_fut).await {
                        Some(rtt) => Ping::Icmp(rtt),
                        None => break,
                    }
                }
                Some(Ok(p)) => p,
                Some(Err(_)) => continue,
            },
        };
        match next {
            Ping::Icmp(Some(rtt)) => {
                wait.sample(rtt);
                set.abort_all();
                return Discovery::Up {
                    reason: HostReason::EchoReply,
                    detail: None,
                    rtt: Some(rtt),
                    mac: None,
                    ports,
                };
            }
            Ping::Icmp(None) => {}
            Ping::Tcp(port, a, rtt) => {
                let (state, port_reason) = state_of(&a);
                let up = match a {
                    Attempt::Open => Some(HostReason::TcpSynAck),
                    Attempt::Closed => Some(HostReason::TcpRst),
                    Attempt::Unreachable => {
                        unreachable = true;
                        None
                    }
                    Attempt::Timeout | Attempt::Local(_) => None,
                };
                if let Some(reason) = up {
                    wait.sample(rtt);
                    ports.push((
                        port,
                        PortResult {
                            state,
                            reason: port_reason,
                            latency: Some(rtt),
                            local_error: None,
                            replies_dropped: false,
                        },
                    ));
                    set.abort_all();
                    return Discovery::Up {
                        reason,
                        detail: Some(format!("tcp/{port}")),
                        rtt: Some(rtt),
                        mac: None,
                        ports,
                    };
                }
            }
        }
    }
    Discovery::Down(if unreachable {
        HostReason::Unreachable
    } else {
        HostReason::NoResponse
    })
}
