//! The network side of clinicscan: targets → discovery → port scan → service probes →
//! [`clinicscan_model::Observation`].
//!
//! Layout (rustls style): the pure parsers and encoders over bytes live in `clinicscan-wire`
//! (no I/O, tested on recorded fixtures and fuzzed); `proto::*` are the thin async probes
//! that own the socket, the deadline and the byte limit and turn wire results into facts.
//!
//! The public API is small:
//!
//! ```no_run
//! # async fn demo() -> Result<(), clinicscan_probe::ScanError> {
//! use clinicscan_probe::{ScanConfig, ScanEvent, plan, scan};
//!
//! let config = ScanConfig {
//!     targets: vec!["192.168.1.0/24".into()],
//!     ..ScanConfig::default()
//! };
//! let checked = plan(&config)?; // every error, before any packet
//! println!("{} addresses", checked.address_count());
//! let observation = scan(&config, |event: ScanEvent| eprintln!("{event:?}")).await?;
//! # let _ = observation; Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attempt;
mod catalog;
mod config;
mod discovery;
mod dns;
mod egress;
mod engine;
mod netinfo;
mod order;
mod oui;
mod pace;
mod ports;
mod portscan;
mod proto;
mod raw;
mod rtt;
mod scope;
mod services;
mod sweep;
mod targets;
mod timing;
mod top_ports;
mod wheel;

#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub use proto::hooks;

pub use catalog::{CLINIC_PORTS, PortEntry, port_entry};
pub use config::{HostProfile, ScanConfig, ScanPlan, Timing, plan};
pub use engine::{ScanEvent, scan, scan_until, vantage_toward};
pub use oui::{OUI_CSV, OuiTable};
pub use ports::{PortError, PortPlan, parse_ports};
pub use rtt::{RttBounds, RttEstimator};
pub use scope::{AddressScope, ScopeError, classify};
pub use targets::{
    AddressIter, AddressSet, Interval, Origin, Target, TargetError, TargetFileError, TargetSpec,
    parse_target,
};

/// Why a scan could not start. Everything here is found before any packet is sent;
/// trouble during the scan (no privilege, an unresolvable name) becomes a notice instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A target or exclusion is malformed.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A target file cannot be read.
    #[error(transparent)]
    TargetFile(#[from] TargetFileError),
    /// A target is outside the permitted scope.
    #[error(transparent)]
    Scope(#[from] ScopeError),
    /// The port specification is malformed.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// Another setting is invalid.
    #[error("invalid scan configuration: {0}")]
    Config(String),
}
