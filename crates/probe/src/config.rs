//! What the caller asks for ([`ScanConfig`]) and the validated form of it ([`ScanPlan`]).
//!
//! Two steps, ripgrep style: the configuration is what the user typed; [`plan`] parses and
//! checks all of it (targets, files, exclusions, scope, ports, profiles) and fails with one
//! typed error before any packet is sent.

use std::path::PathBuf;
use std::time::Duration;

use clinicscan_model::{EgressCheck, EgressKind};

use crate::ScanError;
use crate::ports::{PortPlan, parse_ports};
use crate::rtt::RttBounds;
use crate::scope::{Scope, ScopeError, classify};
use crate::targets::{
    AddressIter, AddressSet, Interval, Target, TargetError, TargetSpec, exclusion_interval,
    parse_target, parse_targets, read_target_file,
};

/// Everything a scan can be asked to do. `Default` is the clinic default: the curated port
/// list, discovery and service probes on, private address space only.
/// Build it with `ScanConfig { targets, ..ScanConfig::default() }`.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Targets: addresses, CIDRs, ranges, host names.
    pub targets: Vec<String>,
    /// Files of targets (one per line, `#` comments).
    pub target_files: Vec<PathBuf>,
    /// Addresses, CIDRs and ranges never to touch.
    pub exclude: Vec<String>,
    /// Files of exclusions.
    pub exclude_files: Vec<PathBuf>,
    /// Port specification (see [`crate::parse_ports`]); empty for the clinic list.
    pub ports: String,
    /// SYN scan with raw packets when privileged (falls back to connect otherwise).
    pub syn: bool,
    /// Host discovery; when false every target is treated as up (reason user-set).
    pub discovery: bool,
    /// Service probes on open ports.
    pub service_probes: bool,
    /// Allow targets outside private, loopback and link-local address space.
    pub allow_public: bool,
    /// Never open raw sockets (no ARP, ICMP or SYN), even when privileged.
    pub unprivileged: bool,
    /// Look up reverse-DNS names of live hosts.
    pub reverse_dns: bool,
    /// List hosts found down in the Observation (a /16 makes that 65k records).
    pub report_down: bool,
    /// List closed and filtered ports one by one, not only in the per-host summary.
    pub report_closed: bool,
    /// Global limit of connections and probes in flight: the connect scan's budget of file
    /// descriptors (the process's limit is raised to fit it where the hard limit allows).
    pub max_concurrency: usize,
    /// Ceiling of one host's congestion window: connections or SYNs awaiting an answer.
    /// The window starts where the host's network path taught (or at 32), grows on
    /// answers and halves on loss. Service probes of a host run at most 32 at a time.
    pub max_per_host: usize,
    /// Hosts scanned at the same time.
    pub max_hosts: usize,
    /// Global limit of new connections (or SYNs) per second; `None` for no limit.
    pub rate: Option<u32>,
    /// Timeouts and retries.
    pub timing: Timing,
    /// SNMP v1/v2c communities the SNMP probe may try (default `public`).
    pub snmp_communities: Vec<String>,
    /// Gentle profiles for some networks (medical devices...); the first match applies.
    pub profiles: Vec<HostProfile>,
    /// Addresses that must never receive anything, whatever the targets say. Unlike
    /// `exclude`, hits are counted in a notice.
    pub do_not_touch: Vec<String>,
    /// The site zone the scan runs from, recorded in the Observation.
    pub zone: Option<String>,
    /// Public addresses the site file declares as the clinic's own (addresses, CIDRs or
    /// ranges): in scope without `allow_public`, so a scan from outside can reach them.
    pub public: Vec<String>,
    /// Egress attempts to make from this vantage besides the scan (the site's egress
    /// targets, the closed network's fingerprints): one TCP connection or one name
    /// resolution each, recorded in the Observation's `egress`.
    pub egress: Vec<EgressCheck>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            targets: Vec::new(),
            target_files: Vec::new(),
            exclude: Vec::new(),
            exclude_files: Vec::new(),
            ports: String::new(),
            syn: false,
            discovery: true,
            service_probes: true,
            allow_public: false,
            unprivileged: false,
            reverse_dns: true,
            report_down: false,
            report_closed: false,
            max_concurrency: 2048,
            max_per_host: 1024,
            max_hosts: 256,
            rate: None,
            timing: Timing::default(),
            snmp_communities: vec!["public".into()],
            profiles: Vec::new(),
            do_not_touch: Vec::new(),
            zone: None,
            public: Vec::new(),
            egress: Vec::new(),
        }
    }
}

