//! The site file: zones, allowed flows, scan rate profiles, egress targets, known assets,
//! disabled rules and an opaque email section. See `docs/site-file.md`.
//!
//! Parsing is strict: unknown keys, bad CIDRs, overlapping zones, flows naming unknown
//! zones, and flows into an `oqv` zone without explicit ports are errors that name the file
//! and the key.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use clinicscan_model::{EgressCheck, EgressKind, EgressPurpose, Transport, Vantage};
use ipnet::IpNet;
use serde::Deserialize;

use crate::error::{SiteError, line_col};

/// Zone kinds with built-in policy. A zone's kind defaults to its name when the name is
/// one of these, and to `Custom` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ZoneKind {
    /// 受付・事務: staff PCs.
    General,
    /// 電子カルテ・レセコン.
    Clinical,
    /// オンライン資格確認: strict built-in policy.
    Oqv,
    /// Medical devices: gentle default scan rate.
    MedicalDevices,
    /// Guest Wi-Fi: nothing internal reachable.
    Guest,
    /// Internet edge / VPN appliances.
    Edge,
    /// Outside the clinic: where a scan of the clinic's public addresses runs from. Its
    /// CIDRs are optional (the scanner's address outside is often not known in advance).
    Internet,
    /// Anything else.
    Custom,
}

impl ZoneKind {
    /// Kebab-case name, as rules see it in `ctx.host_zone_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::General => "general",
            ZoneKind::Clinical => "clinical",
            ZoneKind::Oqv => "oqv",
            ZoneKind::MedicalDevices => "medical-devices",
            ZoneKind::Guest => "guest",
            ZoneKind::Edge => "edge",
            ZoneKind::Internet => "internet",
            ZoneKind::Custom => "custom",
        }
    }

    /// Whether a site audit expects a scan from a zone of this kind unless the zone says
    /// otherwise: the zones whose view differs (staff LAN, clinical LAN, オン資, guest
    /// Wi-Fi, the internet).
    pub fn audited_by_default(self) -> bool {
        matches!(
            self,
            ZoneKind::General
                | ZoneKind::Clinical
                | ZoneKind::Oqv
                | ZoneKind::Guest
                | ZoneKind::Internet
        )
    }

    pub(crate) fn from_name(name: &str) -> ZoneKind {
        match name {
            "general" => ZoneKind::General,
            "clinical" => ZoneKind::Clinical,
            "oqv" => ZoneKind::Oqv,
            "medical-devices" => ZoneKind::MedicalDevices,
            "guest" => ZoneKind::Guest,
            "edge" => ZoneKind::Edge,
            "internet" => ZoneKind::Internet,
            _ => ZoneKind::Custom,
        }
    }
}

/// Scan pace for hosts of one zone. The engine reads it; policy only parses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateProfile {
    /// Most concurrent connections to one host.
    pub max_per_host: Option<u32>,
    /// Most new connections per second into the zone.
    pub new_per_second: Option<u32>,
    /// Addresses never to be touched.
    pub do_not_touch: Vec<IpNet>,
}

/// One zone of the site.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Name as written in the site file.
    pub name: String,
    /// Kind (built-in policy).
    pub kind: ZoneKind,
    /// Address ranges.
    pub cidrs: Vec<IpNet>,
    /// Free description.
    pub description: Option<String>,
    /// Scan pace (with the gentle default for medical devices filled in).
    pub rate: RateProfile,
    /// The CIDRs are the clinic's own public addresses (its internet line's WAN side):
    /// scanned from a zone of kind internet, in scope without `--allow-public`, never a
    /// default target from inside.
    pub public: bool,
    /// A site audit expects a scan from this zone (default: by kind, see
    /// [`ZoneKind::audited_by_default`]).
    pub vantage: bool,
}

impl Zone {
    /// Whether an address lies in the zone.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.cidrs.iter().any(|n| n.contains(&addr))
    }
}

/// A port range of one transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// TCP or UDP.
    pub transport: Transport,
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl PortRange {
    /// Whether the range holds the port.
    pub fn contains(&self, transport: Transport, port: u16) -> bool {
        self.transport == transport && (self.first..=self.last).contains(&port)
    }
}

