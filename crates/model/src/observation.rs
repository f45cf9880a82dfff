//! The Observation: what one scan saw on the network, and nothing more.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::ServiceFacts;

/// The schema tag every Observation carries. Bumped only on an incompatible change.
pub const OBSERVATION_SCHEMA: &str = "clinicscan/observation/v1";

/// Everything one scan saw: its metadata and the hosts it found.
///
/// This JSON is a public contract: a saved Observation can be re-assessed later with
/// new rules or a new site file, without touching the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// Always [`OBSERVATION_SCHEMA`].
    pub schema: String,
    /// When, from where and how the scan ran.
    pub scan: ScanMeta,
    /// Hosts that were found up, and (when asked) the ones found down.
    pub hosts: Vec<Host>,
    /// Attempts to leave the site's network from the vantage (the site file's egress
    /// targets, the closed network's fingerprints), each with what came of it. Absent in
    /// scans that made none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressAttempt>,
}

impl Observation {
    /// An empty Observation for the given metadata.
    pub fn new(scan: ScanMeta) -> Self {
        Observation {
            schema: OBSERVATION_SCHEMA.to_string(),
            scan,
            hosts: Vec::new(),
            egress: Vec::new(),
        }
    }
}

/// Why an egress attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EgressPurpose {
    /// One of the site's egress check targets (`[egress]`): from the オン資 zone, reaching it
    /// means a general internet path.
    Internet,
    /// One of the オン資 closed network's fingerprints (`[closed_network]`): from the general
    /// LAN, reaching it means a route into the closed network.
    ClosedNetwork,
}

impl EgressPurpose {
    /// The kebab-case name as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EgressPurpose::Internet => "internet",
            EgressPurpose::ClosedNetwork => "closed-network",
        }
    }
}

/// What an egress attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EgressKind {
    /// A TCP connection to an address and port (a name is resolved first).
    Tcp,
    /// The resolution of a name through the vantage's own resolver (`/etc/resolv.conf`).
    Dns,
}

/// What came of an egress attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EgressOutcome {
    /// TCP: the handshake completed.
    Connected,
    /// TCP: a reset came back (from the target or from a filter on the path).
    Refused,
    /// TCP: no answer before the deadline (a filter dropped it).
    Timeout,
    /// TCP: no route, or an ICMP unreachable came back.
    Unreachable,
    /// DNS: the name resolved to the addresses listed.
    Resolved,
    /// DNS: the resolver answered that the name does not exist.
    Nxdomain,
    /// DNS: the resolver answered, with no address for the name.
    NoRecords,
    /// DNS: no resolver answered before the deadline.
    NoAnswer,
    /// DNS: the resolver answered with an error (refused, server failure).
    DnsError,
    /// DNS: the vantage has no resolver configured.
    NoResolver,
    /// Not tried: the name resolved outside the scan's scope, or a local error; see the
    /// detail.
    NotTried,
}

/// An egress attempt the site file asks for, before it is made: what the scan engine is
/// given. [`EgressAttempt`] records what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressCheck {
    /// Why.
    pub purpose: EgressPurpose,
    /// A TCP connection or a name resolution.
    pub kind: EgressKind,
    /// An address or a host name (resolved first for a TCP check).
    pub host: String,
    /// TCP: the port.
    #[serde(default)]
    pub port: Option<u16>,
}

impl EgressCheck {
    /// The target as attempts name it: "203.0.113.80:443", "[2001:db8::1]:443",
    /// "proxy.example:8080", or the bare name of a DNS check.
    pub fn target(&self) -> String {
        match (self.kind, self.port) {
            (EgressKind::Tcp, Some(p)) if self.host.contains(':') => format!("[{}]:{p}", self.host),
            (EgressKind::Tcp, Some(p)) => format!("{}:{p}", self.host),
            _ => self.host.clone(),
        }
    }
}

