#![no_main]
//! Fuzzes the pptp wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::pptp::message_len(data);
    let _ = wire::pptp::control_type(data);
    let _ = wire::pptp::parse_start_reply(data);
});
