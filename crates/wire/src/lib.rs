//! clinicscan's pure parsers and encoders of protocol bytes: what a normal client sends in a
//! handshake, and what a server answers, for every protocol clinicscan speaks.
//!
//! No I/O, no clock, no allocation sized by an unchecked length field: the network side
//! (`clinicscan-probe`) owns the sockets, deadlines and byte limits and hands bytes in.
//! Each module is tested on recorded bytes in `fixtures/<protocol>/` and fuzzed (`fuzz/`).
//!
//! One way of reading, one way of failing, one way of framing:
//! - every parser reads through a [`Reader`], which checks each length before it slices;
//! - every failure is an [`Error`] that says what the peer sent;
//! - every protocol's framing function is a `fn(&[u8]) -> Frame`: `Ok(Some(n))` a whole
//!   message of `n` bytes, `Ok(None)` more bytes needed, `Err` not this protocol.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod reader;

pub use error::Error;
pub(crate) use reader::frame;
pub use reader::{Frame, Reader};

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
pub mod smb1;
pub mod smb2;
pub mod smtp;
pub mod snmp;
pub mod srvsvc;
pub mod ssdp;
pub mod ssh;
pub mod telnet;
pub mod tls;
pub mod tls_sslv2;
pub mod vnc;
