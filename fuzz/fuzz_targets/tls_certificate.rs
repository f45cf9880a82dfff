//! Certificate facts over arbitrary DER.
#![no_main]

use clinicscan_wire::cert::certificate_facts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = certificate_facts(data, chrono::DateTime::UNIX_EPOCH);
});
