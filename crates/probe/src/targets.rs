//! Targets: what the user typed, parsed into address intervals that are streamed one
//! address at a time (a /16 never becomes 65,536 records before scanning starts).
//!
//! Accepted forms: an IPv4 or IPv6 address, a CIDR (`10.0.0.0/24`; host bits are
//! cleared), a range (`192.168.1.10-50` on the last octet, or `a.b.c.d-e.f.g.h`, or two
//! full IPv6 addresses), and a host name. Files hold one target per line; `#` starts a
//! comment; blank lines are skipped. IPv4 networks of prefix /30 or shorter skip their
//! network and broadcast addresses.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

/// The most addresses one target may expand to (a /8 in IPv4). Larger targets (an IPv6
/// /64, say) are refused: they cannot be scanned address by address.
pub const MAX_ADDRESSES_PER_TARGET: u128 = 1 << 24;

/// Where a target was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// On the command line or in the configuration.
    Argument,
    /// In a file, at a line (1-based).
    File {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Argument => f.write_str("argument"),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
        }
    }
}

/// A target that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target {text:?} ({origin}): {reason}")]
pub struct TargetError {
    /// The offending text, as written.
    pub text: String,
    /// Where it was written.
    pub origin: Origin,
    /// What is wrong with it.
    pub reason: String,
}

/// A target file that could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read target file {path}: {source}")]
pub struct TargetFileError {
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// One parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// A contiguous interval of addresses of one family (an address, a CIDR, a range).
    Interval(Interval),
    /// A host name, resolved before the scan.
    Name(String),
}

/// A target as written and as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The text as written.
    pub text: String,
    /// Where it was written.
    pub origin: Origin,
    /// What it means.
    pub spec: TargetSpec,
}

/// An inclusive interval of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    /// IPv6 when true.
    pub v6: bool,
    /// First address, as an integer.
    pub first: u128,
    /// Last address, as an integer (inclusive).
    pub last: u128,
}

impl Interval {
    /// The interval holding one address.
    pub fn single(ip: IpAddr) -> Self {
        let (v6, n) = to_int(ip);
        Interval {
            v6,
            first: n,
            last: n,
        }
    }

    /// Number of addresses in the interval.
    pub fn len(&self) -> u128 {
        self.last - self.first + 1
    }

    /// Never empty: an interval holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the interval holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, n) = to_int(ip);
        v6 == self.v6 && self.first <= n && n <= self.last
    }

    /// First address.
    pub fn first_addr(&self) -> IpAddr {
        from_int(self.v6, self.first)
    }

    /// Last address.
    pub fn last_addr(&self) -> IpAddr {
        from_int(self.v6, self.last)
    }
}

/// An address as (is IPv6, integer). IPv4-mapped IPv6 addresses count as IPv4.
pub(crate) fn to_int(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (false, u128::from(u32::from(v4))),
            None => (true, u128::from(a)),
        },
    }
}

pub(crate) fn from_int(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        // Intervals of IPv4 never exceed u32::MAX by construction.
        IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

/// Parses one target (pure: no name is resolved here).
pub fn parse_target(text: &str) -> Result<TargetSpec, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty target".into());
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(TargetSpec::Interval(Interval::single(ip)));
    }
    if t.contains('/') {
        let net: IpNet = t
            .parse()
            .map_err(|_| "not a valid CIDR (expected e.g. 192.168.1.0/24)".to_string())?;
        return net_interval(net).map(TargetSpec::Interval);
    }
    if let Some((a, b)) = t.split_once('-')
        && let Ok(start) = a.trim().parse::<IpAddr>()
    {
        return range_interval(start, b.trim()).map(TargetSpec::Interval);
    }
    if is_host_name(t) {
        return Ok(TargetSpec::Name(t.trim_end_matches('.').to_string()));
    }
    Err("not an address, CIDR, range or host name".into())
}

