#![no_main]
//! RFB ProtocolVersion, security types / failure reason, SecurityResult and ServerInit.
use clinicscan_wire::vnc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = vnc::parse_version(data) {
        let _ = vnc::parse_security(&data[12..], v.has_type_list());
    }
    let _ = vnc::parse_security(data, true);
    let _ = vnc::parse_security(data, false);
    let _ = vnc::parse_security_result(data, true);
    let _ = vnc::parse_security_result(data, false);
    let _ = vnc::parse_server_init(data);
    let _ = vnc::is_refusal(&String::from_utf8_lossy(data));
});
