#![no_main]
//! Fuzzes the openvpn wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::openvpn::parse_control(data);
    let _ = wire::openvpn::tcp_frame_len(data);
    if let Ok(p) = wire::openvpn::tcp_unframe(data) {
        let _ = wire::openvpn::parse_control(p);
    }
});
