//! HTTP response framing, parsing, charset decoding, title, login form and signatures.
#![no_main]

use clinicscan_wire::http::{
    SIGNATURES, has_password_input, matches, parse_response, response_complete, title,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = response_complete(data);
    if let Ok(resp) = parse_response(data) {
        let text = resp.text();
        let _ = title(&text);
        let _ = has_password_input(&text);
        let _ = resp.auth_schemes();
        for sig in SIGNATURES {
            let _ = matches(sig, &resp, &text);
        }
    }
});
