//! Round-trip estimation and the timeouts derived from it (RFC 6298 smoothing).
//!
//! `timeout = clamp(K·srtt + 4·rttvar, min, max)`, with K = 2: twice the smoothed RTT
//! leaves room for a busy device (a clinic's NAS or an old PC answers SYNs late under load)
//! while still shrinking to the floor on a fast LAN. Before any sample the initial timeout
//! applies. A retry after no response waits twice as long (exponential backoff, capped).

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Multiplier of the smoothed RTT in the timeout.
pub const K_SRTT: u32 = 2;

/// Timeout bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttBounds {
    /// Timeout before any RTT was measured.
    pub initial: Duration,
    /// Floor of the timeout.
    pub min: Duration,
    /// Ceiling of the timeout.
    pub max: Duration,
}

impl Default for RttBounds {
    fn default() -> Self {
        RttBounds {
            initial: Duration::from_millis(1000),
            // nmap -T4's floor. Timeouts follow what the host and its path answered; the
            // floor only keeps a busy scanner's own delays from reading as silence.
            min: Duration::from_millis(100),
            max: Duration::from_millis(3000),
        }
    }
}

/// Smoothed RTT of one host.
#[derive(Debug, Clone, Copy)]
pub struct RttEstimator {
    bounds: RttBounds,
    srtt: Option<Duration>,
    rttvar: Duration,
    samples: u32,
}

impl RttEstimator {
    /// A fresh estimator.
    pub fn new(bounds: RttBounds) -> Self {
        RttEstimator {
            bounds,
            srtt: None,
            rttvar: Duration::ZERO,
            samples: 0,
        }
    }

    /// Adds one measured round trip.
    pub fn sample(&mut self, rtt: Duration) {
        self.samples = self.samples.saturating_add(1);
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// The smoothed RTT, if any sample was taken.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// How many round trips were measured.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// The timeout for a first attempt.
    pub fn timeout(&self) -> Duration {
        match self.srtt {
            None => self.bounds.initial,
            Some(srtt) => (srtt * K_SRTT + self.rttvar * 4).clamp(self.bounds.min, self.bounds.max),
        }
    }

    /// The timeout for attempt `n` (0-based): doubled per retry, capped at the maximum.
    pub fn timeout_for_attempt(&self, n: u32) -> Duration {
        let t = self.timeout();
        t.saturating_mul(1 << n.min(4))
            .min(self.bounds.max.max(self.bounds.initial))
    }

    /// The I/O timeout for service probes: servers need time to compute (a TLS handshake
    /// on a small device), so four times the connect timeout, within 1-5 seconds.
    pub fn io_timeout(&self) -> Duration {
        (self.timeout() * 4).clamp(Duration::from_secs(1), Duration::from_secs(5))
    }
}

/// How long discovery waits for a host to answer, shared by every host of a scan.
///
/// Until any host has answered: the configured discovery timeout. Then the RFC 6298
/// estimate over every answer of the scan (`2·srtt + 4·rttvar`, as [`RttEstimator`]),
/// within `[floor, timeout]`: on a LAN where live hosts answer in a millisecond, an address
/// with no host costs the floor, not the full timeout (nmap adapts its ping timeouts the
/// same way, down to 100 ms at -T4; the floor here is higher, for old devices that answer
/// late). A smoothed estimate, not the slowest answer: the first burst of a scan delays
/// some answers by the scanner's own load, and one such outlier must not set the wait.
#[derive(Debug)]
pub struct DiscoveryWait {
    estimate: std::sync::Mutex<RttEstimator>,
    /// Whether any host has answered yet.
    answered: AtomicBool,
    /// Wakes every waiting probe when the first answer shortens the wait from the full
    /// timeout; later changes are seen when a waiter's sleep ends: no polling.
    first_answer: Notify,
}

impl DiscoveryWait {
    /// A wait of `cap` until the first answer, never shorter than `floor` after it.
    pub fn new(cap: Duration, floor: Duration) -> Self {
        DiscoveryWait {
            estimate: std::sync::Mutex::new(RttEstimator::new(RttBounds {
                initial: cap,
                min: floor.min(cap),
                max: cap,
            })),
            answered: AtomicBool::new(false),
            first_answer: Notify::new(),
        }
    }

    /// Records the round trip of one answer (ARP, ICMP echo, SYN-ACK or RST).
    pub fn sample(&self, rtt: Duration) {
        if let Ok(mut e) = self.estimate.lock() {
            e.sample(rtt);
        }
        if !self.answered.swap(true, Ordering::Relaxed) {
            self.first_answer.notify_waiters();
        }
    }

    /// The wait for a probe sent now.
    pub fn current(&self) -> Duration {
        match self.estimate.lock() {
            Ok(e) => e.timeout(),
            Err(p) => p.into_inner().timeout(),
        }
    }

