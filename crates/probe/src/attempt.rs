//! What one connection attempt (a connect, or a raw SYN) showed, and the port state it
//! stands for. Pure classification, shared by the connect scan, the SYN scanner and
//! discovery:
//! - connect completes → open (syn-ack);
//! - ECONNREFUSED → closed (reset); ECONNRESET during connect → open (the handshake
//!   completed, then the peer reset);
//! - EHOSTUNREACH / ENETUNREACH / EACCES / EPERM → filtered (icmp-unreachable: an ICMP
//!   prohibition or unreachable came back, or a local filter refused);
//! - nothing within the timeout, after every retry → filtered (no-response).

use std::io;

use clinicscan_model::{PortReason, PortState};

/// What one connection attempt showed.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The handshake completed.
    Open,
    /// Refused or reset: nothing listens.
    Closed,
    /// An ICMP error (or a local filter) refused it.
    Unreachable,
    /// No answer in time.
    Timeout,
    /// A local resource problem (too many open files, no free port...): not the peer's doing.
    Local(io::Error),
}

/// Classifies a connect error.
pub(crate) fn classify(e: &io::Error) -> Attempt {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => return Attempt::Closed,
        // A reset *during* connect comes after the handshake completed (a refused SYN is
        // ECONNREFUSED): the service accepted, then dropped us — the port is open.
        K::ConnectionReset => return Attempt::Open,
        K::TimedOut => return Attempt::Timeout,
        K::HostUnreachable | K::NetworkUnreachable | K::PermissionDenied => {
            return Attempt::Unreachable;
        }
        _ => {}
    }
    // EPERM (local netfilter reject), EHOSTUNREACH, ENETUNREACH, EACCES by number, for
    // kinds std does not map.
    match e.raw_os_error() {
        Some(1 | 13 | 101 | 113) => Attempt::Unreachable,
        Some(110) => Attempt::Timeout,
        Some(111) => Attempt::Closed,
        Some(104) => Attempt::Open,
        _ => Attempt::Local(io::Error::new(e.kind(), e.to_string())),
    }
}

/// The final state of a port from its last attempt.
pub(crate) fn state_of(a: &Attempt) -> (PortState, PortReason) {
    match a {
        Attempt::Open => (PortState::Open, PortReason::SynAck),
        Attempt::Closed => (PortState::Closed, PortReason::Reset),
        Attempt::Unreachable => (PortState::Filtered, PortReason::IcmpUnreachable),
        Attempt::Timeout | Attempt::Local(_) => (PortState::Filtered, PortReason::NoResponse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(n: i32) -> io::Error {
        io::Error::from_raw_os_error(n)
    }

    #[test]
    fn classification() {
        let cases = [
            (111, PortState::Closed, PortReason::Reset),
            // ECONNRESET during connect: the handshake completed, then the peer reset.
            (104, PortState::Open, PortReason::SynAck),
            (113, PortState::Filtered, PortReason::IcmpUnreachable),
            (101, PortState::Filtered, PortReason::IcmpUnreachable),
            (13, PortState::Filtered, PortReason::IcmpUnreachable),
            (1, PortState::Filtered, PortReason::IcmpUnreachable),
            (110, PortState::Filtered, PortReason::NoResponse),
        ];
        for (errno, s, r) in cases {
            assert_eq!(state_of(&classify(&os(errno))), (s, r), "errno {errno}");
        }
        assert!(
            matches!(classify(&os(24)), Attempt::Local(_)),
            "EMFILE is local"
        );
        assert_eq!(
            state_of(&Attempt::Open),
            (PortState::Open, PortReason::SynAck)
        );
    }
}
