#![no_main]
//! Fuzzes the ike wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::ike::parse_message(data);
    let stripped = wire::ike::strip_non_esp_marker(data);
    let _ = wire::ike::parse_message(stripped);
    let _ = wire::ike::vendor_id_name(data);
});