    /// Waits for `answer` until `since + current()`; `None` when the wait ran out.
    #[cfg(test)]
    pub async fn until<F: Future>(&self, since: Instant, answer: F) -> Option<F::Output> {
        self.with_retransmit(since, answer, || Ok(()))
            .await
            .ok()
            .flatten()
    }

    /// As [`DiscoveryWait::until`], calling `resend` once half-way through the wait (one
    /// retransmission of a lost request). A send error ends the wait with that error.
    pub async fn with_retransmit<F, S>(
        &self,
        since: Instant,
        answer: F,
        mut resend: S,
    ) -> io::Result<Option<F::Output>>
    where
        F: Future,
        S: FnMut() -> io::Result<()>,
    {
        tokio::pin!(answer);
        let mut resent = false;
        loop {
            // Registered before reading the wait, so a first answer in between is not missed.
            let first = self.first_answer.notified();
            let waiting_for_first = !self.answered.load(Ordering::Relaxed);
            let total = self.current();
            let now = Instant::now();
            if now >= since + total {
                return Ok(None);
            }
            if !resent && now >= since + total / 2 {
                resent = true;
                resend()?;
            }
            let next = if resent {
                since + total
            } else {
                since + total / 2
            };
            tokio::select! {
                biased;
                r = &mut answer => return Ok(Some(r)),
                () = tokio::time::sleep_until(next) => {}
                () = first, if waiting_for_first => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn initial_then_smoothed() {
        let mut e = RttEstimator::new(RttBounds::default());
        assert_eq!(e.timeout(), ms(1000));
        e.sample(ms(100));
        // srtt 100, rttvar 50: 2*100 + 4*50
        assert_eq!(e.timeout(), ms(400));
        e.sample(ms(20));
        // rttvar = (3*50 + 80)/4 = 57.5; srtt = (700+20)/8 = 90
        assert_eq!(e.srtt(), Some(ms(90)));
        assert_eq!(e.timeout(), ms(410));
    }

    #[test]
    fn clamped_to_bounds() {
        let mut e = RttEstimator::new(RttBounds::default());
        e.sample(Duration::from_micros(50));
        assert_eq!(e.timeout(), ms(100), "loopback RTT hits the floor");
        let mut e = RttEstimator::new(RttBounds::default());
        e.sample(ms(5000));
        assert_eq!(e.timeout(), ms(3000));
    }

    #[test]
    fn retries_back_off() {
        let mut e = RttEstimator::new(RttBounds::default());
        e.sample(ms(50));
        assert_eq!(e.timeout_for_attempt(0), ms(200));
        assert_eq!(e.timeout_for_attempt(1), ms(400));
        assert_eq!(e.timeout_for_attempt(9), ms(3000));
        assert_eq!(e.io_timeout(), Duration::from_secs(1));
    }

    #[test]
    fn discovery_wait_adapts_to_answers() {
        let w = DiscoveryWait::new(ms(1000), ms(300));
        assert_eq!(
            w.current(),
            ms(1000),
            "no answer yet: the configured timeout"
        );
        w.sample(Duration::from_micros(400));
        assert_eq!(w.current(), ms(300), "fast LAN: the floor");
        w.sample(ms(200));
        // srtt = (7*0.4 + 200)/8 = 25.35, rttvar = (3*0.2 + 199.6)/4 = 50.05: 250.9 ms
        assert_eq!(
            w.current(),
            ms(300),
            "one slow answer among fast ones: still the floor"
        );
        for _ in 0..20 {
            w.sample(ms(150));
        }
        assert!(
            w.current() > ms(300),
            "a slow network raises it: {:?}",
            w.current()
        );
        for _ in 0..20 {
            w.sample(ms(900));
        }
        assert_eq!(w.current(), ms(1000), "capped at the timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn discovery_wait_shrinks_while_waiting() {
        let w = DiscoveryWait::new(ms(1000), ms(300));
        let start = Instant::now();
        let never = std::future::pending::<()>();
        let waiting = w.until(start, never);
        // Another host answers quickly 50 ms in: this wait ends at the floor, not at 1 s.
        let (r, ()) = tokio::join!(waiting, async {
            tokio::time::sleep(ms(50)).await;
            w.sample(ms(1));
        });
        assert_eq!(r, None);
        let took = start.elapsed();
        assert!(took >= ms(300) && took < ms(350), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn discovery_wait_resends_once_half_way() {
        let w = DiscoveryWait::new(ms(400), ms(100));
        let start = Instant::now();
        let mut sends = Vec::new();
        let r = w
            .with_retransmit(start, std::future::pending::<()>(), || {
                sends.push(start.elapsed());
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(r, None);
        assert_eq!(sends.len(), 1);
        assert!(sends[0] >= ms(200) && sends[0] < ms(230), "{sends:?}");
        let answered = w.until(Instant::now(), async { 7 }).await;
        assert_eq!(answered, Some(7));
    }
}
