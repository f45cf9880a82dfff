#![no_main]
//! NTLM CHALLENGE (target info AV pairs, version), found anywhere in the input.
use clinicscan_wire::ntlm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ntlm::find_challenge(data);
    let _ = ntlm::parse_challenge(data);
});
