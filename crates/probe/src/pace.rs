//! Pacing: the one mechanism that spaces a host's new connections and packets (a gentle
//! zone's gap) and the scan's (`--max-rate`). Port scan, discovery pings, UDP probes and
//! every connection a service probe opens wait for it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Spaces events at least `gap` apart (global rate, per-host gentle gap).
#[derive(Debug)]
pub(crate) struct Pacer {
    gap: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer for `per_second` events per second.
    pub fn per_second(per_second: u32) -> Self {
        Self::with_gap(Duration::from_secs(1) / per_second.max(1))
    }

    /// A pacer with a fixed gap.
    pub fn with_gap(gap: Duration) -> Self {
        Pacer {
            gap,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next slot.
    pub async fn wait(&self) {
        let slot = match self.next.lock() {
            Ok(mut n) => {
                let slot = (*n).max(Instant::now());
                *n = slot + self.gap;
                slot
            }
            Err(_) => return,
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Every pace a new connection to one host keeps: the host's gap (gentle profiles) and the
/// scan's rate. Port scan, discovery and service probes share one per host, and a probe's
/// context carries it, so a probe's second and later connections keep the pace too.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pace {
    host: Option<Arc<Pacer>>,
    scan: Option<Arc<Pacer>>,
}

impl Pace {
    /// `host_gap` zero for no per-host pace.
    pub fn new(host_gap: Duration, scan: Option<Arc<Pacer>>) -> Self {
        Pace {
            host: (!host_gap.is_zero()).then(|| Arc::new(Pacer::with_gap(host_gap))),
            scan,
        }
    }

    /// Waits for the host's next slot, then the scan's; at once when neither paces.
    pub async fn wait(&self) {
        if let Some(p) = &self.host {
            p.wait().await;
        }
        if let Some(p) = &self.scan {
            p.wait().await;
        }
    }

    /// The host is paced (a gentle profile): probes use one connection at a time.
    pub fn is_gentle(&self) -> bool {
        self.host.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pacer_spaces_events() {
        let p = Pacer::with_gap(Duration::from_millis(20));
        let start = Instant::now();
        for _ in 0..4 {
            p.wait().await;
        }
        let e = start.elapsed();
        assert!(e >= Duration::from_millis(60), "{e:?}");
    }
}
