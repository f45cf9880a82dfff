#![no_main]
//! Fuzzes the dicom wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::dicom;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dicom::pdu_len(data);
    let _ = dicom::parse_pdu(data);
    let _ = dicom::parse_command(data);
});
