//! Pure parsers and encoders for every protocol clinicscan speaks: no I/O, no clock, no
//! allocation sized by an unchecked length field. Each module has fixture tests over the
//! recorded bytes in `fixtures/` and a fuzz target in `fuzz/`.

pub mod ber;
pub mod cert;
pub mod dicom;
pub mod ftp;
pub mod http;
pub mod ike;
pub mod mssql;
pub mod mysql;
pub mod ntlm;
pub mod openvpn;
pub mod packet;
pub mod postgres;
pub mod pptp;
pub mod rdp;
pub mod smb;
pub mod snmp;
pub mod ssdp;
pub mod ssh;
pub mod telnet;
pub mod tls;
pub mod tls_sslv2;
pub mod tls_suites;
pub mod vnc;
