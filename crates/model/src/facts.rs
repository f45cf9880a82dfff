//! Protocol facts that service probes record on a [`crate::Service`].
//!
//! Conventions, so that rules read naturally:
//! - every protocol block is optional: absent means the probe did not run or did not
//!   identify the protocol;
//! - a tri-state fact is `Option<bool>`: `null` means "could not be told" and must never
//!   make a rule fire;
//! - enums serialise as kebab-case strings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Facts gathered by service probes, one optional block per protocol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceFacts {
    /// TLS (directly, or inside RDP / STARTTLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFacts>,
    /// RDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdp: Option<RdpFacts>,
    /// SMB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smb: Option<SmbFacts>,
    /// SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshFacts>,
    /// FTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftp: Option<FtpFacts>,
    /// Telnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telnet: Option<TelnetFacts>,
    /// VNC / RFB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnc: Option<VncFacts>,
    /// SNMP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp: Option<SnmpFacts>,
    /// HTTP (plain or over TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpFacts>,
    /// DICOM upper layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dicom: Option<DicomFacts>,
    /// Microsoft SQL Server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mssql: Option<MssqlFacts>,
    /// PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresFacts>,
    /// MySQL / MariaDB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql: Option<MysqlFacts>,
    /// IKE (IPsec key exchange).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ike: Option<IkeFacts>,
    /// OpenVPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openvpn: Option<OpenVpnFacts>,
    /// PPTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pptp: Option<PptpFacts>,
    /// UPnP / SSDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upnp: Option<UpnpFacts>,
}

// ---------------------------------------------------------------- TLS

/// A TLS protocol version.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum TlsVersion {
    /// SSL 2.0.
    #[serde(rename = "SSLv2")]
    Ssl2,
    /// SSL 3.0.
    #[serde(rename = "SSLv3")]
    Ssl3,
    /// TLS 1.0.
    #[serde(rename = "TLSv1.0")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLSv1.1")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

/// Why a cipher suite is weak.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SuiteWeakness {
    /// No encryption.
    Null,
    /// Export-grade.
    Export,
    /// Anonymous key exchange (no authentication).
    Anonymous,
    /// RC4 stream cipher.
    Rc4,
    /// DES or 3DES, or any 64-bit block cipher (Sweet32).
    Des64BitBlock,
    /// CBC mode with a SHA-1 MAC (excluded by the CRYPTREC recommended profile).
    CbcSha1,
    /// Static RSA key transport: no forward secrecy.
    NoForwardSecrecy,
    /// MD5 MAC.
    Md5,
}

/// One cipher suite a server accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CipherSuite {
    /// IANA code point.
    pub id: u16,
    /// IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".
    pub name: String,
    /// Weaknesses of this suite; empty when none is known.
    #[serde(default)]
    pub weaknesses: Vec<SuiteWeakness>,
}

/// Result for one TLS version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsVersionResult {
    /// The version.
    pub version: TlsVersion,
    /// Accepted (true), refused (false) or could not be told (null).
    pub accepted: Option<bool>,
    /// Suites accepted with this version (empty when refused or not enumerated).
    #[serde(default)]
    pub suites: Vec<CipherSuite>,
}

/// Facts about a TLS endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsFacts {
    /// How TLS was reached: "direct", "rdp", "starttls-smtp", "starttls-ftp", ...
    pub via: String,
    /// Per-version results, lowest version first.
    #[serde(default)]
    pub versions: Vec<TlsVersionResult>,
    /// The versions accepted (derived from `versions`, for simple rules).
    #[serde(default)]
    pub accepted_versions: Vec<TlsVersion>,
    /// Names of accepted suites that have a weakness (derived, for simple rules).
    #[serde(default)]
    pub weak_suites: Vec<String>,
    /// The set of weaknesses seen across accepted suites (derived).
    #[serde(default)]
    pub weaknesses: Vec<SuiteWeakness>,
    /// Whether the server sent a CertificateRequest (client certificate authentication).
    #[serde(default)]
    pub client_cert_requested: Option<bool>,
    /// The leaf certificate.
    #[serde(default)]
    pub certificate: Option<CertificateFacts>,
    /// The chain as sent (leaf first), each parsed.
    #[serde(default)]
    pub chain: Vec<CertificateFacts>,
}

