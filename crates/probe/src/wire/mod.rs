//! Pure parsers and encoders for every protocol clinicscan speaks: no I/O, no clock, no
//! allocation sized by an unchecked length field. Each module has fixture tests over the
//! recorded bytes in `fixtures/` and a fuzz target in `fuzz/`.

pub mod cert;
pub mod http;
pub mod tls;
pub mod tls_sslv2;
pub mod tls_suites;
