//! Other tools' output as clinicscan Observations, so a site can assess results it already
//! has (`clinicscan assess --nmap-xml run.xml`) with the same rules as its own scans.
//!
//! Pure: the input is a string the caller has read, the output an Observation; nothing
//! here opens a file or a socket. What the other tool did not establish stays `null`, and
//! every reason is `imported`, so an imported fact never passes for one clinicscan saw.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let xml = std::fs::read_to_string("scan.xml")?;
//! let observation = clinicscan_import::import_nmap_xml(&xml)?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod nmap;

pub use nmap::{ImportError, import_nmap_xml};
