//! nmap XML import (placeholder, filled below).
use clinicscan_model::Observation;

use crate::error::ImportError;

/// Imports an nmap XML run as an Observation.
pub fn import_nmap_xml(_xml: &str) -> Result<Observation, ImportError> {
    Err(ImportError::NotNmap("not implemented".into()))
}
