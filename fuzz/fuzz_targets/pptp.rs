#![no_main]
//! Fuzzes the pptp wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::pptp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pptp::message_len(data);
    let _ = pptp::control_type(data);
    let _ = pptp::parse_start_reply(data);
});
