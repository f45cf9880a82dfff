//! What this machine knows about its own network: its interfaces and addresses, which
//! targets are on-link, the kernel's ARP cache, the source address towards a target.
//! Nothing here sends a packet.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use ipnet::IpNet;
use pnet::datalink::{self, NetworkInterface};

/// One local interface with its networks.
#[derive(Debug, Clone)]
pub(crate) struct LocalIf {
    pub iface: NetworkInterface,
    pub nets: Vec<IpNet>,
}

/// The machine's interfaces (in the current network namespace).
#[derive(Debug, Clone, Default)]
pub(crate) struct NetInfo {
    pub ifaces: Vec<LocalIf>,
}

impl NetInfo {
    /// Reads the interfaces.
    pub fn read() -> Self {
        let ifaces = datalink::interfaces()
            .into_iter()
            .map(|iface| {
                let nets = iface
                    .ips
                    .iter()
                    .filter_map(|n| IpNet::new(n.ip(), n.prefix()).ok())
                    .collect();
                LocalIf { iface, nets }
            })
            .collect();
        NetInfo { ifaces }
    }

    /// Whether `ip` is one of this machine's own addresses (or loopback).
    pub fn is_local(&self, ip: IpAddr) -> bool {
        ip.is_loopback()
            || self
                .ifaces
                .iter()
                .any(|i| i.nets.iter().any(|n| n.addr() == ip))
    }

    /// The up, non-loopback Ethernet interface whose IPv4 network holds `ip`, with our
    /// address on it, when `ip` is on-link (ARP can reach it).
    pub fn onlink_v4(&self, ip: Ipv4Addr) -> Option<(&NetworkInterface, Ipv4Addr)> {
        self.ifaces.iter().find_map(|i| {
            if !i.iface.is_up() || i.iface.is_loopback() || i.iface.mac.is_none() {
                return None;
            }
            i.nets.iter().find_map(|n| match (n, n.addr()) {
                (IpNet::V4(net), IpAddr::V4(own)) if net.contains(&ip) && own != ip => {
                    Some((&i.iface, own))
                }
                _ => None,
            })
        })
    }
}

/// The kernel's complete IPv4 neighbour entries (`/proc/net/arp`): address → MAC.
pub(crate) fn arp_cache() -> HashMap<Ipv4Addr, String> {
    std::fs::read_to_string("/proc/net/arp")
        .map(|t| parse_proc_arp(&t))
        .unwrap_or_default()
}

/// Parses `/proc/net/arp` (pure). Only complete entries (flag 0x2) with a non-zero MAC.
pub(crate) fn parse_proc_arp(text: &str) -> HashMap<Ipv4Addr, String> {
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [ip, _hw, flags, mac, ..] = cols.as_slice() else {
            continue;
        };
        let complete =
            u32::from_str_radix(flags.trim_start_matches("0x"), 16).is_ok_and(|f| f & 0x2 != 0);
        if !complete || *mac == "00:00:00:00:00:00" {
            continue;
        }
        if let Ok(ip) = ip.parse() {
            out.insert(ip, mac.to_ascii_lowercase());
        }
    }
    out
}

/// The source address the kernel would use towards `dst` (a UDP `connect` sends nothing).
pub(crate) fn source_for(dst: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match dst {
        IpAddr::V4(_) => SocketAddr::from(([0u8; 4], 0)),
        IpAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(SocketAddr::new(dst, 9)).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// This machine's host name.
pub(crate) fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_arp() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.0.0.1         0x1         0x2         52:54:00:AA:bb:cc     *        eth0\n\
                 10.0.0.9         0x1         0x0         00:00:00:00:00:00     *        eth0\n\
                 garbage\n";
        let m = parse_proc_arp(t);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[&"10.0.0.1".parse::<Ipv4Addr>().unwrap()],
            "52:54:00:aa:bb:cc"
        );
    }

    #[test]
    fn loopback_is_local() {
        let n = NetInfo::read();
        assert!(n.is_local("127.0.0.1".parse().unwrap()));
        assert!(n.onlink_v4("127.0.0.2".parse().unwrap()).is_none());
    }
}
