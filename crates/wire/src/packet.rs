//! The packets clinicscan's raw sockets send and read: the SYN (bare or behind its IP
//! header) and its answers (SYN-ACK, RST, ICMP destination unreachable quoting it), ICMP
//! echo, ARP.
//!
//! Replies are matched by content, never by guess: a TCP answer must acknowledge our
//! sequence number, an ICMP error must quote our SYN, an echo reply must carry our
//! identifier and the target's address, an ARP reply must be a reply.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use pnet_base::MacAddr;
use pnet_packet::MutablePacket;
use pnet_packet::Packet;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{Ipv4Packet, MutableIpv4Packet};
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::tcp::{
    MutableTcpPacket, TcpFlags, TcpOption, TcpPacket, ipv4_checksum, ipv6_checksum,
};

use crate::Reader;

/// What came back for one SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynReply {
    /// SYN-ACK: the port is open.
    SynAck,
    /// RST-ACK: the port is closed.
    Rst,
    /// ICMP destination unreachable quoting the SYN: filtered on the way.
    Unreachable,
}

/// The SYN an answer belongs to: the port it went to and our initial sequence number.
pub type SynKey = (u16, u32);

/// An IPv4 packet's source and payload (a raw IPv4 socket reads the header too). `None`
/// for a header length under the minimum of 5 words, which would read the header as data.
pub fn ipv4_payload(packet: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let ip = Ipv4Packet::new(packet)?;
    let header = usize::from(ip.get_header_length()) * 4;
    if ip.get_version() != 4 || header < Ipv4Packet::minimum_packet_size() {
        return None;
    }
    Some((ip.get_source(), packet.get(header..)?))
}

/// Classifies a TCP segment sent to `our_port`: the SYN it answers and what it says.
pub fn tcp_reply(tcp: &[u8], our_port: u16) -> Option<(SynKey, SynReply)> {
    let t = TcpPacket::new(tcp)?;
    if t.get_destination() != our_port {
        return None;
    }
    let f = t.get_flags();
    let isn = t.get_acknowledgement().wrapping_sub(1);
    let reply = if f & TcpFlags::RST != 0 {
        // An RST answering a SYN acknowledges it (RFC 9293 3.10.7.3).
        if f & TcpFlags::ACK == 0 {
            return None;
        }
        SynReply::Rst
    } else if f & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN | TcpFlags::ACK {
        SynReply::SynAck
    } else {
        return None;
    };
    Some(((t.get_source(), isn), reply))
}

/// As [`tcp_reply`] for a segment to any of our ports: the port it came to as well.
pub fn tcp_reply_to(tcp: &[u8]) -> Option<(u16, SynKey, SynReply)> {
    let port = TcpPacket::new(tcp)?.get_destination();
    tcp_reply(tcp, port).map(|(key, reply)| (port, key, reply))
}

/// Classifies an ICMP (v4: type 3) or ICMPv6 (type 1) destination unreachable quoting one
/// of our SYNs. `icmp` starts at the ICMP header.
pub fn icmp_unreachable(v6: bool, icmp: &[u8], our_port: u16) -> Option<SynKey> {
    let mut r = Reader::new(icmp, "ICMP destination unreachable");
    let unreachable = if v6 { 1 } else { 3 };
    if r.u8().ok()? != unreachable {
        return None;
    }
    r.skip(7).ok()?;
    let quoted_ip = r.rest();
    let quoted = if v6 {
        let mut ip6 = Reader::new(quoted_ip, "quoted IPv6 header");
        ip6.skip(6).ok()?;
        // next header must be TCP directly (no extension headers on our own SYNs)
        if ip6.u8().ok()? != 6 {
            return None;
        }
        ip6.seek(40).ok()?;
        ip6.rest()
    } else {
        if Ipv4Packet::new(quoted_ip)?.get_next_level_protocol() != IpNextHeaderProtocols::Tcp {
            return None;
        }
        ipv4_payload(quoted_ip)?.1
    };
    // Only the first 8 bytes of the segment are guaranteed to be quoted.
    let mut q = Reader::new(quoted, "quoted TCP header");
    let (src, dst, seq) = (q.u16().ok()?, q.u16().ok()?, q.u32().ok()?);
    (src == our_port).then_some((dst, seq))
}

