//! Round-trip estimation and the timeouts derived from it (RFC 6298 smoothing).
//!
//! `timeout = clamp(K·srtt + 4·rttvar, min, max)`, with K = 2: twice the smoothed RTT
//! leaves room for a busy device (a clinic's NAS or an old PC answers SYNs late under load)
//! while still shrinking to the floor on a fast LAN. Before any sample the initial timeout
//! applies. A retry after no response waits twice as long (exponential backoff, capped).

use std::time::Duration;

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
            min: Duration::from_millis(150),
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
}

impl RttEstimator {
    /// A fresh estimator.
    pub fn new(bounds: RttBounds) -> Self {
        RttEstimator {
            bounds,
            srtt: None,
            rttvar: Duration::ZERO,
        }
    }

    /// Adds one measured round trip.
    pub fn sample(&mut self, rtt: Duration) {
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
        assert_eq!(e.timeout(), ms(150), "loopback RTT hits the floor");
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
}
