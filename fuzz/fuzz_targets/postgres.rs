#![no_main]
//! Fuzzes the postgres wire parsers: arbitrary bytes must never panic.

use clinicscan_probe::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::postgres::answer_len(data);
    let _ = wire::postgres::parse_ssl_answer(data);
});