/// One attempt to leave the site's network from the scan's vantage, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressAttempt {
    /// Why it was made.
    pub purpose: EgressPurpose,
    /// A TCP connection or a name resolution.
    pub kind: EgressKind,
    /// The target as the site file names it, e.g. "203.0.113.80:443" or
    /// "egress-check.example.net".
    pub target: String,
    /// TCP: the address connected to. DNS: the resolver asked (the first the vantage's
    /// configuration names).
    #[serde(default)]
    pub address: Option<IpAddr>,
    /// TCP: the port. DNS: 53.
    #[serde(default)]
    pub port: Option<u16>,
    /// The name resolved (DNS), or the name a TCP target was given as.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether it got out: the TCP handshake completed, or the name resolved to an address.
    /// `null` when it could not be told (not tried, a local error).
    #[serde(default)]
    pub reached: Option<bool>,
    /// What happened.
    pub outcome: EgressOutcome,
    /// The addresses the name resolved to.
    #[serde(default)]
    pub resolved: Vec<IpAddr>,
    /// Detail in words, e.g. "no answer within 3 s", "connection refused".
    #[serde(default)]
    pub detail: String,
    /// How long it took, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: Option<u64>,
}

/// Metadata of one scan run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanMeta {
    /// A unique id for this run (UUID v4).
    pub id: String,
    /// When the scan started (UTC).
    pub started: DateTime<Utc>,
    /// When the scan finished (UTC); absent if it was interrupted.
    #[serde(default)]
    pub finished: Option<DateTime<Utc>>,
    /// The tool that made this Observation.
    pub tool: ToolInfo,
    /// Where the scan ran from.
    pub vantage: Vantage,
    /// The options the scan ran with, as resolved.
    pub options: ScanOptions,
    /// Statistics of the run.
    #[serde(default)]
    pub stats: ScanStats,
    /// Things the user must know about how the scan ran (fallbacks, unresolved names...).
    #[serde(default)]
    pub notices: Vec<Notice>,
}

/// Name and version of the scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    /// Always "clinicscan" for native scans; "nmap" for an imported nmap result.
    pub name: String,
    /// The tool's version.
    pub version: String,
}

/// Where a scan ran from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vantage {
    /// The scanner's own addresses used as sources.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// The scanner's host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The site zone the scan ran from, when a site file named it.
    #[serde(default)]
    pub zone: Option<String>,
}

/// The resolved options of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanOptions {
    /// Targets as the user gave them.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Exclusions as the user gave them.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// The TCP port specification (e.g. "clinic", "1-1024", "all").
    #[serde(default)]
    pub ports: String,
    /// Kind of TCP port scan actually used.
    pub scan_kind: ScanKind,
    /// Whether host discovery ran (false: every target was treated as up).
    pub discovery: bool,
    /// Whether service probes ran.
    #[serde(default)]
    pub service_probes: bool,
    /// Whether public (non-private) targets were allowed.
    #[serde(default)]
    pub allow_public: bool,
    /// Global limit of concurrent probes.
    #[serde(default)]
    pub max_concurrency: u32,
    /// Limit of concurrent probes per host.
    #[serde(default)]
    pub max_per_host: u32,
}

/// How TCP ports were scanned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ScanKind {
    /// Full TCP connect through the operating system.
    #[default]
    Connect,
    /// Half-open SYN scan with raw packets.
    Syn,
    /// Imported from another tool's output.
    Imported,
}

/// Counters of one scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanStats {
    /// Addresses considered (after exclusions).
    pub addresses_considered: u64,
    /// Hosts found up.
    pub hosts_up: u64,
    /// Port probes sent.
    pub port_probes: u64,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// Something the user must know about the run: a fallback, a skipped target, an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Machine-readable kind, e.g. "syn-fallback", "unresolved-name", "no-privilege".
    pub kind: NoticeKind,
    /// Human-readable message (English; the renderers translate known kinds).
    pub message: String,
    /// The target, host or setting it concerns, if any.
    #[serde(default)]
    pub subject: Option<String>,
}

