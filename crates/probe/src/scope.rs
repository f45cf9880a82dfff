//! Scope safety: which addresses a scan may touch.
//!
//! By default only address space that belongs to the site itself may be scanned:
//! RFC 1918 (10/8, 172.16/12, 192.168/16), loopback (127/8, ::1), link-local
//! (169.254/16, fe80::/10) and IPv6 unique-local (fc00::/7). Everything else is refused
//! unless the user passes `allow_public`.
//!
//! CGNAT shared address space (100.64.0.0/10, RFC 6598) is deliberately *not* in the
//! default scope: it is the carrier's network between the clinic's router and the ISP's
//! NAT (or an overlay VPN's address pool reaching other sites), not the clinic's LAN. A
//! user who really means it passes `allow_public`.
//!
//! A public address the site file declares as the clinic's own (its internet line's WAN
//! side, scanned from outside) is in scope without `allow_public`; any other public address
//! still needs it ([`Scope`]).
//!
//! Multicast, broadcast, unspecified and reserved (240/4, 0/8) addresses are never host
//! addresses and are refused even with `allow_public`.

use std::net::IpAddr;

use crate::targets::{AddressSet, Interval, to_int};

/// Where an address lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressScope {
    /// Site-local address space, scannable by default (the block's name).
    Local(&'static str),
    /// Public (or carrier) address space: needs `allow_public`.
    Public,
    /// Not a host address at all (multicast, broadcast, unspecified, reserved).
    Special(&'static str),
}

/// A target outside the permitted scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to scan {text}: {reason}")]
pub struct ScopeError {
    /// The target, as written (and the address it resolved to, for names).
    pub text: String,
    /// Why it is refused.
    pub reason: String,
}

struct Block {
    v6: bool,
    first: u128,
    last: u128,
    scope: AddressScope,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u32, scope: AddressScope) -> Block {
    let n = ((a as u32) << 24) | ((b as u32) << 16) | ((c as u32) << 8) | d as u32;
    let size = if prefix == 0 {
        u32::MAX
    } else {
        (1u32 << (32 - prefix)) - 1
    };
    Block {
        v6: false,
        first: n as u128,
        last: (n | size) as u128,
        scope,
    }
}

const fn v6(hi: u16, prefix: u32, scope: AddressScope) -> Block {
    let n = (hi as u128) << 112;
    let size = (1u128 << (128 - prefix)) - 1;
    Block {
        v6: true,
        first: n,
        last: n | size,
        scope,
    }
}

use AddressScope::{Local, Special};

/// Ordered from most to least specific where they overlap.
const BLOCKS: &[Block] = &[
    v4(10, 0, 0, 0, 8, Local("rfc1918")),
    v4(172, 16, 0, 0, 12, Local("rfc1918")),
    v4(192, 168, 0, 0, 16, Local("rfc1918")),
    v4(127, 0, 0, 0, 8, Local("loopback")),
    v4(169, 254, 0, 0, 16, Local("link-local")),
    v4(255, 255, 255, 255, 32, Special("broadcast")),
    v4(0, 0, 0, 0, 8, Special("this-network")),
    v4(224, 0, 0, 0, 4, Special("multicast")),
    v4(240, 0, 0, 0, 4, Special("reserved")),
    Block {
        v6: true,
        first: 1,
        last: 1,
        scope: Local("loopback"),
    },
    Block {
        v6: true,
        first: 0,
        last: 0,
        scope: Special("unspecified"),
    },
    v6(0xfe80, 10, Local("link-local")),
    v6(0xfc00, 7, Local("unique-local")),
    v6(0xff00, 8, Special("multicast")),
];

/// Classifies one address.
pub fn classify(ip: IpAddr) -> AddressScope {
    let (is_v6, n) = to_int(ip);
    BLOCKS
        .iter()
        .find(|b| b.v6 == is_v6 && b.first <= n && n <= b.last)
        .map_or(AddressScope::Public, |b| b.scope)
}

/// Checks one address against the scope; `text` names it in the error.
pub fn check_address(ip: IpAddr, allow_public: bool, text: &str) -> Result<(), ScopeError> {
    match classify(ip) {
        AddressScope::Local(_) => Ok(()),
        AddressScope::Public if allow_public => Ok(()),
        AddressScope::Public => Err(ScopeError {
            text: text.to_string(),
            reason: format!(
                "{ip} is not private, loopback or link-local address space; \
                 pass allow_public (--allow-public) to scan it"
            ),
        }),
        AddressScope::Special(kind) => Err(ScopeError {
            text: text.to_string(),
            reason: format!("{ip} is a {kind} address, not a host"),
        }),
    }
}

/// Checks a whole interval: it must lie inside one local block, or (with `allow_public`)
/// contain no special address.
pub fn check_interval(iv: &Interval, allow_public: bool, text: &str) -> Result<(), ScopeError> {
    let inside_local = BLOCKS.iter().any(|b| {
        matches!(b.scope, AddressScope::Local(_))
            && b.v6 == iv.v6
            && b.first <= iv.first
            && iv.last <= b.last
    });
    if inside_local {
        return Ok(());
    }
    if !allow_public {
        // Name the first address that is out of scope.
        let bad = if matches!(classify(iv.first_addr()), AddressScope::Local(_)) {
            iv.last_addr()
        } else {
            iv.first_addr()
        };
        return check_address(bad, false, text).and(Err(ScopeError {
            text: text.to_string(),
            reason: "the range leaves private address space; pass allow_public to scan it".into(),
        }));
    }
    for b in BLOCKS {
        if let AddressScope::Special(kind) = b.scope
            && b.v6 == iv.v6
            && b.first <= iv.last
            && iv.first <= b.last
        {
            return Err(ScopeError {
                text: text.to_string(),
                reason: format!("the range contains {kind} addresses"),
            });
        }
    }
    Ok(())
}

/// What one scan may touch: private address space, the public addresses the site declares
/// as the clinic's own, and with `allow_public` any host address.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// `--allow-public`.
    pub allow_public: bool,
    /// The clinic's own public addresses, as its site file declares them.
    pub declared: AddressSet,
}