/// The interval a target excludes: like [`parse_target`], but a CIDR covers its whole
/// block, network and broadcast addresses included.
pub(crate) fn exclusion_interval(t: &Target) -> Option<Interval> {
    match &t.spec {
        TargetSpec::Interval(iv) => match t.text.trim().parse::<IpNet>() {
            Ok(net) => {
                let net = net.trunc();
                let (v6, first) = to_int(net.network());
                let (_, last) = to_int(net.broadcast());
                Some(Interval { v6, first, last })
            }
            Err(_) => Some(*iv),
        },
        TargetSpec::Name(_) => None,
    }
}

fn net_interval(net: IpNet) -> Result<Interval, String> {
    let net = net.trunc();
    let (v6, first) = to_int(net.network());
    let (_, mut last) = to_int(net.broadcast());
    let mut first = first;
    if !v6 && net.prefix_len() <= 30 {
        first += 1;
        last -= 1;
    }
    let iv = Interval { v6, first, last };
    check_size(iv)?;
    Ok(iv)
}

fn range_interval(start: IpAddr, end: &str) -> Result<Interval, String> {
    let end_ip = match (start, end.parse::<IpAddr>()) {
        (_, Ok(ip)) => ip,
        (IpAddr::V4(s), Err(_)) => {
            let last: u8 = end
                .parse()
                .map_err(|_| "range end is neither an address nor a number 0-255".to_string())?;
            let o = s.octets();
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last))
        }
        (IpAddr::V6(_), Err(_)) => {
            return Err("an IPv6 range needs two full addresses".into());
        }
    };
    let (v6a, a) = to_int(start);
    let (v6b, b) = to_int(end_ip);
    if v6a != v6b {
        return Err("range mixes IPv4 and IPv6".into());
    }
    if b < a {
        return Err("range ends before it starts".into());
    }
    let iv = Interval {
        v6: v6a,
        first: a,
        last: b,
    };
    check_size(iv)?;
    Ok(iv)
}

fn check_size(iv: Interval) -> Result<(), String> {
    if iv.len() > MAX_ADDRESSES_PER_TARGET {
        return Err(format!(
            "expands to {} addresses; at most {MAX_ADDRESSES_PER_TARGET} per target",
            iv.len()
        ));
    }
    Ok(())
}

/// RFC 1123 host name: labels of letters, digits and hyphens (underscores tolerated, as
/// found in Windows networks), 1-63 characters, not starting or ending with a hyphen.
fn is_host_name(t: &str) -> bool {
    let t = t.strip_suffix('.').unwrap_or(t);
    if t.is_empty() || t.len() > 253 {
        return false;
    }
    // All-numeric dotted text is a malformed address, not a name.
    if t.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return false;
    }
    t.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// Parses a list of targets given as arguments.
pub fn parse_targets(texts: &[String]) -> Result<Vec<Target>, TargetError> {
    texts
        .iter()
        .map(|t| {
            parse_target(t)
                .map(|spec| Target {
                    text: t.clone(),
                    origin: Origin::Argument,
                    spec,
                })
                .map_err(|reason| TargetError {
                    text: t.clone(),
                    origin: Origin::Argument,
                    reason,
                })
        })
        .collect()
}

