//! Privileged discovery: ICMP echo (raw sockets through socket2, driven by tokio's
//! `AsyncFd`, so no thread per probe) and ARP (a pnet datalink channel per interface with
//! one reader thread). Opening either without CAP_NET_RAW fails; the engine then falls back
//! to TCP pings and records a notice.
//!
//! Replies are matched to requests by content, never by guess: an echo reply must carry our
//! identifier and the target's address in its payload; an ARP reply must be an ARP reply
//! whose sender is the address asked for.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pnet::datalink::{self, Channel, DataLinkSender, NetworkInterface};
use pnet::packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket, MutableArpPacket};
use pnet::packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet::packet::ipv4::Ipv4Packet;
use pnet::packet::{MutablePacket, Packet};
use pnet::util::MacAddr;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::rtt::DiscoveryWait;

const MAGIC: &[u8; 10] = b"clinicscan";

type Waiters<K, V> = Arc<Mutex<HashMap<K, Vec<oneshot::Sender<V>>>>>;

fn notify<K: std::hash::Hash + Eq, V: Clone>(w: &Waiters<K, V>, key: &K, v: V) {
    if let Ok(mut m) = w.lock()
        && let Some(list) = m.remove(key)
    {
        for tx in list {
            let _ = tx.send(v.clone());
        }
    }
}

/// ICMP / ICMPv6 echo with raw sockets. One reader thread per family (socket read
/// timeout 100 ms, stopped on drop); sending is a non-blocking `sendto` from the task.
pub(crate) struct IcmpPinger {
    v4: Option<Arc<Socket>>,
    v6: Option<Arc<Socket>>,
    ident: u16,
    seq: AtomicU16,
    waiters: Waiters<IpAddr, ()>,
    stop: Arc<AtomicBool>,
}

impl Drop for IcmpPinger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn raw_socket(domain: Domain, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(domain, Type::RAW, Some(proto))?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    s.set_write_timeout(Some(Duration::from_millis(100)))?;
    Ok(s)
}

/// The echo payload: magic + the target's address (16 bytes, IPv4 mapped).
fn echo_payload(target: IpAddr) -> Vec<u8> {
    let mut p = MAGIC.to_vec();
    let octets = match target {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    };
    p.extend_from_slice(&octets);
    p
}

/// Builds an ICMP (type 8) or ICMPv6 (type 128) echo request. The ICMPv6 checksum is
/// left to the kernel (it always computes it on raw ICMPv6 sockets).
pub(crate) fn echo_request(v6: bool, ident: u16, seq: u16, target: IpAddr) -> Vec<u8> {
    let mut pkt = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    pkt.extend_from_slice(&ident.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(&echo_payload(target));
    if !v6 {
        let c = pnet::util::checksum(&pkt, 1);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
    }
    pkt
}

/// Parses an echo reply (ICMP header onwards): the target it answers, if it is ours.
pub(crate) fn parse_echo_reply(v6: bool, icmp: &[u8], ident: u16) -> Option<IpAddr> {
    let want_type = if v6 { 129 } else { 0 };
    if icmp.len() < 8 + MAGIC.len() + 16 || icmp[0] != want_type || icmp[1] != 0 {
        return None;
    }
    if icmp[4..6] != ident.to_be_bytes() || &icmp[8..8 + MAGIC.len()] != MAGIC {
        return None;
    }
    let mut o = [0u8; 16];
    o.copy_from_slice(&icmp[8 + MAGIC.len()..8 + MAGIC.len() + 16]);
    let a = std::net::Ipv6Addr::from(o);
    Some(match a.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(a),
    })
}

