#![no_main]
//! Fuzzes the postgres wire parsers: arbitrary bytes must never panic.

use clinicscan_wire::postgres;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = postgres::answer_len(data);
    let _ = postgres::parse_ssl_answer(data);
    let _ = postgres::message_complete(data);
    if let Ok(answer) = postgres::parse_startup_answer(data) {
        let _ = answer.method();
    }
});
