#![no_main]
//! Fuzzes the openvpn wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::openvpn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = openvpn::parse_control(data);
    let _ = openvpn::tcp_frame_len(data);
    if let Ok(p) = openvpn::tcp_unframe(data) {
        let _ = openvpn::parse_control(p);
    }
});