/// Declares [`NoticeKind`] from one list, so that a kind's variant, its name in the JSON and
/// its place in [`NoticeKind::KNOWN`] cannot disagree.
macro_rules! notice_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// What a [`Notice`] is about.
        ///
        /// In the JSON it is the kind's kebab-case name, a plain string as before the enum
        /// existed. A name this version does not know (written by a newer clinicscan or by
        /// another tool) is kept verbatim in [`NoticeKind::Other`], so reading a newer
        /// Observation never fails and writing it back loses nothing.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum NoticeKind {
            $($(#[doc = $doc])* $variant,)*
            /// A kind this version does not know, as it was written.
            Other(String),
        }

        impl NoticeKind {
            /// Every kind this version knows (not [`NoticeKind::Other`]), in declaration order.
            pub const KNOWN: &'static [NoticeKind] = &[$(NoticeKind::$variant,)*];

            /// The kind's name as in the JSON, e.g. "syn-fallback".
            pub fn as_str(&self) -> &str {
                match self {
                    $(NoticeKind::$variant => $name,)*
                    NoticeKind::Other(name) => name,
                }
            }
        }

        impl From<&str> for NoticeKind {
            /// The kind of a name: a known kind, else [`NoticeKind::Other`].
            fn from(name: &str) -> NoticeKind {
                match name {
                    $($name => NoticeKind::$variant,)*
                    other => NoticeKind::Other(other.to_string()),
                }
            }
        }
    };
}

notice_kinds! {
    /// ICMP echo and ARP need raw sockets: discovery used TCP pings only.
    NoPrivilege => "no-privilege",
    /// A SYN scan was asked for but could not run: the scan used TCP connect.
    SynFallback => "syn-fallback",
    /// ARP failed: discovery used ICMP and TCP pings.
    ArpFallback => "arp-fallback",
    /// No DNS resolver could be used.
    DnsUnavailable => "dns-unavailable",
    /// A target name did not resolve and was not scanned.
    UnresolvedName => "unresolved-name",
    /// A target name resolves to an excluded address: nothing was sent to it.
    NameExcluded => "name-excluded",
    /// Target addresses are on the do-not-touch list: nothing was sent to them.
    DoNotTouch => "do-not-touch",
    /// The scan was stopped before the end: results are partial.
    Cancelled => "cancelled",
    /// A host task failed inside the scanner.
    InternalError => "internal-error",
    /// Connections failed for a local reason (sockets, resources); those ports are
    /// reported filtered.
    LocalError => "local-error",
    /// Replies were dropped by this machine (receive buffer full) while ports went
    /// unanswered; those ports are reported filtered but may be open or closed.
    RepliesDropped => "replies-dropped",
    /// The IEEE OUI registry is missing: MAC vendors are not named.
    OuiMissing => "oui-missing",
    /// The Observation was imported from another tool's output (nmap XML).
    Imported => "imported",
}

impl From<String> for NoticeKind {
    fn from(name: String) -> NoticeKind {
        match NoticeKind::from(name.as_str()) {
            NoticeKind::Other(_) => NoticeKind::Other(name),
            known => known,
        }
    }
}

impl std::str::FromStr for NoticeKind {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<NoticeKind, Self::Err> {
        Ok(NoticeKind::from(name))
    }
}

impl std::fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Two kinds are equal when their names are: an `Other` built by hand with a known name is
// that known kind.
impl PartialEq for NoticeKind {
    fn eq(&self, other: &NoticeKind) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for NoticeKind {}

impl std::hash::Hash for NoticeKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for NoticeKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for NoticeKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for NoticeKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NoticeKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<NoticeKind, D::Error> {
        String::deserialize(deserializer).map(NoticeKind::from)
    }
}

