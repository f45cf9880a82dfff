//! The rdp service probe (not yet written).

use clinicscan_model::Service;

use super::ProbeContext;

/// Fills `service.facts.rdp` from a real handshake.
pub(crate) async fn probe(_ctx: &ProbeContext, _service: &mut Service) {}