impl Scope {
    /// Checks one address; `text` names it in the error.
    pub fn check_address(&self, ip: IpAddr, text: &str) -> Result<(), ScopeError> {
        check_address(ip, self.allow_public || self.declared.contains(ip), text)
    }

    /// Checks an interval: inside private space, inside the declared public addresses, or
    /// (with `allow_public`) free of special addresses.
    pub fn check_interval(&self, iv: &Interval, text: &str) -> Result<(), ScopeError> {
        if self.declared.covers(iv) {
            return check_interval(iv, true, text);
        }
        check_interval(iv, self.allow_public, text).map_err(|e| {
            if self.declared.is_empty() {
                e
            } else {
                ScopeError {
                    reason: format!(
                        "{}; the site file declares other public addresses as the clinic's own",
                        e.reason
                    ),
                    ..e
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{TargetSpec, parse_target};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ivl(t: &str) -> Interval {
        match parse_target(t).unwrap() {
            TargetSpec::Interval(i) => i,
            TargetSpec::Name(_) => panic!(),
        }
    }

    #[test]
    fn default_scope() {
        for a in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "::1",
            "fe80::1",
            "fd12:3456::1",
            "fc00::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(matches!(classify(ip(a)), AddressScope::Local(_)), "{a}");
            assert!(check_address(ip(a), false, a).is_ok(), "{a}");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "192.169.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "11.0.0.1",
            "2001:db8::1",
            "2400:4050::1",
        ] {
            assert_eq!(classify(ip(a)), AddressScope::Public, "{a}");
            let e = check_address(ip(a), false, a).unwrap_err();
            assert!(e.to_string().contains("allow_public"), "{e}");
            assert!(check_address(ip(a), true, a).is_ok(), "{a}");
        }
        for a in [
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "240.0.0.1",
            "ff02::1",
            "::",
        ] {
            assert!(matches!(classify(ip(a)), AddressScope::Special(_)), "{a}");
            assert!(check_address(ip(a), true, a).is_err(), "{a}");
        }
    }

    #[test]
    fn intervals() {
        assert!(check_interval(&ivl("10.0.0.0/8"), false, "x").is_ok());
        assert!(check_interval(&ivl("192.168.0.0/16"), false, "x").is_ok());
        let e = check_interval(&ivl("192.168.0.0/15"), false, "192.168.0.0/15").unwrap_err();
        assert_eq!(e.text, "192.168.0.0/15");
        assert!(e.reason.contains("192.169.255.254"), "{e}");
        assert!(check_interval(&ivl("192.168.0.0/15"), true, "x").is_ok());
        let e = check_interval(&ivl("9.255.255.250-10.0.0.5"), false, "x").unwrap_err();
        assert!(e.reason.contains("9.255.255.250"), "{e}");
        // public + allow_public is fine, but never multicast
        assert!(check_interval(&ivl("223.255.255.0-224.0.0.5"), true, "x").is_err());
        assert!(check_interval(&ivl("100.64.0.0/24"), false, "x").is_err());
    }

    #[test]
    fn a_public_address_the_site_declares_is_in_scope_and_no_other() {
        let scope = Scope {
            allow_public: false,
            declared: AddressSet::from_intervals(vec![ivl("198.51.100.20/31")]),
        };
        assert!(scope.check_address(ip("198.51.100.20"), "x").is_ok());
        assert!(scope.check_address(ip("198.51.100.21"), "x").is_ok());
        assert!(scope.check_interval(&ivl("198.51.100.20/31"), "x").is_ok());
        assert!(scope.check_interval(&ivl("10.0.0.0/24"), "x").is_ok());
        let e = scope
            .check_address(ip("198.51.100.22"), "198.51.100.22")
            .unwrap_err();
        assert!(e.reason.contains("allow_public"), "{e}");
        let e = scope
            .check_interval(&ivl("198.51.100.20/30"), "198.51.100.20/30")
            .unwrap_err();
        assert!(e.reason.contains("declares other public addresses"), "{e}");
        // Never a special address, declared or not.
        let odd = Scope {
            allow_public: false,
            declared: AddressSet::from_intervals(vec![ivl("224.0.0.1")]),
        };
        assert!(odd.check_address(ip("224.0.0.1"), "x").is_err());
    }
}