impl IcmpPinger {
    /// Opens raw ICMP sockets; `Err` when neither family is permitted.
    pub fn open() -> io::Result<Self> {
        let v4 = raw_socket(Domain::IPV4, Protocol::ICMPV4);
        let v6 = raw_socket(Domain::IPV6, Protocol::ICMPV6);
        let (v4, v6) = match (v4, v6) {
            (Err(e), Err(_)) => return Err(e),
            (a, b) => (a.ok().map(Arc::new), b.ok().map(Arc::new)),
        };
        let ident = (std::process::id() as u16) ^ 0x5a5a;
        let waiters: Waiters<IpAddr, ()> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        for (sock, v6) in [(v4.clone(), false), (v6.clone(), true)] {
            let Some(sock) = sock else { continue };
            let (w, stop) = (waiters.clone(), stop.clone());
            std::thread::Builder::new()
                .name(if v6 { "icmp6-rx" } else { "icmp-rx" }.into())
                .spawn(move || {
                    let mut buf = vec![0u8; 2048];
                    while !stop.load(Ordering::Relaxed) {
                        let n = match (&*sock).read(&mut buf) {
                            Ok(n) => n,
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                ) =>
                            {
                                continue;
                            }
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        };
                        let data = &buf[..n];
                        let hit = if v6 {
                            parse_echo_reply(true, data, ident)
                        } else {
                            Ipv4Packet::new(data).and_then(|ip| {
                                let hl = usize::from(ip.get_header_length()) * 4;
                                let icmp = data.get(hl..)?;
                                let t = parse_echo_reply(false, icmp, ident)?;
                                // the reply must come from the target itself
                                (IpAddr::V4(ip.get_source()) == t).then_some(t)
                            })
                        };
                        if let Some(t) = hit {
                            notify(&w, &t, ());
                        }
                    }
                })?;
        }
        Ok(IcmpPinger {
            v4,
            v6,
            ident,
            seq: AtomicU16::new(1),
            waiters,
            stop,
        })
    }

    /// Whether echo can be sent to this family.
    pub fn supports(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => self.v4.is_some(),
            IpAddr::V6(_) => self.v6.is_some(),
        }
    }

    /// Sends one echo request (plus one retry half-way through the wait) and waits for
    /// the reply as long as the scan's discovery wait says.
    pub async fn ping(&self, target: IpAddr, wait: &DiscoveryWait) -> Option<Duration> {
        let sock = match target {
            IpAddr::V4(_) => self.v4.as_ref()?,
            IpAddr::V6(_) => self.v6.as_ref()?,
        };
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .ok()?
            .entry(target)
            .or_default()
            .push(tx);
        let start = Instant::now();
        let dst = SockAddr::from(SocketAddr::new(target, 0));
        let send = || {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed);
            let pkt = echo_request(target.is_ipv6(), self.ident, seq, target);
            sock.send_to(&pkt, &dst).map(|_| ())
        };
        let answered = match send() {
            Ok(()) => match wait.with_retransmit(start, rx, send).await {
                Ok(Some(Ok(()))) => Some(start.elapsed()),
                _ => None,
            },
            Err(_) => None,
        };
        if answered.is_none()
            && let Ok(mut m) = self.waiters.lock()
        {
            m.remove(&target);
        }
        answered
    }
}

/// One open ARP channel on one interface.
struct ArpChannel {
    tx: Mutex<Box<dyn DataLinkSender>>,
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    waiters: Waiters<Ipv4Addr, MacAddr>,
    stop: Arc<AtomicBool>,
}

impl Drop for ArpChannel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// ARP requests on the local links.
#[derive(Default)]
pub(crate) struct ArpPinger {
    channels: Mutex<HashMap<u32, Arc<ArpChannel>>>,
}

/// Builds a broadcast ARP request frame.
pub(crate) fn arp_request(our_mac: MacAddr, our_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0u8; 42];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut frame) {
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(our_mac);
        eth.set_ethertype(EtherTypes::Arp);
        if let Some(mut arp) = MutableArpPacket::new(eth.payload_mut()) {
            arp.set_hardware_type(ArpHardwareTypes::Ethernet);
            arp.set_protocol_type(EtherTypes::Ipv4);
            arp.set_hw_addr_len(6);
            arp.set_proto_addr_len(4);
            arp.set_operation(ArpOperations::Request);
            arp.set_sender_hw_addr(our_mac);
            arp.set_sender_proto_addr(our_ip);
            arp.set_target_hw_addr(MacAddr::zero());
            arp.set_target_proto_addr(target);
        }
    }
    frame
}

/// Parses a frame: `(sender address, sender MAC)` when it is an ARP reply.
pub(crate) fn parse_arp_reply(frame: &[u8]) -> Option<(Ipv4Addr, MacAddr)> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    if arp.get_operation() != ArpOperations::Reply
        || arp.get_hw_addr_len() != 6
        || arp.get_proto_addr_len() != 4
    {
        return None;
    }
    Some((arp.get_sender_proto_addr(), arp.get_sender_hw_addr()))
}

