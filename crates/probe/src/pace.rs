//! Pacing: the one mechanism that spaces a host's new connections and packets (a gentle
//! zone's gap) and the scan's (`--max-rate`). Port scan, discovery pings, UDP probes and
//! every connection a service probe opens wait for it.
//!
//! The two paces promise different things. The scan's rate ([`Pacer`]) is an average: slots
//! are reserved ahead, and a waiter that wakes late only makes the scan a little slower. A
//! gentle host's gap ([`GapPacer`]) is what the device sees between two packets, and a slot
//! reserved ahead cannot promise that: when one slot's waiter wakes late (the runtime's
//! threads busy), its packet leaves late while the next slot's leaves on time, closer than
//! the gap. So a gentle host's waiters take turns, and each turn is counted from when the
//! previous waiter was actually released (the send follows in the same poll).

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

/// A gentle host's gap: one waiter at a time, released no sooner than `gap` after the
/// previous one was.
#[derive(Debug)]
pub(crate) struct GapPacer {
    gap: Duration,
    released: tokio::sync::Mutex<Option<Instant>>,
}

impl GapPacer {
    fn new(gap: Duration) -> Self {
        GapPacer {
            gap,
            released: tokio::sync::Mutex::new(None),
        }
    }

    /// Waits for this host's turn (waiters are served in order).
    pub async fn wait(&self) {
        let mut released = self.released.lock().await;
        if let Some(at) = *released {
            tokio::time::sleep_until(at + self.gap).await;
        }
        *released = Some(Instant::now());
    }
}

/// Every pace a new connection to one host keeps: the host's gap (gentle profiles) and the
/// scan's rate. Port scan, discovery and service probes share one per host, and a probe's
/// context carries it, so a probe's second and later connections keep the pace too.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pace {
    host: Option<Arc<GapPacer>>,
    scan: Option<Arc<Pacer>>,
}

impl Pace {
    /// `host_gap` zero for no per-host pace.
    pub fn new(host_gap: Duration, scan: Option<Arc<Pacer>>) -> Self {
        Pace {
            host: (!host_gap.is_zero()).then(|| Arc::new(GapPacer::new(host_gap))),
            scan,
        }
    }

    /// Waits for the scan's next slot, then the host's turn; at once when neither paces.
    /// The host's comes last so that nothing stands between its release and the send.
    pub async fn wait(&self) {
        if let Some(p) = &self.scan {
            p.wait().await;
        }
        if let Some(p) = &self.host {
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

    /// A waiter released late does not shorten the gap to the next one: the gap counts from
    /// the actual release, not from a slot reserved ahead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_release_keeps_the_gap() {
        let gap = Duration::from_millis(30);
        let pace = Arc::new(GapPacer::new(gap));
        let released = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10u64 {
            let (pace, released) = (pace.clone(), released.clone());
            tasks.push(tokio::spawn(async move {
                pace.wait().await;
                let at = Instant::now();
                if let Ok(mut r) = released.lock() {
                    r.push(at);
                }
                // Every other waiter's thread is busy right after its release, as a loaded
                // runtime's are: the next waiter must still keep the gap.
                if i % 2 == 0 {
                    std::thread::sleep(Duration::from_millis(15));
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let mut at = released.lock().map(|r| r.clone()).unwrap_or_default();
        at.sort();
        assert_eq!(at.len(), 10);
        // The pacer stamps the release inside `wait`; this clock is read just after it.
        let slack = Duration::from_millis(2);
        for w in at.windows(2) {
            let between = w[1] - w[0];
            assert!(
                between + slack >= gap,
                "two releases {between:?} apart (gap {gap:?})"
            );
        }
    }
}
