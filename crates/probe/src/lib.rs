//! The network side of clinicscan: targets → discovery → port scan → service probes →
//! [`clinicscan_model::Observation`].
//!
//! Layout (rustls style): `wire::*` are pure parsers and encoders over bytes, with no I/O,
//! each tested on recorded fixtures and fuzzed; `proto::*` are the thin async probes that own
//! the socket, the deadline and the byte limit and turn wire results into model facts.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Skeleton: the engine wires every probe in; remove once nothing is dead.
#![allow(dead_code)]

mod catalog;
mod proto;
// Parsers are public only for the fuzz targets and property tests.
#[cfg(feature = "fuzzing")]
pub mod wire;
#[cfg(not(feature = "fuzzing"))]
mod wire;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use proto::hooks;

pub use catalog::{CLINIC_PORTS, PortEntry, port_entry};