/// Kind of public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KeyType {
    /// RSA.
    Rsa,
    /// ECDSA on a named curve.
    Ec,
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
    /// DSA.
    Dsa,
    /// Anything else.
    Other,
}

/// Facts read from one X.509 certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateFacts {
    /// Subject distinguished name (RFC 4514 string).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject alternative names (DNS names and IP addresses).
    #[serde(default)]
    pub sans: Vec<String>,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// Whole days from the scan time to `not_after` (negative once expired).
    pub days_left: i64,
    /// Expired at scan time.
    pub expired: bool,
    /// Not yet valid at scan time.
    #[serde(default)]
    pub not_yet_valid: bool,
    /// Issuer equals subject and the signature verifies with its own key.
    pub self_signed: bool,
    /// Public key type.
    pub key_type: KeyType,
    /// Public key size in bits (RSA modulus, EC field size).
    pub key_bits: u32,
    /// Signature algorithm name, e.g. "sha256WithRSAEncryption".
    pub signature_algorithm: String,
    /// The signature uses SHA-1 or MD5.
    pub weak_signature: bool,
    /// SHA-256 fingerprint of the DER, hex.
    pub sha256: String,
}

// ---------------------------------------------------------------- RDP

/// Facts about an RDP listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdpFacts {
    /// Standard RDP security (no TLS, no NLA) accepted.
    pub standard_rdp: Option<bool>,
    /// TLS security without NLA accepted.
    pub tls: Option<bool>,
    /// CredSSP (NLA) accepted.
    pub credssp: Option<bool>,
    /// CredSSP with early user authorization (HYBRID_EX) accepted.
    #[serde(default)]
    pub credssp_early_auth: Option<bool>,
    /// A client can connect without NLA (standard RDP or TLS-only was accepted).
    pub nla_required: Option<bool>,
    /// The RDP_NEG_FAILURE code text when the server refused a request, e.g.
    /// "HYBRID_REQUIRED_BY_SERVER".
    #[serde(default)]
    pub negotiation_failures: Vec<String>,
    /// For standard RDP security: the encryption methods the server accepted, e.g.
    /// "128-bit RC4", "40-bit RC4" (the one it chose when offered all comes first).
    #[serde(default)]
    pub encryption_methods: Vec<String>,
    /// For standard RDP security: the server's encryption level, "none", "low",
    /// "client-compatible", "high" or "fips".
    #[serde(default)]
    pub encryption_level: Option<String>,
    /// NTLM target information from the CredSSP challenge, when obtained.
    #[serde(default)]
    pub ntlm: Option<NtlmInfo>,
}

/// Target information an NTLM CHALLENGE message discloses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NtlmInfo {
    /// NetBIOS computer name.
    #[serde(default)]
    pub netbios_computer: Option<String>,
    /// NetBIOS domain name.
    #[serde(default)]
    pub netbios_domain: Option<String>,
    /// DNS computer name.
    #[serde(default)]
    pub dns_computer: Option<String>,
    /// DNS domain name.
    #[serde(default)]
    pub dns_domain: Option<String>,
    /// OS version "major.minor.build".
    #[serde(default)]
    pub os_version: Option<String>,
}

// ---------------------------------------------------------------- SMB

/// Facts about an SMB server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmbFacts {
    /// SMB1 (NT LM 0.12) accepted.
    pub smb1: Option<bool>,
    /// SMB2/3 dialects accepted, e.g. ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"].
    #[serde(default)]
    pub dialects: Vec<String>,
    /// The highest dialect the server chose.
    #[serde(default)]
    pub max_dialect: Option<String>,
    /// Signing enabled.
    pub signing_enabled: Option<bool>,
    /// Signing required.
    pub signing_required: Option<bool>,
    /// NTLM target information, when the server disclosed it.
    #[serde(default)]
    pub ntlm: Option<NtlmInfo>,
    /// The OS string an SMB1 server sent, if any.
    #[serde(default)]
    pub native_os: Option<String>,
    /// What an anonymous (null) session could see: null when none was tried or the probe
    /// ended before it could tell.
    #[serde(default)]
    pub anonymous: Option<SmbAnonymous>,
}