// The schema stays a plain string: an enum of today's names would make a reader of the
// schema refuse the kinds a newer version adds.
impl JsonSchema for NoticeKind {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NoticeKind".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

/// One host and what it exposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The scanned address.
    pub address: IpAddr,
    /// Whether the host is up, and why the scanner thinks so.
    pub status: HostStatus,
    /// MAC address (lower-case, colon-separated) when the host is on-link.
    #[serde(default)]
    pub mac: Option<String>,
    /// Vendor registered for the MAC's OUI, from the IEEE registry.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Names of the host and where each came from.
    #[serde(default)]
    pub names: Vec<HostName>,
    /// Measured round-trip time in milliseconds, when known.
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    /// The ports scanned on this host that are worth reporting (open, and closed or
    /// filtered ones when the scan reports them).
    #[serde(default)]
    pub services: Vec<Service>,
    /// How many scanned ports were closed and filtered but not listed individually.
    #[serde(default)]
    pub port_summary: PortSummary,
}

/// Whether a host is up and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostStatus {
    /// Up or down.
    pub state: HostState,
    /// The evidence.
    pub reason: HostReason,
    /// Free detail, e.g. the port that answered a TCP ping.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HostState {
    /// Something answered.
    Up,
    /// Nothing answered any discovery probe.
    Down,
}

/// Why a host is believed up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HostReason {
    /// An ARP reply (on-link IPv4).
    ArpResponse,
    /// An NDP neighbour advertisement (on-link IPv6).
    NdResponse,
    /// An ICMP/ICMPv6 echo reply.
    EchoReply,
    /// A TCP SYN-ACK to a discovery probe.
    TcpSynAck,
    /// A TCP RST (connection refused) to a discovery probe: something is there.
    TcpRst,
    /// The address is one of this machine's own.
    Localhost,
    /// Discovery was disabled; the host was assumed up.
    UserSet,
    /// No discovery probe was answered.
    NoResponse,
    /// ICMP host/network unreachable came back.
    Unreachable,
    /// Imported from another tool.
    Imported,
}

/// A name of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostName {
    /// The name.
    pub name: String,
    /// Where it came from.
    pub source: NameSource,
}

/// Where a host name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NameSource {
    /// The user gave this name as a target.
    Target,
    /// Reverse DNS (PTR).
    Ptr,
    /// NetBIOS / SMB / NTLM.
    Netbios,
    /// A TLS certificate name (a hint, not proof of identity).
    Certificate,
    /// SNMP sysName.
    Snmp,
    /// Imported from another tool.
    Imported,
}

/// Counts of ports not listed one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortSummary {
    /// Ports scanned on this host.
    pub scanned: u32,
    /// Open ports.
    pub open: u32,
    /// Closed ports.
    pub closed: u32,
    /// Filtered ports (no answer, or ICMP prohibited).
    pub filtered: u32,
}

/// TCP or UDP.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Transport {
    /// "tcp" or "udp", as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// The state of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PortState {
    /// A service accepts connections (TCP) or answered (UDP).
    Open,
    /// The host answered that nothing listens (RST, ICMP port unreachable).
    Closed,
    /// No answer, or an ICMP prohibition: a filter is in the way.
    Filtered,
    /// UDP only: no answer, so open or filtered cannot be told apart.
    OpenFiltered,
}

/// The evidence for a port state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PortReason {
    /// TCP connect completed / SYN-ACK received.
    SynAck,
    /// Connection refused / RST received.
    Reset,
    /// No answer within the timeout (after retries).
    NoResponse,
    /// ICMP administratively prohibited or host unreachable.
    IcmpUnreachable,
    /// ICMP port unreachable (UDP closed).
    PortUnreachable,
    /// A UDP reply came back.
    UdpResponse,
    /// Imported from another tool.
    Imported,
}

/// One port on one host and what the scanner learnt about the service behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Port number.
    pub port: u16,
    /// TCP or UDP.
    pub transport: Transport,
    /// Open, closed, filtered.
    pub state: PortState,
    /// Why.
    pub reason: PortReason,
    /// Connect / response latency in milliseconds.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// The conventional service name for this port number (IANA / clinic list).
    /// This is a guess from the number alone, never used as evidence.
    #[serde(default)]
    pub port_name: Option<String>,
    /// The protocol a handshake proved this port speaks ("tls", "rdp", "ssh", ...).
    /// Absent when no probe identified it.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Product and version, when the service told them.
    #[serde(default)]
    pub software: Option<Software>,
    /// Protocol facts gathered by service probes.
    #[serde(default)]
    pub facts: ServiceFacts,
    /// Probes that ran against this port and failed, and why.
    #[serde(default)]
    pub probe_errors: Vec<ProbeError>,
}

