#![no_main]
//! Fuzzes the ike wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::ike;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ike::parse_message(data);
    let stripped = ike::strip_non_esp_marker(data);
    let _ = ike::parse_message(stripped);
    let _ = ike::vendor_id_name(data);
});