/// A flow the site allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// From zone.
    pub from: String,
    /// To zone.
    pub to: String,
    /// Ports; empty means every port (not allowed into an `oqv` zone).
    pub ports: Vec<PortRange>,
    /// Why the site allows it.
    pub reason: Option<String>,
}

/// An egress check target (probed from the oqv vantage by the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressTarget {
    /// Address.
    pub address: IpAddr,
    /// Ports (TCP).
    pub ports: Vec<u16>,
}

/// Where a closed-network check connects: an address, or a name resolved first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedNetworkHost {
    /// An address.
    Address(IpAddr),
    /// A name, resolved through the vantage's resolver.
    Name(String),
}

/// One TCP target of the closed-network check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedNetworkTarget {
    /// The host.
    pub host: ClosedNetworkHost,
    /// TCP ports.
    pub ports: Vec<u16>,
}

/// The オン資 closed network's fingerprints the site asks to look for from the general LAN
/// (`[closed_network]`, reference 6.3(a)): its names resolving, its proxy or gateway
/// answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedNetwork {
    /// Names to resolve through the vantage's resolver.
    pub names: Vec<String>,
    /// Addresses and names to connect to.
    pub targets: Vec<ClosedNetworkTarget>,
}

/// Names of the closed network, from public terminal setup scripts (reference 6.1 ONS-5
/// and 6.2 [S]): the line-authentication site (a `.mnw` name exists only inside the
/// closed network) and the proxy and portal of the オン資 base network.
pub const CLOSED_NETWORK_NAMES: &[&str] = &[
    "www.lineauth.mnw",
    "proxy.base.oqs-pdl.org",
    "pweb.base.oqs-pdl.org",
];

/// The closed network's proxy (by name) and gateway address (reference 6.2 [S]).
fn closed_network_targets() -> Vec<ClosedNetworkTarget> {
    vec![
        ClosedNetworkTarget {
            host: ClosedNetworkHost::Name("proxy.base.oqs-pdl.org".into()),
            ports: vec![8080],
        },
        ClosedNetworkTarget {
            host: ClosedNetworkHost::Address(IpAddr::from([192, 168, 220, 1])),
            ports: vec![443, 80],
        },
    ]
}

/// A device the site's asset inventory (台帳) lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Address, when fixed.
    pub address: Option<IpAddr>,
    /// MAC address, lower-case colon-separated.
    pub mac: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Role, e.g. "oqv-terminal", "emr-server".
    pub role: Option<String>,
}

/// A parsed and validated site file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Site {
    /// Site name.
    pub name: Option<String>,
    /// The site's stable id (`[site] id`): what a shared history store keys the site by.
    /// Letters, digits, `.`, `_` and `-`, at most 64, starting with a letter or digit.
    pub id: Option<String>,
    /// The zone scans run from, when the Observation does not say.
    pub vantage_zone: Option<String>,
    /// Zones, ordered by name (the file's zone tables are read into a sorted map).
    pub zones: Vec<Zone>,
    /// Allowed flows.
    pub flows: Vec<Flow>,
    /// Egress check targets.
    pub egress_targets: Vec<EgressTarget>,
    /// Public names to resolve from the oqv vantage through its own resolver (`[egress]
    /// names`): resolving one means the オン資 zone sees the public DNS.
    pub egress_names: Vec<String>,
    /// The closed network's fingerprints to look for from the general LAN, when the site
    /// turns the check on (`[closed_network] enabled = true`).
    pub closed_network: Option<ClosedNetwork>,
    /// Known assets (台帳). Empty: the site did not list any.
    pub assets: Vec<Asset>,
    /// Shipped or user rules the site disables, by id.
    pub disabled_rules: Vec<String>,
    /// The `[email]` section as written, for the report crate.
    pub email: Option<toml::Table>,
}

