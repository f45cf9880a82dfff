#![no_main]
//! Fuzzes the mssql wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::mssql;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mssql::packet_len(data);
    let _ = mssql::parse_prelogin_response(data);
});
