#![no_main]
//! RFB ProtocolVersion and security types / failure reason.
use clinicscan_wire::vnc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = vnc::parse_version(data) {
        let _ = vnc::parse_security(&data[12..], v.has_type_list());
    }
    let _ = vnc::parse_security(data, true);
    let _ = vnc::parse_security(data, false);
});