/// Parses a target file's content: one target per line (several separated by blanks are
/// accepted too), `#` comments, blank lines.
pub fn parse_target_text(path: &Path, content: &str) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split_whitespace() {
            let origin = Origin::File {
                path: path.to_path_buf(),
                line: i + 1,
            };
            match parse_target(word) {
                Ok(spec) => out.push(Target {
                    text: word.to_string(),
                    origin,
                    spec,
                }),
                Err(reason) => {
                    return Err(TargetError {
                        text: word.to_string(),
                        origin,
                        reason,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Reads and parses a target file.
pub fn read_target_file(path: &Path) -> Result<Vec<Target>, crate::ScanError> {
    let content = std::fs::read_to_string(path).map_err(|source| TargetFileError {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_target_text(path, &content)?)
}

/// A set of address intervals: sorted, merged, disjoint. Memory is proportional to the
/// number of targets written, never to the number of addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressSet {
    intervals: Vec<Interval>,
}

impl AddressSet {
    /// Builds a set from intervals (any order, overlaps allowed).
    pub fn from_intervals(mut v: Vec<Interval>) -> Self {
        v.sort();
        let mut merged: Vec<Interval> = Vec::with_capacity(v.len());
        for iv in v {
            match merged.last_mut() {
                Some(m) if m.v6 == iv.v6 && iv.first <= m.last.saturating_add(1) => {
                    m.last = m.last.max(iv.last);
                }
                _ => merged.push(iv),
            }
        }
        AddressSet { intervals: merged }
    }

    /// The disjoint intervals, sorted.
    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// Whether `ip` is in the set (binary search).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, n) = to_int(ip);
        let key = (v6, n);
        let idx = self
            .intervals
            .partition_point(|iv| (iv.v6, iv.first) <= key);
        idx > 0 && self.intervals[idx - 1].contains(ip)
    }

    /// Whether every address of `iv` is in the set.
    pub fn covers(&self, iv: &Interval) -> bool {
        let key = (iv.v6, iv.first);
        let idx = self.intervals.partition_point(|x| (x.v6, x.first) <= key);
        idx > 0 && {
            let x = &self.intervals[idx - 1];
            x.v6 == iv.v6 && x.first <= iv.first && iv.last <= x.last
        }
    }

    /// Number of addresses (before exclusions).
    pub fn len(&self) -> u128 {
        self.intervals.iter().map(Interval::len).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }
}

/// Streams the addresses of `include` that are not in `exclude`, in order, one at a time.
#[derive(Debug, Clone)]
pub struct AddressIter<'a> {
    include: &'a [Interval],
    exclude: &'a AddressSet,
    idx: usize,
    next: Option<u128>,
}

impl<'a> AddressIter<'a> {
    /// The stream of `include` minus `exclude`.
    pub fn new(include: &'a AddressSet, exclude: &'a AddressSet) -> Self {
        AddressIter {
            include: include.intervals(),
            exclude,
            idx: 0,
            next: include.intervals().first().map(|i| i.first),
        }
    }
}

impl Iterator for AddressIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        loop {
            let iv = *self.include.get(self.idx)?;
            let n = match self.next {
                Some(n) if n <= iv.last => n,
                _ => {
                    self.idx += 1;
                    self.next = self.include.get(self.idx).map(|i| i.first);
                    continue;
                }
            };
            self.next = n.checked_add(1);
            if self.next.is_none() {
                self.idx += 1;
                self.next = self.include.get(self.idx).map(|i| i.first);
            }
            let ip = from_int(iv.v6, n);
            if !self.exclude.contains(ip) {
                return Some(ip);
            }
        }
    }
}

/// Names given as targets, by the addresses they resolved to.
pub(crate) type NamesByAddress = BTreeMap<IpAddr, Vec<String>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(t: &str) -> Interval {
        match parse_target(t).unwrap() {
            TargetSpec::Interval(i) => i,
            TargetSpec::Name(n) => panic!("name {n}"),
        }
    }

    fn addrs(set: &AddressSet, ex: &AddressSet) -> Vec<String> {
        AddressIter::new(set, ex).map(|a| a.to_string()).collect()
    }

    #[test]
    fn single_addresses() {
        assert_eq!(iv("10.0.0.1").len(), 1);
        assert_eq!(iv("fe80::1").first_addr().to_string(), "fe80::1");
        assert!(!iv("::ffff:10.0.0.1").v6, "mapped address counts as IPv4");
    }

    #[test]
    fn cidr_skips_network_and_broadcast() {
        let i = iv("192.168.1.0/24");
        assert_eq!(i.first_addr().to_string(), "192.168.1.1");
        assert_eq!(i.last_addr().to_string(), "192.168.1.254");
        assert_eq!(i.len(), 254);
        assert_eq!(iv("10.0.0.0/31").len(), 2);
        assert_eq!(iv("10.0.0.7/32").len(), 1);
        // host bits cleared
        assert_eq!(iv("10.1.2.3/24").first_addr().to_string(), "10.1.2.1");
        assert_eq!(iv("fd00::/120").len(), 256);
    }

    #[test]
    fn ranges() {
        let i = iv("192.168.1.10-50");
        assert_eq!(
            (i.first_addr().to_string(), i.len()),
            ("192.168.1.10".into(), 41)
        );
        let i = iv("10.0.0.250-10.0.1.5");
        assert_eq!(i.len(), 12);
        assert_eq!(iv("fd00::1-fd00::10").len(), 16);
        assert!(parse_target("10.0.0.50-10").is_err());
        assert!(parse_target("10.0.0.1-300").is_err());
        assert!(parse_target("10.0.0.1-fd00::1").is_err());
        assert!(parse_target("fd00::1-20").is_err());
    }

    #[test]
    fn names_and_garbage() {
        assert_eq!(
            parse_target("emr-server.clinic.local.").unwrap(),
            TargetSpec::Name("emr-server.clinic.local".into())
        );
        assert_eq!(
            parse_target("localhost").unwrap(),
            TargetSpec::Name("localhost".into())
        );
        for bad in [
            "10.0.0.256",
            "1.2.3",
            "10.0.0.0/33",
            "-host",
            "a..b",
            "x y",
            "",
            "10.0.0.0/24/1",
            "host!",
        ] {
            assert!(parse_target(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn too_large_targets_are_refused() {
        let e = parse_target("fd00::/64").unwrap_err();
        assert!(e.contains("18446744073709551616 addresses"), "{e}");
        assert_eq!(iv("10.0.0.0/8").len(), (1 << 24) - 2);
    }

    #[test]
    fn file_errors_name_file_and_line() {
        let text = "# clinic\n10.0.0.1\n\n 10.0.0.2 10.0.0.3 # two\n10.0.0.999\n";
        let e = parse_target_text(Path::new("t.txt"), text).unwrap_err();
        assert_eq!(e.text, "10.0.0.999");
        assert_eq!(
            e.origin,
            Origin::File {
                path: "t.txt".into(),
                line: 5
            }
        );
        assert_eq!(
            e.to_string(),
            "invalid target \"10.0.0.999\" (t.txt:5): not an address, CIDR, range or host name"
        );
        let ok = parse_target_text(Path::new("t.txt"), &text.replace("10.0.0.999", "")).unwrap();
        assert_eq!(ok.len(), 3);
    }

    #[test]
    fn set_merges_and_streams_with_exclusions() {
        let set = AddressSet::from_intervals(vec![
            iv("10.0.0.5-8"),
            iv("10.0.0.1-6"),
            iv("fd00::1"),
            iv("10.0.0.9"),
        ]);
        assert_eq!(set.intervals().len(), 2);
        let ex = AddressSet::from_intervals(vec![iv("10.0.0.2-3"), iv("10.0.0.9")]);
        assert_eq!(
            addrs(&set, &ex),
            vec![
                "10.0.0.1", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8", "fd00::1"
            ]
        );
        assert!(set.contains("10.0.0.9".parse().unwrap()));
        assert!(!set.contains("10.0.0.10".parse().unwrap()));
        assert!(!ex.contains("10.0.0.4".parse().unwrap()));
    }

    #[test]
    fn a_slash_16_streams_without_materialising() {
        let set = AddressSet::from_intervals(vec![iv("10.9.0.0/16")]);
        let t = parse_targets(&["10.9.1.0/24".to_string()]).unwrap();
        let ex = AddressSet::from_intervals(vec![exclusion_interval(&t[0]).unwrap()]);
        // The iterator is a few words, whatever the size of the target.
        assert!(std::mem::size_of::<AddressIter<'_>>() <= 64);
        let mut it = AddressIter::new(&set, &ex);
        assert_eq!(it.next().unwrap().to_string(), "10.9.0.1");
        assert_eq!(it.count(), 65_534 - 1 - 256);
    }

    #[test]
    fn end_of_address_space_does_not_overflow() {
        let set = AddressSet::from_intervals(vec![iv(
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        )]);
        assert_eq!(addrs(&set, &AddressSet::default()).len(), 2);
    }
}
