#![no_main]
//! Fuzzes the snmp wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::{Reader, ber, snmp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = snmp::message_version(data);
    let _ = snmp::parse_community_message(data);
    let _ = snmp::parse_v3_message(data);
    let _ = ber::element_len(data);
    let mut r = Reader::new(data, "fuzz input");
    while let Ok(t) = ber::read(&mut r) {
        let _ = ber::integer(t.content);
        let _ = ber::oid_text(t.content);
    }
});