/// What an anonymous (null) SMB session — empty user, empty password, the way
/// `smbclient -N -U%` logs on — could do on a server. Unknown stays null, never false.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmbAnonymous {
    /// The server accepted the null session (false: it refused it, e.g. because it requires
    /// signing, which a session without a key cannot do).
    pub session: Option<bool>,
    /// The share list could be read: over the srvsvc pipe (NetShareEnumAll), or on an
    /// SMB1-only server that refuses srvsvc, by RAP NetShareEnum over \\PIPE\\LANMAN.
    pub shares_listed: Option<bool>,
    /// Why the session or the share list was refused or could not be told: the server's
    /// status ("STATUS_ACCESS_DENIED") or what went wrong.
    #[serde(default)]
    pub reason: Option<String>,
    /// The shares listed (at most 256).
    #[serde(default)]
    pub shares: Vec<SmbShare>,
    /// How many shares the server listed (more than `shares` holds when capped).
    #[serde(default)]
    pub shares_total: Option<u32>,
}

/// One share of an anonymous share listing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmbShare {
    /// The share name.
    pub name: String,
    /// "disk", "printer", "device", "ipc" (or the type number).
    pub kind: String,
    /// An administrative share (STYPE_SPECIAL: C$, ADMIN$, IPC$).
    #[serde(default)]
    pub special: bool,
    /// The share's comment, as the server's configuration sets it.
    #[serde(default)]
    pub remark: Option<String>,
    /// The anonymous session could list the share's top directory (false: the tree
    /// connect or the open was refused; null: not tried or not told — hidden and non-disk
    /// shares are not tried).
    #[serde(default)]
    pub listable: Option<bool>,
    /// Why `listable` is false or null: the server's status or what went wrong.
    #[serde(default)]
    pub reason: Option<String>,
    /// Entries (other than "." and "..") in the server's first answer to the listing: the
    /// count only, never a name (names on a clinic's share can be patient data); a lower
    /// bound when the directory is larger than one answer.
    #[serde(default)]
    pub entries: Option<u32>,
}

// ---------------------------------------------------------------- SSH

/// Why an SSH algorithm is weak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeakAlgorithm {
    /// "kex", "host-key", "cipher", "mac".
    pub kind: String,
    /// The algorithm name.
    pub name: String,
    /// Why it is weak.
    pub reason: String,
}

/// Facts about an SSH server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshFacts {
    /// The identification line as sent (without CR LF).
    pub banner: String,
    /// Protocol version from the banner, "2.0" or "1.99" or "1.5".
    pub protocol_version: String,
    /// Software version from the banner, e.g. "OpenSSH_9.2p1".
    pub software: String,
    /// Comments after the software version, e.g. "Debian-2+deb12u3".
    #[serde(default)]
    pub comments: Option<String>,
    /// Key exchange algorithms offered.
    #[serde(default)]
    pub kex: Vec<String>,
    /// Host key algorithms offered.
    #[serde(default)]
    pub host_key: Vec<String>,
    /// Ciphers offered (client to server).
    #[serde(default)]
    pub ciphers: Vec<String>,
    /// MACs offered (client to server).
    #[serde(default)]
    pub macs: Vec<String>,
    /// Compression algorithms offered.
    #[serde(default)]
    pub compression: Vec<String>,
    /// Offered algorithms that are weak, and why.
    #[serde(default)]
    pub weak: Vec<WeakAlgorithm>,
    /// The authentication methods the server lists after a `none` request (RFC 4252 §5.2),
    /// e.g. ["publickey", "password", "keyboard-interactive"]. Empty when not learnt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_methods: Vec<String>,
    /// The user name of that `none` request ("root": present on every Unix-like server, so
    /// OpenSSH logs no "Invalid user"; no password or key is ever sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_methods_user: Option<String>,
}