/// Timeouts and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Connect timeout bounds, adapted per host from the measured RTT.
    pub rtt: RttBounds,
    /// Extra attempts for a port that did not answer, when the evidence says a packet may
    /// have been lost (its host or path lost others); a few silent ports per host are asked
    /// twice regardless, so that loss shows at all. 0: never ask twice.
    pub retries: u32,
    /// Time budget of one service probe (all its connections).
    pub probe_timeout: Duration,
    /// Byte budget of one service probe.
    pub probe_max_bytes: usize,
    /// How long to wait for a server-first banner on an unknown open port.
    pub banner_wait: Duration,
    /// Bound on one DNS lookup (forward or reverse).
    pub dns_timeout: Duration,
    /// Discovery: how long to wait for ARP / ICMP / TCP ping answers before any host of
    /// the scan has answered.
    pub discovery_timeout: Duration,
    /// Discovery: the shortest wait once hosts have answered (the wait then follows a
    /// smoothed estimate of the answers' round trips, see `DiscoveryWait`).
    pub discovery_min: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            rtt: RttBounds::default(),
            retries: 1,
            probe_timeout: Duration::from_secs(15),
            probe_max_bytes: 256 * 1024,
            banner_wait: Duration::from_millis(1500),
            dns_timeout: Duration::from_secs(2),
            discovery_timeout: Duration::from_millis(1000),
            discovery_min: Duration::from_millis(300),
        }
    }
}

/// A gentler way to scan some networks (medical devices, the オン資 terminal's segment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostProfile {
    /// Name shown in notices (e.g. the site zone).
    pub name: String,
    /// Addresses, CIDRs or ranges it applies to.
    pub networks: Vec<String>,
    /// Connections in flight to one host (overrides `max_per_host`).
    pub max_per_host: Option<usize>,
    /// Pause between two connections to one host.
    pub connection_gap: Duration,
    /// Whether service probes run on these hosts (`None`: as the scan says).
    pub service_probes: Option<bool>,
}

impl HostProfile {
    /// A named profile for some networks, with no change yet.
    pub fn new(name: impl Into<String>, networks: Vec<String>) -> Self {
        HostProfile {
            name: name.into(),
            networks,
            ..HostProfile::default()
        }
    }
}

/// A validated scan: everything parsed and in scope. Names are resolved when the scan
/// starts (their addresses are checked then, before anything is sent to them).
#[derive(Debug, Clone)]
pub struct ScanPlan {
    pub(crate) config: ScanConfig,
    pub(crate) include: AddressSet,
    pub(crate) names: Vec<Target>,
    pub(crate) exclude: AddressSet,
    pub(crate) do_not_touch: AddressSet,
    pub(crate) ports: PortPlan,
    pub(crate) profiles: Vec<(HostProfile, AddressSet)>,
    pub(crate) scope: Scope,
}

impl ScanPlan {
    /// The port plan.
    pub fn ports(&self) -> &PortPlan {
        &self.ports
    }

    /// The host names among the targets (resolved when the scan starts).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().filter_map(|t| match &t.spec {
            TargetSpec::Name(n) => Some(n.as_str()),
            TargetSpec::Interval(_) => None,
        })
    }

    /// Addresses to scan from address targets, after exclusions (names not counted).
    /// Counted by streaming, without materialising them.
    pub fn address_count(&self) -> u64 {
        AddressIter::new(&self.include, &self.exclude)
            .filter(|a| !self.do_not_touch.contains(*a))
            .count() as u64
    }

    /// The configuration this plan was made from.
    pub fn config(&self) -> &ScanConfig {
        &self.config
    }
}

/// Whole blocks (network and broadcast included) of exclusion-like lists.
fn intervals_of(targets: &[Target], what: &str) -> Result<Vec<(Interval, String)>, ScanError> {
    targets
        .iter()
        .map(|t| match exclusion_interval(t) {
            Some(i) => Ok((i, t.text.clone())),
            None => Err(ScanError::Target(TargetError {
                text: t.text.clone(),
                origin: t.origin.clone(),
                reason: format!("{what} must be addresses, CIDRs or ranges, not host names"),
            })),
        })
        .collect()
}

