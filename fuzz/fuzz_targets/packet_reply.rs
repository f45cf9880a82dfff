#![no_main]
//! Answers read by the raw sockets: SYN replies, ICMP errors, echo replies, ARP.
use clinicscan_wire::packet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((_, body)) = packet::ipv4_payload(data) {
        assert!(body.len() < data.len());
        let _ = packet::tcp_reply(body, 36089);
        let _ = packet::tcp_reply_to(body);
        let _ = packet::icmp_unreachable(false, body, 36089);
        let _ = packet::unreachable(false, body);
    }
    let _ = packet::tcp_reply(data, 36365);
    let _ = packet::icmp_unreachable(true, data, 36365);
    let _ = packet::unreachable(true, data);
    let _ = packet::echo_reply(true, data, 0x3d91);
    let _ = packet::echo_reply_v4(data, 0x3d9b);
    let _ = packet::arp_reply(data);
});