impl Service {
    /// A bare port result without any probe facts.
    pub fn port_only(
        port: u16,
        transport: Transport,
        state: PortState,
        reason: PortReason,
    ) -> Self {
        Service {
            port,
            transport,
            state,
            reason,
            latency_ms: None,
            port_name: None,
            protocol: None,
            software: None,
            facts: ServiceFacts::default(),
            probe_errors: Vec::new(),
        }
    }
}

/// Product and version as the service stated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Software {
    /// Vendor, e.g. "Fortinet", "OpenBSD".
    #[serde(default)]
    pub vendor: Option<String>,
    /// Product, e.g. "FortiGate SSL-VPN", "OpenSSH".
    pub product: String,
    /// Version as stated, e.g. "9.2p1".
    #[serde(default)]
    pub version: Option<String>,
    /// The bytes or field the product and version were read from.
    pub evidence: String,
}

/// A service probe that did not complete, and what the peer did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeError {
    /// The probe, e.g. "tls", "rdp", "smb".
    pub probe: String,
    /// What went wrong.
    pub kind: ProbeErrorKind,
    /// Detail, e.g. "unexpected record type 0x48".
    pub detail: String,
}

/// What a failed probe saw the peer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProbeErrorKind {
    /// The probe's deadline passed.
    Timeout,
    /// The peer closed or reset the connection.
    ConnectionClosed,
    /// The connection could not be made.
    ConnectFailed,
    /// The peer sent bytes that do not parse as the protocol.
    InvalidMessage,
    /// The peer sent more than the probe's byte limit.
    TooLarge,
    /// The peer speaks the protocol but refused what a normal client offers.
    PeerIncompatible,
    /// No reply: the service may be there but silent (e.g. OpenVPN tls-auth, strict IKE).
    NoReply,
    /// A local error (socket, resource).
    Local,
    /// The server refuses this scanner itself, in its own words (`detail`), e.g. TigerVNC's
    /// "Too many security failures": a blacklist after failed logins (possibly someone
    /// else's, from the same address or a shared NAT), a tarpit or a per-source limit. The
    /// service's facts were not established this run; what was known before still stands
    /// (history: "not re-checked", never "resolved").
    RefusedByPeer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_kinds_are_written_and_read_as_their_names() {
        for kind in NoticeKind::KNOWN {
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            let back: NoticeKind = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, kind);
            assert!(!matches!(back, NoticeKind::Other(_)), "{kind}");
        }
        let names: std::collections::BTreeSet<&str> =
            NoticeKind::KNOWN.iter().map(NoticeKind::as_str).collect();
        assert_eq!(names.len(), NoticeKind::KNOWN.len(), "a name used twice");
    }

    /// An Observation from a newer clinicscan (or another tool) with a kind this version does
    /// not know reads, and writes back unchanged.
    #[test]
    fn an_unknown_notice_kind_is_kept_verbatim() {
        let json = r#"{"kind":"made-up\u001b[2J","message":"m","subject":null}"#;
        let n: Notice = serde_json::from_str(json).unwrap();
        assert_eq!(n.kind, NoticeKind::Other("made-up\u{1b}[2J".into()));
        assert_eq!(serde_json::to_string(&n).unwrap(), json);
        assert_eq!(NoticeKind::Other("cancelled".into()), NoticeKind::Cancelled);
        assert_eq!(
            NoticeKind::from("cancelled".to_string()),
            NoticeKind::Cancelled
        );
        assert!(NoticeKind::SynFallback == "syn-fallback");
    }
}
