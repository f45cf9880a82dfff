#![no_main]
//! Fuzzes the mssql wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::mssql::packet_len(data);
    let _ = wire::mssql::parse_prelogin_response(data);
});
