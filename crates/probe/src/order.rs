//! The order discovery takes the target's addresses in: spread across its blocks of 256
//! (a /16 goes 10.77.0.0, 10.77.1.0, ... 10.77.255.0, then 10.77.0.1, ...), lazily.
//!
//! Why: a router takes an entry in its neighbour (ARP) table for every address pinged on one
//! of its own subnets, and keeps an entry for a dead address about 3 s (until its
//! resolution fails), long after the scan gave the address up. In address order a scan
//! that gives up thousands of addresses a second meets each of the router's subnets as a
//! burst of 254 addresses, and a few of those bursts within 3 s fill the table (Linux's
//! default ceiling is 1,024 entries for the whole machine, `gc_thresh3`), which then drops
//! packets to live hosts too. Spread, each /24 of a /16 gets about one address in 256 of
//! those the scan sends, so the router's subnets are met a few addresses at a time.

use std::net::IpAddr;

use crate::targets::{AddressSet, Interval, from_int};

/// Addresses of one block (a /24 of IPv4).
const BLOCK: u128 = 256;

/// Streams `include` minus `exclude`: the first address of every block of 256, then the
/// second of every block, and so on (index `step * 256 + lane` of the addresses in order).
#[derive(Debug, Clone)]
pub(crate) struct Spread<'a> {
    include: &'a [Interval],
    exclude: &'a AddressSet,
    /// Addresses in the intervals before each one.
    starts: Vec<u128>,
    total: u128,
    lane: u128,
    step: u128,
}

impl<'a> Spread<'a> {
    pub fn new(include: &'a AddressSet, exclude: &'a AddressSet) -> Self {
        let include = include.intervals();
        let mut starts = Vec::with_capacity(include.len());
        let mut total = 0u128;
        for iv in include {
            starts.push(total);
            total = total.saturating_add(iv.len());
        }
        Spread {
            include,
            exclude,
            starts,
            total,
            lane: 0,
            step: 0,
        }
    }

    /// The address at `index` of the addresses in order.
    fn at(&self, index: u128) -> Option<IpAddr> {
        let k = self
            .starts
            .partition_point(|&s| s <= index)
            .checked_sub(1)?;
        let iv = self.include.get(k)?;
        Some(from_int(iv.v6, iv.first + (index - self.starts[k])))
    }
}

impl Iterator for Spread<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        while self.lane < BLOCK.min(self.total) {
            let index = self
                .step
                .checked_mul(BLOCK)
                .and_then(|i| i.checked_add(self.lane))
                .filter(|&i| i < self.total);
            let Some(index) = index else {
                self.lane += 1;
                self.step = 0;
                continue;
            };
            self.step += 1;
            if let Some(ip) = self.at(index)
                && !self.exclude.contains(ip)
            {
                return Some(ip);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{AddressIter, TargetSpec, parse_target};

    fn set(targets: &[&str]) -> AddressSet {
        AddressSet::from_intervals(
            targets
                .iter()
                .map(|t| match parse_target(t).unwrap() {
                    TargetSpec::Interval(i) => i,
                    TargetSpec::Name(n) => panic!("name {n}"),
                })
                .collect(),
        )
    }

    #[test]
    fn every_address_once_spread_across_the_blocks() {
        let include = set(&["10.77.0.0/22", "10.77.9.7", "192.0.2.0/30"]);
        let exclude = set(&["10.77.1.0/24", "10.77.2.5"]);
        let spread: Vec<IpAddr> = Spread::new(&include, &exclude).collect();
        let mut sorted = spread.clone();
        sorted.sort();
        let in_order: Vec<IpAddr> = AddressIter::new(&include, &exclude).collect();
        assert_eq!(sorted, in_order, "the same addresses, each once");
        let first: Vec<String> = spread.iter().take(5).map(|a| a.to_string()).collect();
        // (a CIDR's network and broadcast addresses are not targets: 1,025 addresses, whose
        // blocks of 256 start at 10.77.0.1, .1.1 (excluded), .2.1, .3.1 and 192.0.2.2)
        assert_eq!(
            first,
            [
                "10.77.0.1",
                "10.77.2.1",
                "10.77.3.1",
                "192.0.2.2",
                "10.77.0.2"
            ]
        );
    }

    #[test]
    fn one_block_keeps_its_order() {
        let include = set(&["10.77.100.0/24"]);
        let none = AddressSet::default();
        let spread: Vec<IpAddr> = Spread::new(&include, &none).collect();
        let in_order: Vec<IpAddr> = AddressIter::new(&include, &none).collect();
        assert_eq!(spread, in_order);
    }
}
