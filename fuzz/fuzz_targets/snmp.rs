#![no_main]
//! Fuzzes the snmp wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::snmp::message_version(data);
    let _ = wire::snmp::parse_community_message(data);
    let _ = wire::snmp::parse_v3_message(data);
    let _ = wire::ber::element_len(data);
    let mut s = data;
    while let Ok(t) = wire::ber::read(&mut s) {
        let _ = wire::ber::integer(t.content);
        let _ = wire::ber::oid_text(t.content);
    }
});
