#![no_main]
//! Fuzzes the mysql wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::mysql;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mysql::packet_len(data);
    let _ = mysql::parse_first_packet(data);
});
