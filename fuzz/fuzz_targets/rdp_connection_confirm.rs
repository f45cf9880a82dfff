#![no_main]
//! RDP: TPKT framing, X.224 Connection Confirm, CredSSP TSRequest framing.
use clinicscan_wire::rdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rdp::tpkt_complete(data);
    let _ = rdp::parse_connection_confirm(data);
    let _ = rdp::der_complete(data);
    let _ = rdp::parse_mcs_connect_response(data);
});