// ---------------------------------------------------------------- FTP, Telnet

/// Facts about an FTP server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FtpFacts {
    /// The greeting (220) text.
    pub banner: String,
    /// Anonymous login accepted (the only login clinicscan ever attempts). `null` also when
    /// the server asked for a password without inviting an anonymous one: clinicscan then
    /// sends none, since without anonymous access the PASS would be a failed login.
    pub anonymous: Option<bool>,
    /// AUTH TLS offered (FEAT or AUTH reply).
    #[serde(default)]
    pub auth_tls: Option<bool>,
}

/// Facts about a Telnet service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelnetFacts {
    /// Text received after option negotiation (login prompt or banner), trimmed.
    #[serde(default)]
    pub banner: Option<String>,
    /// Options the server asked for (DO/WILL), by name.
    #[serde(default)]
    pub options: Vec<String>,
}

// ---------------------------------------------------------------- VNC

/// A VNC security type offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VncSecurityType {
    /// RFB security type number.
    pub code: u8,
    /// Name, e.g. "None", "VNC Authentication", "VeNCrypt".
    pub name: String,
}

/// Facts about a VNC server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VncFacts {
    /// RFB protocol version the server announced, e.g. "3.8".
    pub protocol_version: String,
    /// Security types offered.
    #[serde(default)]
    pub security_types: Vec<VncSecurityType>,
    /// Anyone can connect without a password: the server offered security type "None" and
    /// accepted it when chosen (SecurityResult OK; ServerInit before RFB 3.8). `false`: no
    /// "None" offered. `null`: "None" offered but the connection did not complete (see
    /// `failure_reason` and the probe errors).
    pub no_auth: Option<bool>,
    /// The server's failure reason, if it refused the connection.
    #[serde(default)]
    pub failure_reason: Option<String>,
}

// ---------------------------------------------------------------- SNMP

/// Facts about an SNMP agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnmpFacts {
    /// Communities that were accepted with v1 or v2c (answered a GetRequest).
    #[serde(default)]
    pub communities_accepted: Vec<String>,
    /// Versions that answered: "v1", "v2c", "v3".
    #[serde(default)]
    pub versions: Vec<String>,
    /// sysDescr.0 as returned.
    #[serde(default)]
    pub sys_descr: Option<String>,
    /// sysName.0 as returned.
    #[serde(default)]
    pub sys_name: Option<String>,
    /// sysObjectID.0 as returned.
    #[serde(default)]
    pub sys_object_id: Option<String>,
    /// SNMPv3 engine discovery result.
    #[serde(default)]
    pub engine: Option<SnmpEngine>,
    /// The agent describes a printer: hrDeviceType.1 is hrDevicePrinter or the Printer-MIB
    /// answers prtGeneralPrinterName.1 (asked with v2c only, where a missing object does not
    /// spoil the other answers). `null` when it said neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<bool>,
    /// prtGeneralPrinterName.1 as returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer_name: Option<String>,
}

/// SNMPv3 engine discovery facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnmpEngine {
    /// Engine ID, hex.
    pub engine_id: String,
    /// Enterprise number from the engine ID, when in RFC 3411 format.
    #[serde(default)]
    pub enterprise: Option<u32>,
    /// Engine boots.
    #[serde(default)]
    pub boots: Option<u32>,
    /// Engine time in seconds.
    #[serde(default)]
    pub time: Option<u32>,
}

// ---------------------------------------------------------------- HTTP

/// A product identified from what a web service served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebProduct {
    /// Kind: "ssl-vpn", "router", "nas", "printer", "firewall", "emr", "admin-ui", ...
    pub kind: String,
    /// Vendor, e.g. "Fortinet".
    pub vendor: String,
    /// Product, e.g. "FortiGate SSL-VPN".
    pub product: String,
    /// Version or build, when the device reveals it.
    #[serde(default)]
    pub version: Option<String>,
    /// What it was recognised by (path, header, body marker).
    pub evidence: String,
}

