//! Record framing (TLS and SSLv2), ServerHello, Alert, Certificate and the flight state machine over
//! arbitrary server bytes.
#![no_main]

use clinicscan_wire::tls::{
    ServerFlight, parse_certificate_chain, parse_server_hello, read_flight,
};
use clinicscan_wire::tls_sslv2;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut flight = ServerFlight::new();
    let _ = read_flight(data, &mut flight);
    let _ = flight.finished();
    let _ = parse_server_hello(data);
    let _ = parse_certificate_chain(data);
    let _ = tls_sslv2::record_complete(data);
    let _ = tls_sslv2::parse_server_hello(data);
});