/// Parses and checks a configuration. No packet is sent, no name is resolved.
pub fn plan(config: &ScanConfig) -> Result<ScanPlan, ScanError> {
    if config.max_concurrency == 0 || config.max_per_host == 0 || config.max_hosts == 0 {
        return Err(ScanError::Config(
            "concurrency limits must be at least 1".into(),
        ));
    }
    if config.rate == Some(0) {
        return Err(ScanError::Config(
            "rate must be at least 1 per second".into(),
        ));
    }
    let mut targets = parse_targets(&config.targets)?;
    for f in &config.target_files {
        targets.extend(read_target_file(f)?);
    }
    if targets.is_empty() {
        return Err(ScanError::Config("no target given".into()));
    }
    let mut excl = parse_targets(&config.exclude)?;
    for f in &config.exclude_files {
        excl.extend(read_target_file(f)?);
    }
    let exclude = AddressSet::from_intervals(
        intervals_of(&excl, "exclusions")?
            .into_iter()
            .map(|x| x.0)
            .collect(),
    );
    let dnt = parse_targets(&config.do_not_touch)?;
    let do_not_touch = AddressSet::from_intervals(
        intervals_of(&dnt, "do-not-touch entries")?
            .into_iter()
            .map(|x| x.0)
            .collect(),
    );

    let public = parse_targets(&config.public)?;
    let scope = Scope {
        allow_public: config.allow_public,
        declared: AddressSet::from_intervals(
            intervals_of(&public, "the site's public addresses")?
                .into_iter()
                .map(|x| x.0)
                .collect(),
        ),
    };
    for c in &config.egress {
        check_egress(c)?;
    }

    let mut include = Vec::new();
    let mut names = Vec::new();
    for t in targets {
        match &t.spec {
            TargetSpec::Interval(iv) => {
                scope.check_interval(iv, &t.text).map_err(|e| ScopeError {
                    text: format!("{} ({})", e.text, t.origin),
                    ..e
                })?;
                include.push(*iv);
            }
            TargetSpec::Name(_) => names.push(t),
        }
    }
    let ports = parse_ports(&config.ports)?;
    let mut profiles = Vec::new();
    for p in &config.profiles {
        let parsed = parse_targets(&p.networks)?;
        let set = AddressSet::from_intervals(
            intervals_of(&parsed, "profile networks")?
                .into_iter()
                .map(|x| x.0)
                .collect(),
        );
        if p.max_per_host == Some(0) {
            return Err(ScanError::Config(format!(
                "profile {:?}: max_per_host must be at least 1",
                p.name
            )));
        }
        profiles.push((p.clone(), set));
    }
    Ok(ScanPlan {
        config: config.clone(),
        include: AddressSet::from_intervals(include),
        names,
        exclude,
        do_not_touch,
        ports,
        profiles,
        scope,
    })
}