/// Facts about an HTTP service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpFacts {
    /// "http" or "https".
    pub scheme: String,
    /// Status code of the first response.
    pub status: u16,
    /// Server header.
    #[serde(default)]
    pub server: Option<String>,
    /// X-Powered-By header.
    #[serde(default)]
    pub powered_by: Option<String>,
    /// Page title (of the page finally served, after same-host redirects).
    #[serde(default)]
    pub title: Option<String>,
    /// Location of a redirect, if the first response redirected.
    #[serde(default)]
    pub redirect: Option<String>,
    /// A redirect from plain HTTP to HTTPS on the same host.
    #[serde(default)]
    pub redirects_to_https: Option<bool>,
    /// The page served contains a password input.
    #[serde(default)]
    pub login_form: Option<bool>,
    /// HTTP basic/digest authentication challenged (WWW-Authenticate), by scheme.
    #[serde(default)]
    pub auth_schemes: Vec<String>,
    /// Recognised products (SSL-VPN portals, admin UIs).
    #[serde(default)]
    pub products: Vec<WebProduct>,
    /// HTTPS only: a Strict-Transport-Security header with a max-age above 0 came with the
    /// first response or the page served (RFC 6797). `null` over plain HTTP, where browsers
    /// ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts: Option<bool>,
    /// The HSTS max-age in seconds, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts_max_age: Option<u64>,
    /// X-Frame-Options of the page served, e.g. "DENY", "SAMEORIGIN".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_frame_options: Option<String>,
    /// The Content-Security-Policy `frame-ancestors` directive of the page served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_ancestors: Option<String>,
    /// X-Content-Type-Options of the page served, e.g. "nosniff".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_content_type_options: Option<String>,
}

// ---------------------------------------------------------------- DICOM

/// Facts about a DICOM node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DicomFacts {
    /// Calling AE title clinicscan used (made up, so an accept means unknown AEs are accepted).
    pub calling_ae: String,
    /// Called AE title clinicscan used.
    pub called_ae: String,
    /// "accepted", "rejected" or "aborted".
    pub association: String,
    /// Association accepted with a calling AE title the node cannot know.
    pub accepts_unknown_ae: Option<bool>,
    /// For a rejection: result, source and reason as text.
    #[serde(default)]
    pub reject_reason: Option<String>,
    /// Implementation Class UID the node sent.
    #[serde(default)]
    pub implementation_class_uid: Option<String>,
    /// Implementation Version Name the node sent.
    #[serde(default)]
    pub implementation_version: Option<String>,
    /// Verification presentation context accepted.
    #[serde(default)]
    pub verification_accepted: Option<bool>,
    /// C-ECHO status, when sent: 0 is success.
    #[serde(default)]
    pub echo_status: Option<u16>,
    /// Max PDU length the node announced in A-ASSOCIATE-AC (0: unlimited).
    #[serde(default)]
    pub max_pdu_length: Option<u32>,
}

// ---------------------------------------------------------------- databases

/// Facts about a Microsoft SQL Server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MssqlFacts {
    /// Version from PRELOGIN, e.g. "15.0.2000".
    #[serde(default)]
    pub version: Option<String>,
    /// Encryption option the server answered: "off", "on", "not-supported", "required".
    pub encryption: String,
    /// The server forces encryption for every connection.
    pub encryption_forced: Option<bool>,
}

/// Facts about a PostgreSQL server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresFacts {
    /// The server answered SSLRequest with 'S'.
    pub ssl_supported: Option<bool>,
    /// The authentication method pg_hba.conf chose for a StartupMessage as user
    /// `postgres` to database `postgres` from the scanner's address (over TLS when the
    /// server offers it): "trust" (AuthenticationOk: logged in without a password),
    /// "password" (cleartext), "md5", "scram-sha-256", "gss", "sspi". No password is ever
    /// sent; `null` when the server refused the startup (see `startup_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// The SASL mechanisms offered, e.g. ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sasl_mechanisms: Vec<String>,
    /// The StartupMessage went over TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_over_tls: Option<bool>,
    /// The server's error instead of an authentication request, e.g. "no pg_hba.conf entry
    /// for host ...".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_error: Option<String>,
}