/// What a scan of the site must respect, as plain data: the CLI hands it to the engine
/// field by field, so policy needs no knowledge of the engine's types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteScanPlan {
    /// What a scan covers when the user names no targets: from a zone of kind internet the
    /// clinic's public addresses, from anywhere else every inside zone's CIDRs.
    pub targets: Vec<IpNet>,
    /// The clinic's own public addresses (public zones): in scope without `allow_public`.
    pub public: Vec<IpNet>,
    /// The egress attempts the site asks for from this vantage: its egress targets and
    /// names from a zone of kind oqv, the closed network's fingerprints from a zone of kind
    /// general (when turned on).
    pub egress: Vec<EgressCheck>,
    /// Addresses never to be touched: every zone's `rate.do_not_touch`.
    pub do_not_touch: Vec<IpNet>,
    /// The paced zones, one profile each; zones without a pace have none.
    pub profiles: Vec<ScanProfile>,
}

/// How gently the engine treats each host of one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanProfile {
    /// The zone's name (the engine names it in notices).
    pub zone: String,
    /// The zone's address ranges.
    pub cidrs: Vec<IpNet>,
    /// Most connections in flight to one host (at least 1); `None`: the scan's limit.
    pub max_per_host: Option<u32>,
    /// Least time between two new connections to one host (one second over the zone's
    /// `new_per_second`); zero when the zone sets no rate.
    pub connection_gap: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    site: RawSiteMeta,
    #[serde(default)]
    zones: BTreeMap<String, RawZone>,
    #[serde(default)]
    flows: Vec<RawFlow>,
    #[serde(default)]
    egress: Option<RawEgress>,
    #[serde(default)]
    closed_network: Option<RawClosedNetwork>,
    #[serde(default)]
    assets: Vec<RawAsset>,
    #[serde(default)]
    rules: Option<RawRules>,
    #[serde(default)]
    email: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSiteMeta {
    name: Option<String>,
    id: Option<String>,
    vantage_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    #[serde(default)]
    cidrs: Vec<String>,
    kind: Option<ZoneKind>,
    description: Option<String>,
    rate: Option<RawRate>,
    #[serde(default)]
    public: bool,
    vantage: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    max_per_host: Option<u32>,
    new_per_second: Option<u32>,
    #[serde(default)]
    do_not_touch: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    from: String,
    to: String,
    #[serde(default)]
    ports: Vec<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEgress {
    #[serde(default)]
    targets: Vec<RawEgressTarget>,
    #[serde(default)]
    names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClosedNetwork {
    enabled: bool,
    names: Option<Vec<String>>,
    targets: Option<Vec<RawClosedTarget>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClosedTarget {
    address: Option<String>,
    name: Option<String>,
    #[serde(default)]
    ports: Vec<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEgressTarget {
    address: String,
    #[serde(default)]
    ports: Vec<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    address: Option<String>,
    mac: Option<String>,
    name: Option<String>,
    role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    disabled: Vec<String>,
}

/// Parses "tcp/443", "udp/500", "443" (TCP), "tcp/5900-5903".
pub(crate) fn parse_port_range(s: &str) -> Result<PortRange, String> {
    let (transport, rest) = match s.split_once('/') {
        Some(("tcp", r)) => (Transport::Tcp, r),
        Some(("udp", r)) => (Transport::Udp, r),
        Some((t, _)) => return Err(format!("unknown transport {t:?} (use tcp or udp)")),
        None => (Transport::Tcp, s),
    };
    let num = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{p:?} is not a port number 1-65535"))
    };
    let (first, last) = match rest.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(rest)?;
            (n, n)
        }
    };
    if first > last {
        return Err(format!("range {first}-{last} is reversed"));
    }
    Ok(PortRange {
        transport,
        first,
        last,
    })
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(format!(
                "{s:?} has host bits set (did you mean {}?)",
                net.trunc()
            ));
        }
        return Ok(net);
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not a CIDR or an address"))
}