/// An egress check must name a host an attempt can go to: a host address (never a
/// multicast or reserved one) or a host name, and a port for a TCP check.
fn check_egress(c: &EgressCheck) -> Result<(), ScanError> {
    let bad = |why: &str| ScanError::Config(format!("egress check {}: {why}", c.target()));
    if c.kind == EgressKind::Tcp && c.port.is_none_or(|p| p == 0) {
        return Err(bad("a TCP check needs a port"));
    }
    match c.host.parse::<std::net::IpAddr>() {
        Ok(ip) if c.kind == EgressKind::Dns => {
            Err(bad(&format!("{ip} is an address, not a name to resolve")))
        }
        Ok(ip) => match classify(ip) {
            crate::AddressScope::Special(kind) => {
                Err(bad(&format!("{ip} is a {kind} address, not a host")))
            }
            _ => Ok(()),
        },
        Err(_) => match parse_target(&c.host) {
            Ok(TargetSpec::Name(_)) => Ok(()),
            _ => Err(bad("not an address or a host name")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(targets: &[&str]) -> ScanConfig {
        ScanConfig {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            ..ScanConfig::default()
        }
    }

    #[test]
    fn plans_and_counts_lazily() {
        let mut c = cfg(&["10.1.0.0/16", "10.1.0.5", "emr.clinic.local"]);
        c.exclude = vec!["10.1.255.0/24".into()];
        c.do_not_touch = vec!["10.1.0.9".into()];
        let p = plan(&c).unwrap();
        assert_eq!(p.address_count(), 65_534 - 255 - 1);
        assert_eq!(p.names().collect::<Vec<_>>(), vec!["emr.clinic.local"]);
    }

    #[test]
    fn public_targets_are_refused_before_anything_is_sent() {
        let e = plan(&cfg(&["192.168.1.1", "8.8.8.0/24"])).unwrap_err();
        match e {
            ScanError::Scope(s) => {
                assert_eq!(s.text, "8.8.8.0/24 (argument)");
                assert!(s.reason.contains("8.8.8.1"), "{s}");
            }
            other => panic!("{other:?}"),
        }
        let mut c = cfg(&["8.8.8.0/24"]);
        c.allow_public = true;
        assert!(plan(&c).is_ok());
    }

    #[test]
    fn a_public_target_needs_the_site_to_declare_it_or_allow_public() {
        let mut c = cfg(&["198.51.100.20"]);
        c.public = vec!["198.51.100.20".into()];
        assert!(plan(&c).is_ok());
        // A neighbour the site does not declare is refused before anything is sent.
        let mut c = cfg(&["198.51.100.21"]);
        c.public = vec!["198.51.100.20".into()];
        match plan(&c) {
            Err(ScanError::Scope(e)) => {
                assert_eq!(e.text, "198.51.100.21 (argument)");
                assert!(e.reason.contains("allow_public"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        c.allow_public = true;
        assert!(plan(&c).is_ok());
    }

    #[test]
    fn egress_checks_are_validated_before_any_packet() {
        use clinicscan_model::EgressPurpose;
        let check = |kind, host: &str, port| EgressCheck {
            purpose: EgressPurpose::Internet,
            kind,
            host: host.into(),
            port,
        };
        let with = |checks: Vec<EgressCheck>| {
            let mut c = cfg(&["10.0.0.1"]);
            c.egress = checks;
            plan(&c)
        };
        assert!(
            with(vec![
                check(EgressKind::Tcp, "203.0.113.80", Some(443)),
                check(EgressKind::Tcp, "proxy.example.net", Some(8080)),
                check(EgressKind::Dns, "egress-check.example.net", None),
            ])
            .is_ok()
        );
        for bad in [
            check(EgressKind::Tcp, "203.0.113.80", None),
            check(EgressKind::Tcp, "224.0.0.1", Some(443)),
            check(EgressKind::Dns, "203.0.113.80", None),
            check(EgressKind::Tcp, "not a name", Some(443)),
        ] {
            assert!(
                matches!(with(vec![bad.clone()]), Err(ScanError::Config(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_inputs_give_typed_errors() {
        assert!(matches!(
            plan(&cfg(&["10.0.0.300"])),
            Err(ScanError::Target(_))
        ));
        assert!(matches!(plan(&cfg(&[])), Err(ScanError::Config(_))));
        let mut c = cfg(&["10.0.0.1"]);
        c.ports = "22,abc".into();
        assert!(matches!(plan(&c), Err(ScanError::Ports(_))));
        let mut c = cfg(&["10.0.0.1"]);
        c.exclude = vec!["printer.local".into()];
        assert!(matches!(plan(&c), Err(ScanError::Target(_))));
        let mut c = cfg(&["10.0.0.1"]);
        c.max_per_host = 0;
        assert!(matches!(plan(&c), Err(ScanError::Config(_))));
    }

    #[test]
    fn target_files_report_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("targets.txt");
        std::fs::write(&f, "# clinic\n10.0.0.1\n\n10.0.0.0/33\n").unwrap();
        let mut c = cfg(&[]);
        c.target_files = vec![f.clone()];
        let e = plan(&c).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "invalid target \"10.0.0.0/33\" ({}:4): not a valid CIDR (expected e.g. 192.168.1.0/24)",
                f.display()
            )
        );
        c.target_files = vec![dir.path().join("missing.txt")];
        assert!(matches!(plan(&c), Err(ScanError::TargetFile(_))));
    }
}