/// Facts about a MySQL or MariaDB server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MysqlFacts {
    /// Protocol version from the greeting.
    #[serde(default)]
    pub protocol: Option<u8>,
    /// Server version string.
    #[serde(default)]
    pub version: Option<String>,
    /// CLIENT_SSL capability announced.
    pub tls_supported: Option<bool>,
    /// Default authentication plugin.
    #[serde(default)]
    pub auth_plugin: Option<String>,
    /// The server refused the scanner's address with an error packet.
    #[serde(default)]
    pub host_blocked: Option<bool>,
}

// ---------------------------------------------------------------- VPN

/// A vendor ID payload an IKE responder sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IkeVendorId {
    /// Raw vendor ID, hex.
    pub hex: String,
    /// Known meaning, e.g. "strongSwan", "RFC 3947 NAT-T", "Dead Peer Detection".
    #[serde(default)]
    pub name: Option<String>,
}

/// Facts about an IKE responder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IkeFacts {
    /// Answered an IKEv1 main-mode proposal (true), refused it with a notification
    /// (false), or stayed silent (null).
    pub v1: Option<bool>,
    /// Answered an IKEv2 IKE_SA_INIT (true), refused with a notification (false), silent (null).
    pub v2: Option<bool>,
    /// Accepted an IKEv1 aggressive-mode proposal with a pre-shared key.
    #[serde(default)]
    pub v1_aggressive_psk: Option<bool>,
    /// The IKEv1 transform the responder chose, e.g. "AES-CBC-256/SHA1/MODP2048/PSK".
    #[serde(default)]
    pub v1_transform: Option<String>,
    /// The IKEv2 transforms the responder chose, e.g.
    /// "AES-CBC-256/HMAC-SHA2-256-128/PRF-HMAC-SHA2-256/MODP2048".
    #[serde(default)]
    pub v2_transform: Option<String>,
    /// Weak parameters the responder accepted (DES, 3DES, MD5, DH group 1/2/5).
    #[serde(default)]
    pub weak_parameters: Vec<String>,
    /// Notify types received, e.g. "NO_PROPOSAL_CHOSEN", "INVALID_KE_PAYLOAD".
    #[serde(default)]
    pub notifications: Vec<String>,
    /// Vendor IDs received.
    #[serde(default)]
    pub vendor_ids: Vec<IkeVendorId>,
}

/// Facts about an OpenVPN server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenVpnFacts {
    /// Answered P_CONTROL_HARD_RESET_CLIENT with a server reset (true), or stayed silent
    /// (null: open, filtered, or protected by tls-auth/tls-crypt — cannot be told).
    pub responded: Option<bool>,
    /// The reply's opcode name, e.g. "P_CONTROL_HARD_RESET_SERVER_V2".
    #[serde(default)]
    pub opcode: Option<String>,
}

/// Facts about a PPTP server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PptpFacts {
    /// Start-Control-Connection-Reply result code (1 is success).
    pub result_code: u8,
    /// Host name field.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Vendor field.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Firmware revision.
    #[serde(default)]
    pub firmware: Option<u16>,
    /// Protocol version, e.g. "1.0".
    #[serde(default)]
    pub protocol_version: Option<String>,
}

/// Facts about a UPnP device answering SSDP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpnpFacts {
    /// SERVER header.
    #[serde(default)]
    pub server: Option<String>,
    /// LOCATION header.
    #[serde(default)]
    pub location: Option<String>,
    /// USN header.
    #[serde(default)]
    pub usn: Option<String>,
    /// ST header.
    #[serde(default)]
    pub st: Option<String>,
}
