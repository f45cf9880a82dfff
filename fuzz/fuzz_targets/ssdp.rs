#![no_main]
//! Fuzzes the ssdp wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::ssdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ssdp::parse_response(data);
});
