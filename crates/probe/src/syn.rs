//! SYN scan (half-open) with raw TCP packets.

use std::io;
use std::sync::Arc;

use crate::portscan::{HostCtx, Limits, PortResult};

/// Raw SYN scanner.
pub(crate) struct SynScanner {}

impl SynScanner {
    /// Opens the raw sockets; `Err` without privilege.
    pub fn open() -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "not implemented",
        ))
    }

    /// Scans `ports` on one host.
    pub async fn scan(
        &self,
        _limits: &Arc<Limits>,
        _host: &Arc<HostCtx>,
        _ports: &[u16],
    ) -> Vec<(u16, PortResult)> {
        Vec::new()
    }
}
