#![no_main]
//! Fuzzes the dicom wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::dicom::pdu_len(data);
    let _ = wire::dicom::parse_pdu(data);
    let _ = wire::dicom::parse_command(data);
});
