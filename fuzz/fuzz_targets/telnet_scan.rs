#![no_main]
//! Telnet option negotiation and text.
use clinicscan_wire::telnet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = telnet::scan(data);
    assert!(s.consumed <= data.len());
    let _ = telnet::banner_text(&s.text, 2048);
});
