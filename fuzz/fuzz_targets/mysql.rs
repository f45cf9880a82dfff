#![no_main]
//! Fuzzes the mysql wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::mysql::packet_len(data);
    let _ = wire::mysql::parse_first_packet(data);
});