/// What an ICMP destination unreachable quotes of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoted {
    /// A TCP segment: its source and destination ports and sequence number.
    Tcp {
        /// Our source port.
        src_port: u16,
        /// The port it went to.
        dst_port: u16,
        /// Its sequence number.
        seq: u32,
    },
    /// An ICMP or ICMPv6 echo request: its identifier and sequence number.
    Echo {
        /// The identifier.
        ident: u16,
        /// The sequence number.
        seq: u16,
    },
}

/// An ICMP (v4: type 3) or ICMPv6 (type 1) destination unreachable: its code, the address
/// the quoted packet was sent to, and what the quoted packet was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable {
    /// The ICMP code (v4: 0 net, 1 host, 3 port, 13 administratively prohibited ...; v6: 0
    /// no route, 1 prohibited, 3 address unreachable, 4 port unreachable ...).
    pub code: u8,
    /// The destination of the quoted packet (the address we probed).
    pub target: IpAddr,
    /// The quoted packet.
    pub quoted: Quoted,
}

impl Unreachable {
    /// The code says no route leads to the target at all (v4: network or host unreachable
    /// or unknown; v6: no route, address unreachable): nothing else sent there arrives
    /// either. A filter's answer (prohibited, port unreachable) says nothing of the host.
    pub fn says_no_route(&self, v6: bool) -> bool {
        if v6 {
            matches!(self.code, 0 | 3)
        } else {
            matches!(self.code, 0 | 1 | 6 | 7)
        }
    }
}

/// Parses an ICMP (v4: type 3) or ICMPv6 (type 1) destination unreachable that quotes a
/// TCP segment or an echo request. `icmp` starts at the ICMP header.
pub fn unreachable(v6: bool, icmp: &[u8]) -> Option<Unreachable> {
    let mut r = Reader::new(icmp, "ICMP destination unreachable");
    let [ty, code] = r.array().ok()?;
    if ty != if v6 { 1 } else { 3 } {
        return None;
    }
    r.skip(6).ok()?;
    let quoted_ip = r.rest();
    let (target, proto, inner) = if v6 {
        let mut ip6 = Reader::new(quoted_ip, "quoted IPv6 header");
        ip6.skip(6).ok()?;
        // no extension headers on our own probes
        let next = ip6.u8().ok()?;
        ip6.skip(17).ok()?;
        let dst: [u8; 16] = ip6.array().ok()?;
        (IpAddr::V6(Ipv6Addr::from(dst)), next, ip6.rest())
    } else {
        let ip = Ipv4Packet::new(quoted_ip)?;
        let proto = ip.get_next_level_protocol().0;
        let target = IpAddr::V4(ip.get_destination());
        (target, proto, ipv4_payload(quoted_ip)?.1)
    };
    // Only the first 8 bytes of the quoted packet's payload are guaranteed.
    let mut q = Reader::new(inner, "quoted header");
    let quoted = match (proto, v6) {
        (6, _) => Quoted::Tcp {
            src_port: q.u16().ok()?,
            dst_port: q.u16().ok()?,
            seq: q.u32().ok()?,
        },
        (1, false) | (58, true) => {
            let [ty, _, _, _] = q.array().ok()?;
            if ty != if v6 { 128 } else { 8 } {
                return None;
            }
            Quoted::Echo {
                ident: q.u16().ok()?,
                seq: q.u16().ok()?,
            }
        }
        _ => return None,
    };
    Some(Unreachable {
        code,
        target,
        quoted,
    })
}

const MAGIC: &[u8; 10] = b"clinicscan";

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
pub fn echo_request(v6: bool, ident: u16, seq: u16, target: IpAddr) -> Vec<u8> {
    let mut pkt = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    pkt.extend_from_slice(&ident.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(&echo_payload(target));
    if !v6 {
        let c = pnet_packet::util::checksum(&pkt, 1);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
    }
    pkt
}

/// Parses an echo reply (ICMP header onwards): the target it answers, if it is ours.
pub fn echo_reply(v6: bool, icmp: &[u8], ident: u16) -> Option<IpAddr> {
    let want_type = if v6 { 129 } else { 0 };
    let mut r = Reader::new(icmp, "ICMP echo reply");
    let [ty, code, _, _, id0, id1, _, _] = r.array().ok()?;
    let magic = r.take(MAGIC.len()).ok()?;
    let target: [u8; 16] = r.array().ok()?;
    if ty != want_type || code != 0 || [id0, id1] != ident.to_be_bytes() || magic != MAGIC {
        return None;
    }
    let a = Ipv6Addr::from(target);
    Some(match a.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(a),
    })
}