impl Site {
    /// Reads and parses a site file.
    pub fn from_file(path: &Path) -> Result<Site, SiteError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SiteError {
            file: file.clone(),
            key: "(file)".into(),
            problem: e.to_string(),
        })?;
        Site::parse(&text, &file)
    }

    /// Parses a site file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Site, SiteError> {
        let err = |key: String, problem: String| SiteError {
            file: file.to_string(),
            key,
            problem,
        };
        let raw: RawSite = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (l, c) = line_col(text, s.start);
                    match key_at(text, s.start) {
                        Some(k) => format!("{k} (line {l} column {c})"),
                        None => format!("line {l} column {c}"),
                    }
                })
                .unwrap_or_else(|| "(file)".into());
            err(at, e.message().to_string())
        })?;
        if let Some(id) = &raw.site.id
            && let Err(problem) = check_site_id(id)
        {
            return Err(err("site.id".into(), problem));
        }
        let mut site = Site {
            name: raw.site.name,
            id: raw.site.id,
            vantage_zone: raw.site.vantage_zone,
            email: raw.email,
            ..Site::default()
        };
        for (name, z) in raw.zones {
            let key = format!("zones.{name}");
            let kind = z.kind.unwrap_or_else(|| ZoneKind::from_name(&name));
            // The internet is where an outside scan runs from; its address is often not
            // known in advance, so only that kind may leave its CIDRs out.
            if z.cidrs.is_empty() && kind != ZoneKind::Internet {
                return Err(err(
                    format!("{key}.cidrs"),
                    "a zone needs at least one CIDR".into(),
                ));
            }
            if z.public && kind == ZoneKind::Internet {
                return Err(err(
                    format!("{key}.public"),
                    "the clinic's public addresses are a zone of their own, not of kind internet"
                        .into(),
                ));
            }
            let mut cidrs = Vec::new();
            for (i, c) in z.cidrs.iter().enumerate() {
                cidrs.push(parse_net(c).map_err(|p| err(format!("{key}.cidrs[{i}]"), p))?);
            }
            let mut rate = RateProfile::default();
            if kind == ZoneKind::MedicalDevices {
                // Medical devices get a gentle default pace: old embedded stacks fall over.
                rate.max_per_host = Some(1);
                rate.new_per_second = Some(5);
            }
            if let Some(r) = z.rate {
                if r.max_per_host == Some(0) {
                    return Err(err(
                        format!("{key}.rate.max_per_host"),
                        "must be at least 1".into(),
                    ));
                }
                if r.new_per_second == Some(0) {
                    return Err(err(
                        format!("{key}.rate.new_per_second"),
                        "must be at least 1".into(),
                    ));
                }
                rate.max_per_host = r.max_per_host.or(rate.max_per_host);
                rate.new_per_second = r.new_per_second.or(rate.new_per_second);
                for (i, a) in r.do_not_touch.iter().enumerate() {
                    rate.do_not_touch.push(
                        parse_net(a)
                            .map_err(|p| err(format!("{key}.rate.do_not_touch[{i}]"), p))?,
                    );
                }
            }
            site.zones.push(Zone {
                name,
                kind,
                cidrs,
                description: z.description,
                rate,
                public: z.public,
                // Nobody scans from the clinic's public addresses.
                vantage: z.vantage.unwrap_or(kind.audited_by_default() && !z.public),
            });
        }
        // Overlapping zones make "which zone is this host in" ambiguous.
        for (i, a) in site.zones.iter().enumerate() {
            for b in site.zones.iter().skip(i + 1) {
                for na in &a.cidrs {
                    for nb in &b.cidrs {
                        if na.contains(nb) || nb.contains(na) {
                            return Err(err(
                                format!("zones.{}.cidrs", b.name),
                                format!("{nb} overlaps {na} of zone {:?}", a.name),
                            ));
                        }
                    }
                }
            }
        }
        let known = |z: &str| site.zones.iter().any(|x| x.name == z);
        if let Some(v) = &site.vantage_zone
            && !known(v)
        {
            return Err(err(
                "site.vantage_zone".into(),
                format!("unknown zone {v:?}"),
            ));
        }
        for (i, f) in raw.flows.into_iter().enumerate() {
            let key = format!("flows[{i}]");
            for (k, z) in [("from", &f.from), ("to", &f.to)] {
                if !known(z) {
                    return Err(err(format!("{key}.{k}"), format!("unknown zone {z:?}")));
                }
            }
            let mut ports = Vec::new();
            for (j, p) in f.ports.iter().enumerate() {
                ports.push(parse_port_range(p).map_err(|m| err(format!("{key}.ports[{j}]"), m))?);
            }
            let to_kind = site.zone(&f.to).map(|z| z.kind);
            if to_kind == Some(ZoneKind::Oqv) && ports.is_empty() {
                return Err(err(
                    format!("{key}.ports"),
                    format!(
                        "flows into the oqv zone {:?} must list their ports explicitly",
                        f.to
                    ),
                ));
            }
            site.flows.push(Flow {
                from: f.from,
                to: f.to,
                ports,
                reason: f.reason,
            });
        }
        if let Some(e) = raw.egress {
            for (i, t) in e.targets.into_iter().enumerate() {
                let address = t.address.parse::<IpAddr>().map_err(|_| {
                    err(
                        format!("egress.targets[{i}].address"),
                        format!("{:?} is not an address", t.address),
                    )
                })?;
                if t.ports.contains(&0) {
                    return Err(err(format!("egress.targets[{i}].ports"), "port 0".into()));
                }
                site.egress_targets.push(EgressTarget {
                    address,
                    ports: if t.ports.is_empty() {
                        vec![443]
                    } else {
                        t.ports
                    },
                });
            }
            for (i, n) in e.names.into_iter().enumerate() {
                check_dns_name(&n).map_err(|p| err(format!("egress.names[{i}]"), p))?;
                site.egress_names.push(n);
            }
        }
        if let Some(c) = raw.closed_network.filter(|c| c.enabled) {
            let mut names = Vec::new();
            for (i, n) in c
                .names
                .unwrap_or_else(|| CLOSED_NETWORK_NAMES.iter().map(|n| n.to_string()).collect())
                .into_iter()
                .enumerate()
            {
                check_dns_name(&n).map_err(|p| err(format!("closed_network.names[{i}]"), p))?;
                names.push(n);
            }
            let targets = match c.targets {
                None => closed_network_targets(),
                Some(list) => {
                    let mut out = Vec::new();
                    for (i, t) in list.into_iter().enumerate() {
                        let key = format!("closed_network.targets[{i}]");
                        let host = match (t.address, t.name) {
                            (Some(a), None) => {
                                ClosedNetworkHost::Address(a.parse().map_err(|_| {
                                    err(
                                        format!("{key}.address"),
                                        format!("{a:?} is not an address"),
                                    )
                                })?)
                            }
                            (None, Some(n)) => {
                                check_dns_name(&n).map_err(|p| err(format!("{key}.name"), p))?;
                                ClosedNetworkHost::Name(n)
                            }
                            _ => {
                                return Err(err(key, "give either an address or a name".into()));
                            }
                        };
                        if t.ports.is_empty() || t.ports.contains(&0) {
                            return Err(err(
                                format!("{key}.ports"),
                                "list the TCP ports to try (1-65535)".into(),
                            ));
                        }
                        out.push(ClosedNetworkTarget {
                            host,
                            ports: t.ports,
                        });
                    }
                    out
                }
            };
            site.closed_network = Some(ClosedNetwork { names, targets });
        }
        for (i, a) in raw.assets.into_iter().enumerate() {
            let key = format!("assets[{i}]");
            let address = match a.address {
                Some(s) => Some(s.parse::<IpAddr>().map_err(|_| {
                    err(format!("{key}.address"), format!("{s:?} is not an address"))
                })?),
                None => None,
            };
            let mac = match a.mac {
                Some(m) => Some(normalise_mac(&m).ok_or_else(|| {
                    err(format!("{key}.mac"), format!("{m:?} is not a MAC address"))
                })?),
                None => None,
            };
            if address.is_none() && mac.is_none() {
                return Err(err(key, "an asset needs an address or a mac".into()));
            }
            site.assets.push(Asset {
                address,
                mac,
                name: a.name,
                role: a.role,
            });
        }
        if let Some(r) = raw.rules {
            site.disabled_rules = r.disabled;
        }
        Ok(site)
    }

    /// A zone by name.
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    /// The zone an address belongs to.
    pub fn zone_of(&self, addr: IpAddr) -> Option<&Zone> {
        self.zones.iter().find(|z| z.contains(addr))
    }

    /// The first zone of kind internet, where an outside scan runs from and where egress
    /// targets lie.
    pub fn internet_zone(&self) -> Option<&Zone> {
        self.zones.iter().find(|z| z.kind == ZoneKind::Internet)
    }

    /// Whether an address is one of the clinic's own public addresses (a public zone's).
    pub fn is_public_address(&self, addr: IpAddr) -> bool {
        self.zones.iter().any(|z| z.public && z.contains(addr))
    }

    /// Scan pace for an address (its zone's profile, or the default).
    pub fn rate_for(&self, addr: IpAddr) -> RateProfile {
        self.zone_of(addr)
            .map(|z| z.rate.clone())
            .unwrap_or_default()
    }

    /// The zone an Observation was made from: the zone it declares when the site has it,
    /// else the zone holding one of the scanner's addresses, else `site.vantage_zone`.
    /// The one derivation: the scan records it, the assessment resolves it.
    pub fn vantage_zone_of(&self, vantage: &Vantage) -> Option<String> {
        if let Some(z) = vantage.zone.as_deref().filter(|z| self.zone(z).is_some()) {
            return Some(z.to_string());
        }
        vantage
            .addresses
            .iter()
            .find_map(|a| self.zone_of(*a).map(|z| z.name.clone()))
            .or_else(|| self.vantage_zone.clone())
    }

    /// What a scan of this site from `vantage` (a zone name, when known before the scan)
    /// must respect: default targets, the clinic's public addresses, the egress attempts
    /// the site asks for from there, untouchable addresses and the pace of each paced zone.
    /// Zones never overlap, so a host has at most one profile, the one [`Site::rate_for`]
    /// names.
    pub fn scan_plan(&self, vantage: Option<&str>) -> SiteScanPlan {
        let mut plan = SiteScanPlan::default();
        let from = vantage.and_then(|v| self.zone(v)).map(|z| z.kind);
        for zone in &self.zones {
            if zone.public {
                plan.public.extend(zone.cidrs.iter().copied());
            }
            let target = match from {
                Some(ZoneKind::Internet) => zone.public,
                _ => !zone.public && zone.kind != ZoneKind::Internet,
            };
            if target {
                plan.targets.extend(zone.cidrs.iter().copied());
            }
            let rate = &zone.rate;
            plan.do_not_touch.extend(rate.do_not_touch.iter().copied());
            if rate.max_per_host.is_none() && rate.new_per_second.is_none() {
                continue;
            }
            plan.profiles.push(ScanProfile {
                zone: zone.name.clone(),
                cidrs: zone.cidrs.clone(),
                max_per_host: rate.max_per_host.map(|n| n.max(1)),
                connection_gap: rate
                    .new_per_second
                    .filter(|&n| n > 0)
                    .map_or(Duration::ZERO, |n| Duration::from_secs(1) / n),
            });
        }
        plan.egress = self.egress_checks(from);
        plan
    }

    /// The egress attempts the site asks for from a zone of this kind: from oqv its
    /// egress targets and names, from general the closed network's fingerprints (when
    /// turned on). A closed-network address inside one of the site's zones is the
    /// clinic's own and is left out.
    pub fn egress_checks(&self, from: Option<ZoneKind>) -> Vec<EgressCheck> {
        let mut out = Vec::new();
        let tcp = |purpose, host: String, port| EgressCheck {
            purpose,
            kind: EgressKind::Tcp,
            host,
            port: Some(port),
        };
        let dns = |purpose, name: &str| EgressCheck {
            purpose,
            kind: EgressKind::Dns,
            host: name.to_string(),
            port: None,
        };
        match from {
            Some(ZoneKind::Oqv) => {
                for t in &self.egress_targets {
                    for &p in &t.ports {
                        out.push(tcp(EgressPurpose::Internet, t.address.to_string(), p));
                    }
                }
                for n in &self.egress_names {
                    out.push(dns(EgressPurpose::Internet, n));
                }
            }
            Some(ZoneKind::General) => {
                let Some(c) = &self.closed_network else {
                    return out;
                };
                for n in &c.names {
                    out.push(dns(EgressPurpose::ClosedNetwork, n));
                }
                for t in &c.targets {
                    let host = match &t.host {
                        ClosedNetworkHost::Address(a) if self.zone_of(*a).is_some() => continue,
                        ClosedNetworkHost::Address(a) => a.to_string(),
                        ClosedNetworkHost::Name(n) => n.clone(),
                    };
                    for &p in &t.ports {
                        out.push(tcp(EgressPurpose::ClosedNetwork, host.clone(), p));
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Whether the site forbids touching this address.
    pub fn do_not_touch(&self, addr: IpAddr) -> bool {
        self.zones
            .iter()
            .flat_map(|z| z.rate.do_not_touch.iter())
            .any(|n| n.contains(&addr))
    }

    /// Whether the site allows `from` zone to reach `to` zone on this port.
    /// Same zone: always. Flows into an oqv zone only count with explicit ports.
    pub fn flow_allowed(&self, from: &str, to: &str, transport: Transport, port: u16) -> bool {
        if from == to {
            return true;
        }
        self.flows.iter().any(|f| {
            f.from == from
                && f.to == to
                && (f.ports.is_empty() || f.ports.iter().any(|p| p.contains(transport, port)))
        })
    }

    /// Whether an address is an egress check target.
    pub fn is_egress_target(&self, addr: IpAddr) -> bool {
        self.egress_targets.iter().any(|t| t.address == addr)
    }

    /// Whether the asset list holds this host (by address or MAC).
    pub fn is_known_asset(&self, addr: IpAddr, mac: Option<&str>) -> bool {
        self.asset_of(addr, mac).is_some()
    }

    /// The asset the list holds for this host (by address, else by MAC).
    pub fn asset_of(&self, addr: IpAddr, mac: Option<&str>) -> Option<&Asset> {
        let mac = mac.and_then(normalise_mac);
        self.assets
            .iter()
            .find(|a| a.address == Some(addr))
            .or_else(|| {
                self.assets
                    .iter()
                    .find(|a| a.mac.is_some() && a.mac.as_deref() == mac.as_deref())
            })
    }
}

/// The dotted key at a byte offset: the nearest table header above it plus the key
/// written at that offset, e.g. `site.colour` or `zones.general.rate.burst`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?.trim();
    let header = before
        .get(..line_start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|h| h.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line.split('=').next()?.trim();
    if key.is_empty() {
        return header;
    }
    Some(match header {
        Some(h) => format!("{h}.{key}"),
        None => key.to_string(),
    })
}

/// A host name to resolve: letters, digits, `-` and `_` in dot-separated labels of at most
/// 63, at most 253 in all.
fn check_dns_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a host name"))
    }
}

/// A site id is a key in a shared store, a syslog structured-data value and a file name in
/// reports, so it is kept to a small, unambiguous alphabet.
pub fn check_site_id(id: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id.len() > 64 {
        return Err(format!("{id:?} must be 1 to 64 characters"));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) || !id.chars().all(ok_char) {
        return Err(format!(
            "{id:?} may hold only letters, digits, '.', '_' and '-', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// Lower-case, colon-separated MAC, from `aa:bb:..`, `AA-BB-..` or `aabb.ccdd.eeff`.
pub(crate) fn normalise_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let seps_ok = s
        .chars()
        .all(|c| c.is_ascii_hexdigit() || ":-.".contains(c));
    if hex.len() != 12 || !seps_ok {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let parts: Vec<&str> = (0..6).filter_map(|i| lower.get(i * 2..i * 2 + 2)).collect();
    Some(parts.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Site {
        let text = match name {
            "lab-site.toml" => include_str!("../../../fixtures/policy/lab-site.toml"),
            "examples/site.toml" => include_str!("../../../docs/examples/site.toml"),
            _ => unreachable!("no fixture {name}"),
        };
        Site::parse(text, name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("cidr")).collect()
    }

    #[test]
    fn scan_plan_covers_every_zone_and_paces_the_gentle_ones() {
        let plan = fixture("lab-site.toml").scan_plan(None);
        // Zone order (sorted by name), one CIDR each.
        assert_eq!(
            plan.targets,
            nets(&[
                "10.77.20.0/24",
                "10.77.60.0/24",
                "10.77.10.0/24",
                "10.77.50.0/24",
                "10.77.40.0/24",
                "10.77.30.0/24",
                "10.77.100.0/24",
            ])
        );
        assert!(plan.do_not_touch.is_empty());
        // The medical devices' built-in pace and the scale zone's own; no other zone.
        assert_eq!(
            plan.profiles,
            vec![
                ScanProfile {
                    zone: "medical-devices".into(),
                    cidrs: nets(&["10.77.40.0/24"]),
                    max_per_host: Some(1),
                    connection_gap: Duration::from_millis(200),
                },
                ScanProfile {
                    zone: "scale".into(),
                    cidrs: nets(&["10.77.100.0/24"]),
                    max_per_host: Some(64),
                    connection_gap: Duration::from_micros(500),
                },
            ]
        );
    }

    #[test]
    fn scan_plan_keeps_do_not_touch_and_a_zones_own_pace() {
        let plan = fixture("examples/site.toml").scan_plan(None);
        assert_eq!(plan.do_not_touch, nets(&["192.168.40.50/32"]));
        assert_eq!(plan.profiles.len(), 1);
        let p = &plan.profiles[0];
        assert_eq!(p.zone, "medical-devices");
        assert_eq!(
            (p.max_per_host, p.connection_gap),
            (Some(1), Duration::from_millis(500))
        );
    }

    #[test]
    fn scan_plan_profiles_agree_with_rate_for() {
        let site = fixture("lab-site.toml");
        let plan = site.scan_plan(None);
        for zone in &site.zones {
            let addr = zone.cidrs[0].network();
            let rate = site.rate_for(addr);
            let profile = plan.profiles.iter().find(|p| p.zone == zone.name);
            assert_eq!(
                profile.and_then(|p| p.max_per_host),
                rate.max_per_host,
                "{}",
                zone.name
            );
            assert_eq!(
                profile.map(|p| p.connection_gap),
                rate.new_per_second.map(|n| Duration::from_secs(1) / n),
                "{}",
                zone.name
            );
        }
    }

    #[test]
    fn rate_limits_of_zero_never_reach_the_engine() {
        // Parsing refuses 0; a Site built in code may still hold it.
        let mut site = fixture("lab-site.toml");
        let scale = site
            .zones
            .iter_mut()
            .find(|z| z.name == "scale")
            .expect("zone");
        scale.rate.max_per_host = Some(0);
        scale.rate.new_per_second = Some(0);
        let plan = site.scan_plan(None);
        let p = plan
            .profiles
            .iter()
            .find(|p| p.zone == "scale")
            .expect("paced");
        assert_eq!(
            (p.max_per_host, p.connection_gap),
            (Some(1), Duration::ZERO)
        );
    }

    fn vantage(zone: Option<&str>, addresses: &[&str]) -> Vantage {
        Vantage {
            addresses: addresses.iter().map(|a| a.parse().expect("ip")).collect(),
            hostname: None,
            zone: zone.map(str::to_string),
        }
    }

    #[test]
    fn vantage_zone_declared_then_by_address_then_the_sites_default() {
        let site = fixture("lab-site.toml");
        let of = |z, a: &[&str]| site.vantage_zone_of(&vantage(z, a));
        // A zone the site names wins over the address.
        assert_eq!(of(Some("guest"), &["10.77.30.5"]).as_deref(), Some("guest"));
        // A zone the site does not name is resolved as if undeclared.
        assert_eq!(of(Some("lobby"), &["10.77.30.5"]).as_deref(), Some("oqv"));
        // The first address inside a zone.
        assert_eq!(
            of(None, &["192.0.2.1", "10.77.50.10"]).as_deref(),
            Some("guest")
        );
        // No address inside a zone: the site's vantage_zone.
        assert_eq!(of(None, &["192.0.2.1"]).as_deref(), Some("general"));
        let mut no_default = site.clone();
        no_default.vantage_zone = None;
        assert_eq!(no_default.vantage_zone_of(&vantage(None, &[])), None);
    }
}