impl ArpPinger {
    fn channel(&self, iface: &NetworkInterface, our_ip: Ipv4Addr) -> io::Result<Arc<ArpChannel>> {
        let mut map = self
            .channels
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        if let Some(c) = map.get(&iface.index) {
            return Ok(c.clone());
        }
        let our_mac = iface
            .mac
            .ok_or_else(|| io::Error::other("interface has no MAC"))?;
        let cfg = datalink::Config {
            read_timeout: Some(Duration::from_millis(100)),
            ..datalink::Config::default()
        };
        let (tx, mut rx) = match datalink::channel(iface, cfg)? {
            Channel::Ethernet(tx, rx) => (tx, rx),
            _ => return Err(io::Error::other("not an Ethernet channel")),
        };
        let waiters: Waiters<Ipv4Addr, MacAddr> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (waiters.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("arp-{}", iface.name))
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    match rx.next() {
                        Ok(frame) => {
                            if let Some((ip, mac)) = parse_arp_reply(frame) {
                                notify(&w, &ip, mac);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })?;
        let c = Arc::new(ArpChannel {
            tx: Mutex::new(tx),
            our_mac,
            our_ip,
            waiters,
            stop,
        });
        map.insert(iface.index, c.clone());
        Ok(c)
    }

    /// ARP-pings `target` on `iface` (a request, and one more half-way through the wait);
    /// the MAC and the RTT when it answers.
    pub async fn ping(
        &self,
        iface: &NetworkInterface,
        our_ip: Ipv4Addr,
        target: Ipv4Addr,
        wait: &DiscoveryWait,
    ) -> io::Result<Option<(MacAddr, Duration)>> {
        let ch = self.channel(iface, our_ip)?;
        let (tx, rx) = oneshot::channel();
        ch.waiters
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .entry(target)
            .or_default()
            .push(tx);
        let frame = arp_request(ch.our_mac, ch.our_ip, target);
        let start = Instant::now();
        let send = || -> io::Result<()> {
            let mut t = ch.tx.lock().map_err(|_| io::Error::other("poisoned"))?;
            match t.send_to(&frame, None) {
                Some(r) => r,
                None => Err(io::Error::other("ARP send failed")),
            }
        };
        let result = match send() {
            Ok(()) => wait.with_retransmit(start, rx, send).await,
            Err(e) => Err(e),
        };
        let unanswered = match result {
            Ok(Some(Ok(mac))) => return Ok(Some((mac, start.elapsed()))),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        };
        // No answer (or a send error): our waiter is still registered.
        if let Ok(mut m) = ch.waiters.lock() {
            m.remove(&target);
        }
        unanswered
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac_string(mac: MacAddr) -> String {
    mac.to_string().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet::packet::icmp::{IcmpPacket, IcmpTypes};

    #[test]
    fn echo_round_trip() {
        let t: IpAddr = "10.1.2.3".parse().unwrap();
        let mut req = echo_request(false, 0x1234, 7, t);
        assert_eq!(
            pnet::util::checksum(&req, 1),
            u16::from_be_bytes([req[2], req[3]]),
            "checksum covers the packet"
        );
        assert_eq!(
            IcmpPacket::new(&req).unwrap().get_icmp_type(),
            IcmpTypes::EchoRequest
        );
        // the peer turns it into a reply
        req[0] = 0;
        assert_eq!(parse_echo_reply(false, &req, 0x1234), Some(t));
        assert_eq!(
            parse_echo_reply(false, &req, 0x1235),
            None,
            "other identifier"
        );
        assert_eq!(
            parse_echo_reply(false, &req[..20], 0x1234),
            None,
            "truncated"
        );
        req[0] = 8;
        assert_eq!(
            parse_echo_reply(false, &req, 0x1234),
            None,
            "our own request"
        );
        let t6: IpAddr = "fd00::5".parse().unwrap();
        let mut r6 = echo_request(true, 9, 1, t6);
        r6[0] = 129;
        assert_eq!(parse_echo_reply(true, &r6, 9), Some(t6));
    }

    #[test]
    fn arp_round_trip() {
        let me = MacAddr::new(2, 0, 0, 0, 0, 1);
        let f = arp_request(me, "10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert_eq!(parse_arp_reply(&f), None, "a request is not a reply");
        let mut reply = f.clone();
        reply[20..22].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(
            parse_arp_reply(&reply),
            Some(("10.0.0.1".parse().unwrap(), me))
        );
        assert_eq!(parse_arp_reply(&reply[..30]), None, "truncated");
        assert_eq!(mac_string(me), "02:00:00:00:00:01");
    }
}