/// An IPv4 packet carrying our echo reply, sent by the target it names.
pub fn echo_reply_v4(packet: &[u8], ident: u16) -> Option<IpAddr> {
    let (source, icmp) = ipv4_payload(packet)?;
    let target = echo_reply(false, icmp, ident)?;
    (IpAddr::V4(source) == target).then_some(target)
}

/// Builds a broadcast ARP request frame.
pub fn arp_request(our_mac: MacAddr, our_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
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

/// Parses an Ethernet frame: `(sender address, sender MAC)` when it is an ARP reply.
pub fn arp_reply(frame: &[u8]) -> Option<(Ipv4Addr, MacAddr)> {
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

/// Writes a SYN (behind its IP header when `with_ip`, for a socket with the header
/// included) from `src` to `dst` into `out`, without allocating: the packet's length, or
/// `None` when the families differ or `out` is shorter than 64 bytes. The segment has an
/// MSS option and its checksum; of the IP header Linux fills in the IPv4 identification,
/// total length and header checksum (IPv6 has none but the payload length, set here).
pub fn write_syn(
    out: &mut [u8],
    with_ip: bool,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
) -> Option<usize> {
    let header = match (with_ip, src.ip(), dst.ip()) {
        (false, IpAddr::V4(_), IpAddr::V4(_)) | (false, IpAddr::V6(_), IpAddr::V6(_)) => 0,
        (true, IpAddr::V4(_), IpAddr::V4(_)) => 20,
        (true, IpAddr::V6(_), IpAddr::V6(_)) => 40,
        _ => return None,
    };
    let out = out.get_mut(..header + 24)?;
    out.fill(0);
    let (ip_part, seg) = out.split_at_mut(header);
    {
        let mut tcp = MutableTcpPacket::new(seg)?;
        tcp.set_source(src.port());
        tcp.set_destination(dst.port());
        tcp.set_sequence(seq);
        tcp.set_data_offset(6);
        tcp.set_flags(TcpFlags::SYN);
        tcp.set_window(64_240);
        tcp.set_options(&[TcpOption::mss(1460)]);
        let sum = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => ipv4_checksum(&tcp.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => ipv6_checksum(&tcp.to_immutable(), &s, &d),
            _ => return None,
        };
        tcp.set_checksum(sum);
    }
    match (header, src.ip(), dst.ip()) {
        (20, IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ip = MutableIpv4Packet::new(ip_part)?;
            ip.set_version(4);
            ip.set_header_length(5);
            ip.set_ttl(64);
            ip.set_next_level_protocol(IpNextHeaderProtocols::Tcp);
            ip.set_source(s);
            ip.set_destination(d);
        }
        (40, IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut ip = MutableIpv6Packet::new(ip_part)?;
            ip.set_version(6);
            ip.set_payload_length(24);
            ip.set_next_header(IpNextHeaderProtocols::Tcp);
            ip.set_hop_limit(64);
            ip.set_source(s);
            ip.set_destination(d);
        }
        _ => {}
    }
    Some(header + 24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::icmp::{IcmpPacket, IcmpTypes};

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../fixtures/packet/csv-{name}.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Answers recorded from a SYN scan of a Linux peer (fixtures/packet/README.md); each
    /// must name the SYN of ours it answers, as recorded.
    #[test]
    fn recorded_answers_name_our_syn() {
        let v4 = |name| {
            let p = fixture(name);
            let (source, body) = ipv4_payload(&p).unwrap();
            (source.to_string(), body.to_vec())
        };
        let (source, seg) = v4("tcp4-synack");
        assert_eq!(source, "10.99.0.2");
        assert_eq!(
            tcp_reply(&seg, 36089),
            Some(((8080, 2576969122), SynReply::SynAck))
        );
        assert_eq!(tcp_reply(&seg, 36090), None, "another scanner's port");
        assert_eq!(
            tcp_reply_to(&seg),
            Some((36089, (8080, 2576969122), SynReply::SynAck))
        );
        let (_, seg) = v4("tcp4-rst");
        assert_eq!(
            tcp_reply(&seg, 36089),
            Some(((8081, 519069098), SynReply::Rst))
        );
        let (_, icmp) = v4("icmp4-unreachable");
        assert_eq!(icmp[..2], [3, 13], "administratively prohibited");
        assert_eq!(
            icmp_unreachable(false, &icmp, 36089),
            Some((9999, 1020662561))
        );
        assert_eq!(icmp_unreachable(true, &icmp, 36089), None, "not ICMPv6");
        assert_eq!(tcp_reply(&icmp, 36089), None);

        let seg = fixture("tcp6-synack");
        assert_eq!(
            tcp_reply(&seg, 36365),
            Some(((8080, 4077627460), SynReply::SynAck))
        );
        assert_eq!(
            tcp_reply(&fixture("tcp6-rst"), 36365),
            Some(((5432, 1900899058), SynReply::Rst))
        );
        let icmp6 = fixture("icmp6-unreachable");
        assert_eq!(
            icmp_unreachable(true, &icmp6, 36365),
            Some((9999, 432403418))
        );
        assert_eq!(icmp_unreachable(false, &icmp6, 36365), None, "not ICMP");
    }

    #[test]
    fn recorded_echo_and_arp_replies() {
        let p = fixture("icmp4-echo-reply");
        assert_eq!(
            echo_reply_v4(&p, 0x3d9b),
            Some("10.99.1.2".parse().unwrap())
        );
        assert_eq!(echo_reply_v4(&p, 0x3d9c), None, "another identifier");
        // The same reply claimed by another source is not an answer from the target.
        let mut spoofed = p.clone();
        spoofed[15] = 3;
        assert_eq!(echo_reply_v4(&spoofed, 0x3d9b), None);
        let p6 = fixture("icmp6-echo-reply");
        assert_eq!(
            echo_reply(true, &p6, 0x3d91),
            Some("fd99::2".parse().unwrap())
        );
        assert_eq!(echo_reply(false, &p6, 0x3d91), None, "an ICMPv6 type");
        assert_eq!(
            arp_reply(&fixture("arp-reply")),
            Some((
                "10.99.0.2".parse().unwrap(),
                MacAddr::new(0x46, 0x51, 0x7e, 0xdd, 0x7c, 0xee)
            ))
        );
    }

    #[test]
    fn echo_round_trip() {
        let t: IpAddr = "10.1.2.3".parse().unwrap();
        let mut req = echo_request(false, 0x1234, 7, t);
        assert_eq!(
            pnet_packet::util::checksum(&req, 1),
            u16::from_be_bytes([req[2], req[3]]),
            "checksum covers the packet"
        );
        assert_eq!(
            IcmpPacket::new(&req).unwrap().get_icmp_type(),
            IcmpTypes::EchoRequest
        );
        // the peer turns it into a reply
        req[0] = 0;
        assert_eq!(echo_reply(false, &req, 0x1234), Some(t));
        assert_eq!(echo_reply(false, &req, 0x1235), None, "other identifier");
        assert_eq!(echo_reply(false, &req[..20], 0x1234), None, "truncated");
        req[0] = 8;
        assert_eq!(echo_reply(false, &req, 0x1234), None, "our own request");
        let t6: IpAddr = "fd00::5".parse().unwrap();
        let mut r6 = echo_request(true, 9, 1, t6);
        r6[0] = 129;
        assert_eq!(echo_reply(true, &r6, 9), Some(t6));
    }

    #[test]
    fn arp_round_trip() {
        let me = MacAddr::new(2, 0, 0, 0, 0, 1);
        let f = arp_request(me, "10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert_eq!(arp_reply(&f), None, "a request is not a reply");
        let mut reply = f.clone();
        reply[20..22].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(arp_reply(&reply), Some(("10.0.0.1".parse().unwrap(), me)));
        assert_eq!(arp_reply(&reply[..30]), None, "truncated");
    }

    #[test]
    fn icmp_unreachable_quotes_our_syn() {
        // ICMP header (type 3 code 13) + IPv4 header (20) + first 8 bytes of our SYN
        let mut icmp = vec![3, 13, 0, 0, 0, 0, 0, 0];
        let mut ip = vec![
            0x45, 0, 0, 44, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        icmp.append(&mut ip);
        icmp.extend_from_slice(&40000u16.to_be_bytes());
        icmp.extend_from_slice(&82u16.to_be_bytes());
        icmp.extend_from_slice(&777u32.to_be_bytes());
        assert_eq!(icmp_unreachable(false, &icmp, 40000), Some((82, 777)));
        assert_eq!(icmp_unreachable(false, &icmp, 40001), None);
        assert_eq!(icmp_unreachable(false, &icmp[..30], 40000), None);
        let mut udp = icmp.clone();
        udp[8 + 9] = 17;
        assert_eq!(icmp_unreachable(false, &udp, 40000), None, "not TCP");
        // ICMPv6 type 1 + IPv6 header (40, next header 6) + 8 bytes
        let mut v6 = vec![1, 1, 0, 0, 0, 0, 0, 0];
        let mut h = vec![0u8; 40];
        h[0] = 0x60;
        h[6] = 6;
        v6.append(&mut h);
        v6.extend_from_slice(&40000u16.to_be_bytes());
        v6.extend_from_slice(&22u16.to_be_bytes());
        v6.extend_from_slice(&5u32.to_be_bytes());
        assert_eq!(icmp_unreachable(true, &v6, 40000), Some((22, 5)));
    }

    #[test]
    fn unreachables_name_the_probe_and_the_target() {
        // The recorded answer of a filtering peer: administratively prohibited, quoting our
        // SYN to 10.99.0.2:9999.
        let p = fixture("icmp4-unreachable");
        let (_, icmp) = ipv4_payload(&p).unwrap();
        let u = unreachable(false, icmp).unwrap();
        assert_eq!(u.code, 13);
        assert!(!u.says_no_route(false), "a filter, not a missing route");
        assert_eq!(u.target, "10.99.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(
            u.quoted,
            Quoted::Tcp {
                src_port: 36089,
                dst_port: 9999,
                seq: 1020662561
            }
        );
        let u6 = unreachable(true, &fixture("icmp6-unreachable")).unwrap();
        assert_eq!(
            u6.quoted,
            Quoted::Tcp {
                src_port: 36365,
                dst_port: 9999,
                seq: 432403418
            }
        );
        // A router's "network unreachable" for one of our echo requests to 10.5.0.9.
        let mut icmp = vec![3, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&[
            0x45, 0, 0, 54, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 5, 0, 9,
        ]);
        icmp.extend_from_slice(&echo_request(false, 0x1234, 3, "10.5.0.9".parse().unwrap())[..8]);
        let u = unreachable(false, &icmp).unwrap();
        assert!(u.says_no_route(false));
        assert_eq!(u.target, "10.5.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(
            u.quoted,
            Quoted::Echo {
                ident: 0x1234,
                seq: 3
            }
        );
        assert_eq!(unreachable(false, &icmp[..30]), None, "truncated quote");
        icmp[8 + 20] = 0;
        assert_eq!(
            unreachable(false, &icmp),
            None,
            "quotes an echo reply, not ours"
        );
        assert_eq!(unreachable(true, &icmp), None, "not ICMPv6");
    }

    /// The SYN `write_syn` writes, as an owned packet.
    fn syn(with_ip: bool, src: SocketAddr, dst: SocketAddr, seq: u32) -> Option<Vec<u8>> {
        let mut buf = [0u8; 64];
        let n = write_syn(&mut buf, with_ip, src, dst, seq)?;
        Some(buf[..n].to_vec())
    }

    #[test]
    fn written_syns_carry_the_same_segment_with_or_without_ip() {
        let mut buf = [0u8; 64];
        for (src, dst, header) in [
            ("10.0.0.1:40000", "10.0.0.2:443", 20),
            ("[fd00::1]:40000", "[fd00::2]:22", 40),
        ] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            // a dirty buffer: every byte written is set, none left from before
            buf.fill(0xff);
            let n = write_syn(&mut buf, true, src, dst, 0xdead_beef).unwrap();
            assert_eq!(n, header + 24);
            let segment = syn(false, src, dst, 0xdead_beef).unwrap();
            assert_eq!(buf[header..n], segment[..]);
        }
        let v4: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[fd00::1]:1".parse().unwrap();
        assert_eq!(write_syn(&mut buf, true, v4, v6, 1), None, "mixed families");
        assert_eq!(
            write_syn(&mut buf[..40], true, v6, v6, 1),
            None,
            "short buffer"
        );
    }

    #[test]
    fn an_ipv4_header_shorter_than_its_minimum_is_not_read_as_data() {
        // Found by the fuzz target: header length 0 made the payload the whole packet.
        let mut p = fixture("tcp4-synack");
        assert!(ipv4_payload(&p).is_some());
        p[0] = 0x40;
        assert_eq!(ipv4_payload(&p), None);
        p[0] = 0x44;
        assert_eq!(ipv4_payload(&p), None);
        p[0] = 0x65;
        assert_eq!(ipv4_payload(&p), None, "not version 4");
        let path = format!(
            "{}/../../fixtures/regressions/packet_reply/ihl-zero",
            env!("CARGO_MANIFEST_DIR")
        );
        let crash = std::fs::read(path).unwrap();
        assert_eq!(ipv4_payload(&crash), None);
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..80 {
            let b: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = tcp_reply(&b, 1);
            let _ = icmp_unreachable(false, &b, 1);
            let _ = icmp_unreachable(true, &b, 1);
            let _ = echo_reply(false, &b, 1);
            let _ = echo_reply(true, &b, 1);
            let _ = echo_reply_v4(&b, 1);
            let _ = arp_reply(&b);
            let _ = ipv4_payload(&b);
        }
    }

    #[test]
    fn syn_and_replies() {
        let src: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let dst: SocketAddr = "10.0.0.2:443".parse().unwrap();
        let seg = syn(false, src, dst, 1000).unwrap();
        let t = TcpPacket::new(&seg).unwrap();
        assert_eq!(t.get_flags(), TcpFlags::SYN);
        assert_eq!((t.get_source(), t.get_destination()), (40000, 443));
        assert_eq!(t.get_sequence(), 1000);
        assert_eq!(
            t.get_checksum(),
            ipv4_checksum(
                &t,
                &"10.0.0.1".parse().unwrap(),
                &"10.0.0.2".parse().unwrap()
            )
        );
        // the peer's SYN-ACK
        let mut reply = vec![0u8; 20];
        {
            let mut r = MutableTcpPacket::new(&mut reply).unwrap();
            r.set_source(443);
            r.set_destination(40000);
            r.set_acknowledgement(1001);
            r.set_data_offset(5);
            r.set_flags(TcpFlags::SYN | TcpFlags::ACK);
        }
        assert_eq!(
            tcp_reply(&reply, 40000),
            Some(((443, 1000), SynReply::SynAck))
        );
        assert_eq!(tcp_reply(&reply, 40001), None, "other port");
        reply[13] = TcpFlags::RST | TcpFlags::ACK;
        assert_eq!(tcp_reply(&reply, 40000), Some(((443, 1000), SynReply::Rst)));
        reply[13] = TcpFlags::RST;
        assert_eq!(
            tcp_reply(&reply, 40000),
            None,
            "bare RST acknowledges nothing"
        );
        assert_eq!(tcp_reply(&reply[..10], 40000), None, "truncated");
    }

    #[test]
    fn whole_packets_for_both_families() {
        let src: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let dst: SocketAddr = "10.0.0.2:443".parse().unwrap();
        let p = syn(true, src, dst, 7).unwrap();
        let ip = Ipv4Packet::new(&p).unwrap();
        assert_eq!((ip.get_version(), ip.get_header_length()), (4, 5));
        assert_eq!(ip.get_next_level_protocol(), IpNextHeaderProtocols::Tcp);
        assert_eq!(ip.get_ttl(), 64);
        assert_eq!(ip.get_source().to_string(), "10.0.0.1");
        assert_eq!(ip.get_destination().to_string(), "10.0.0.2");
        assert_eq!(&p[20..], &syn(false, src, dst, 7).unwrap()[..]);

        let src: SocketAddr = "[fd00::1]:40000".parse().unwrap();
        let dst: SocketAddr = "[fd00::2]:22".parse().unwrap();
        let p = syn(true, src, dst, 7).unwrap();
        assert_eq!(p.len(), 40 + 24);
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 24, "payload length");
        assert_eq!((p[6], p[7]), (6, 64));
        assert_eq!(
            &p[8..24],
            &"fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(&p[40..], &syn(false, src, dst, 7).unwrap()[..]);
        assert_eq!(
            syn(true, src, "10.0.0.2:1".parse().unwrap(), 7),
            None,
            "mixed families"
        );
    }
}
