//! nmap XML import: an nmap run (`-oX`) as an Observation.
//!
//! Ports, states, service names and versions, MAC/vendor, host names and the script
//! outputs that map onto clinicscan facts: `ssl-enum-ciphers` and `ssl-cert` (TLS),
//! `rdp-enum-encryption` (RDP), `smb-protocols`, `smb2-security-mode`,
//! `smb-security-mode` and `smb-os-discovery` (SMB), `ftp-anon`, `vnc-info`,
//! `snmp-info`/`snmp-sysdescr` (SNMP) and `ike-version` (IKE). Scan kind and every
//! reason are `imported`. What nmap does not establish stays `null`:
//! - `rdp-enum-encryption` reports SUCCESS for every security layer when a server answers
//!   every request by selecting standard RDP security (hand-checked against xrdp with
//!   `security_layer=rdp`), so when "Native RDP" succeeded the TLS and CredSSP results are
//!   not trusted and left null;
//! - `ssl-cert` gives no serial or SHA-256 fingerprint (left empty), and "self-signed"
//!   means issuer equals subject (nmap does not verify the signature).
//!
//! roxmltree (a maintained, read-only DOM parser) is used: nmap files are small and the
//! mapping walks back and forth between host, port and script elements.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use clinicscan_model::{
    CertificateFacts, CipherSuite, FtpFacts, Host, HostName, HostReason, HostState, HostStatus,
    IkeFacts, IkeVendorId, KeyType, NameSource, Notice, NoticeKind, Observation, PortReason,
    PortState, PortSummary, RdpFacts, ScanKind, ScanMeta, ScanOptions, ScanStats, Service,
    SmbFacts, SnmpEngine, SnmpFacts, Software, SuiteWeakness, TlsFacts, TlsVersion,
    TlsVersionResult, ToolInfo, Transport, Vantage, VncFacts, VncSecurityType,
};
use roxmltree::{Document, Node, ParsingOptions};

/// A problem importing an nmap XML file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// Well-formed, but not an nmap run.
    #[error("not an nmap XML run: {0}")]
    NotNmap(String),
    /// An element is missing a required attribute or has a bad value.
    #[error("bad nmap element <{element}>: {problem}")]
    Element {
        /// The element name.
        element: String,
        /// What is wrong.
        problem: String,
    },
}

/// Largest input accepted (nmap XML of a /16 with scripts stays well below this).
const MAX_INPUT: usize = 256 * 1024 * 1024;

fn el<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(name))
}

fn els<'a, 'i: 'a>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| c.has_tag_name(name))
}

/// `<elem key=K>` text of a script or table node.
fn elem<'a>(n: Node<'a, '_>, key: &str) -> Option<&'a str> {
    n.children()
        .find(|c| c.has_tag_name("elem") && c.attribute("key") == Some(key))
        .map(|c| c.text().unwrap_or(""))
}

fn table<'a, 'i>(n: Node<'a, 'i>, key: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.has_tag_name("table") && c.attribute("key") == Some(key))
}

/// Unkeyed `<elem>` texts of a table.
fn list(n: Node<'_, '_>) -> Vec<String> {
    n.children()
        .filter(|c| c.has_tag_name("elem") && c.attribute("key").is_none())
        .map(|c| c.text().unwrap_or("").to_string())
        .collect()
}

fn unix_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s?.parse::<i64>()
        .ok()
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
}

/// A MAC in the form `Host::mac` holds (lower-case, colon-separated), from `AA:BB:..`,
/// `aa-bb-..` or `aabb.ccdd.eeff`; `None` for anything else. The site file's asset list
/// (policy) normalises the same way, so an imported host matches its asset entry.
fn normalise_mac(s: &str) -> Option<String> {
    if !s
        .chars()
        .all(|c| c.is_ascii_hexdigit() || ":-.".contains(c))
    {
        return None;
    }
    let hex: Vec<char> = s
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 12).then(|| {
        hex.chunks(2)
            .map(|pair| pair.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(":")
    })
}

/// A small stable hash for the Observation id (FNV-1a), so re-importing the same file
/// gives the same id.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Imports an nmap XML run as an Observation.
pub fn import_nmap_xml(xml: &str) -> Result<Observation, ImportError> {
    if xml.len() > MAX_INPUT {
        return Err(ImportError::NotNmap(format!(
            "input of {} bytes is larger than {MAX_INPUT}",
            xml.len()
        )));
    }
    let opts = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    let doc =
        Document::parse_with_options(xml, opts).map_err(|e| ImportError::Xml(e.to_string()))?;
    let run = doc.root_element();
    if !run.has_tag_name("nmaprun") {
        return Err(ImportError::NotNmap(format!(
            "root element is <{}>, not <nmaprun>",
            run.tag_name().name()
        )));
    }
    let args = run.attribute("args").unwrap_or("").to_string();
    let started = unix_time(run.attribute("start"))
        .unwrap_or_else(|| Utc.timestamp_opt(0, 0).single().unwrap_or_default());
    let finished = el(run, "runstats")
        .and_then(|r| el(r, "finished"))
        .and_then(|f| unix_time(f.attribute("time")));
    let community = args
        .split(|c: char| c.is_whitespace() || c == ',')
        .find_map(|a| a.strip_prefix("snmpcommunity="))
        .unwrap_or("public")
        .to_string();

    let mut hosts = Vec::new();
    for h in els(run, "host") {
        hosts.push(import_host(h, started, &community)?);
    }
    let up = hosts
        .iter()
        .filter(|h: &&Host| h.status.state == HostState::Up)
        .count();
    let scan = ScanMeta {
        id: format!("nmap-{}-{:016x}", started.timestamp(), fnv(xml)),
        started,
        finished,
        tool: ToolInfo {
            name: "nmap".into(),
            version: run.attribute("version").unwrap_or("").to_string(),
        },
        vantage: Vantage::default(),
        options: ScanOptions {
            targets: Vec::new(),
            exclude: Vec::new(),
            ports: el(run, "scaninfo")
                .and_then(|s| s.attribute("services"))
                .unwrap_or("")
                .to_string(),
            scan_kind: ScanKind::Imported,
            discovery: !args.split_whitespace().any(|a| a == "-Pn"),
            service_probes: args.contains("-sV")
                || args.contains("--script")
                || args.contains("-A"),
            allow_public: false,
            max_concurrency: 0,
            max_per_host: 0,
        },
        stats: ScanStats {
            addresses_considered: hosts.len() as u64,
            hosts_up: up as u64,
            port_probes: 0,
            elapsed_ms: finished
                .map(|f| (f - started).num_milliseconds().max(0) as u64)
                .unwrap_or(0),
        },
        notices: vec![Notice {
            kind: NoticeKind::Imported,
            message: format!("imported from nmap XML: {args}"),
            subject: None,
        }],
    };
    let mut obs = Observation::new(scan);
    obs.hosts = hosts;
    Ok(obs)
}

fn import_host(
    h: Node<'_, '_>,
    started: DateTime<Utc>,
    community: &str,
) -> Result<Host, ImportError> {
    let bad = |p: String| ImportError::Element {
        element: "host".into(),
        problem: p,
    };
    let mut address: Option<IpAddr> = None;
    let (mut mac, mut vendor) = (None, None);
    for a in els(h, "address") {
        let addr = a.attribute("addr").unwrap_or("");
        match a.attribute("addrtype") {
            Some("ipv4") | Some("ipv6") => {
                address = Some(
                    addr.parse()
                        .map_err(|_| bad(format!("bad address {addr:?}")))?,
                );
            }
            Some("mac") => {
                mac = normalise_mac(addr);
                vendor = a.attribute("vendor").map(str::to_string);
            }
            _ => {}
        }
    }
    let address = address.ok_or_else(|| bad("no ipv4/ipv6 address".into()))?;
    let state = match el(h, "status").and_then(|s| s.attribute("state")) {
        Some("up") => HostState::Up,
        _ => HostState::Down,
    };
    let mut names: Vec<HostName> = el(h, "hostnames")
        .map(|hn| {
            els(hn, "hostname")
                .filter_map(|n| {
                    Some(HostName {
                        name: n.attribute("name")?.to_string(),
                        source: if n.attribute("type") == Some("PTR") {
                            NameSource::Ptr
                        } else {
                            NameSource::Imported
                        },
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let rtt_ms = el(h, "times")
        .and_then(|t| t.attribute("srtt"))
        .and_then(|s| s.parse::<f64>().ok())
        .map(|us| us / 1000.0);

    let mut summary = PortSummary::default();
    let mut services = Vec::new();
    if let Some(ports) = el(h, "ports") {
        for x in els(ports, "extraports") {
            let count: u32 = x
                .attribute("count")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            summary.scanned += count;
            match x.attribute("state") {
                Some("closed") => summary.closed += count,
                Some("filtered") | Some("closed|filtered") | Some("open|filtered") => {
                    summary.filtered += count
                }
                _ => {}
            }
        }
        for p in els(ports, "port") {
            if let Some(s) = import_port(p, started, community)? {
                summary.scanned += 1;
                match s.state {
                    PortState::Open => summary.open += 1,
                    PortState::Closed => summary.closed += 1,
                    PortState::Filtered | PortState::OpenFiltered => summary.filtered += 1,
                }
                services.push(s);
            }
        }
    }
    // Host scripts (SMB) belong to the SMB port: 445, else 139.
    if let Some(hs) = el(h, "hostscript") {
        let smb = smb_facts(hs);
        let os_name = els(hs, "script")
            .find(|s| s.attribute("id") == Some("smb-os-discovery"))
            .and_then(|s| elem(s, "server"))
            .map(|n| n.trim_end_matches("\\x00").to_string())
            .filter(|n| !n.is_empty());
        if let Some(n) = os_name {
            names.push(HostName {
                name: n,
                source: NameSource::Netbios,
            });
        }
        if let Some(smb) = smb {
            let target = services
                .iter()
                .position(|s| s.port == 445 && s.transport == Transport::Tcp)
                .or_else(|| {
                    services
                        .iter()
                        .position(|s| s.port == 139 && s.transport == Transport::Tcp)
                });
            if let Some(i) = target {
                services[i].facts.smb = Some(smb);
            }
        }
    }
    Ok(Host {
        address,
        status: HostStatus {
            state,
            reason: HostReason::Imported,
            detail: el(h, "status")
                .and_then(|s| s.attribute("reason"))
                .map(|r| format!("nmap: {r}")),
        },
        mac,
        vendor,
        names,
        rtt_ms,
        services,
        port_summary: summary,
    })
}

/// nmap service names to clinicscan protocol names (only for probed services).
fn protocol_name(name: &str, tunnel_ssl: bool) -> Option<&'static str> {
    Some(match name {
        "ftp" => "ftp",
        "ssh" => "ssh",
        "telnet" => "telnet",
        "vnc" => "vnc",
        "ms-wbt-server" => "rdp",
        "http" | "http-proxy" | "http-alt" if tunnel_ssl => "https",
        "http" | "http-proxy" | "http-alt" => "http",
        "https" => "https",
        "snmp" => "snmp",
        "ms-sql-s" => "mssql",
        "postgresql" => "postgres",
        "mysql" => "mysql",
        "isakmp" => "ike",
        "openvpn" => "openvpn",
        "pptp" => "pptp",
        "dicom" => "dicom",
        "netbios-ssn" | "microsoft-ds" => "smb",
        _ => return None,
    })
}

fn import_port(
    p: Node<'_, '_>,
    started: DateTime<Utc>,
    community: &str,
) -> Result<Option<Service>, ImportError> {
    let bad = |prob: String| ImportError::Element {
        element: "port".into(),
        problem: prob,
    };
    let transport = match p.attribute("protocol") {
        Some("tcp") => Transport::Tcp,
        Some("udp") => Transport::Udp,
        _ => return Ok(None), // sctp, ip: not modelled
    };
    let port: u16 = p
        .attribute("portid")
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| bad(format!("bad portid {:?}", p.attribute("portid"))))?;
    let state = match el(p, "state").and_then(|s| s.attribute("state")) {
        Some("open") => PortState::Open,
        Some("closed") => PortState::Closed,
        Some("filtered") | Some("closed|filtered") => PortState::Filtered,
        Some("open|filtered") => PortState::OpenFiltered,
        _ => return Ok(None),
    };
    let mut s = Service::port_only(port, transport, state, PortReason::Imported);
    if let Some(svc) = el(p, "service") {
        let name = svc.attribute("name").unwrap_or("");
        let ssl = svc.attribute("tunnel") == Some("ssl");
        if !name.is_empty() {
            s.port_name = Some(name.to_string());
        }
        if svc.attribute("method") == Some("probed") {
            s.protocol = protocol_name(name, ssl).map(str::to_string);
        }
        if let Some(product) = svc.attribute("product") {
            let version = svc.attribute("version").map(str::to_string);
            let extra = svc
                .attribute("extrainfo")
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            s.software = Some(Software {
                vendor: None,
                product: product.to_string(),
                evidence: format!(
                    "nmap service detection: {product}{}{extra}",
                    version
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default()
                ),
                version,
            });
        }
    }
    for script in els(p, "script") {
        let output = script.attribute("output").unwrap_or("");
        if output.trim_start().starts_with("ERROR") {
            // The script failed: it established nothing.
            continue;
        }
        match script.attribute("id").unwrap_or("") {
            "ssl-enum-ciphers" => {
                let t = s.facts.tls.get_or_insert_with(|| tls_base(port));
                ssl_enum_ciphers(script, t);
            }
            "ssl-cert" => {
                let t = s.facts.tls.get_or_insert_with(|| tls_base(port));
                t.certificate = ssl_cert(script, started);
                t.chain = t.certificate.iter().cloned().collect();
            }
            "ftp-anon" => {
                let f = s.facts.ftp.get_or_insert_with(FtpFacts::default);
                if output.starts_with("Anonymous FTP login allowed") {
                    f.anonymous = Some(true);
                }
            }
            "rdp-enum-encryption" => s.facts.rdp = Some(rdp(output)),
            "vnc-info" => s.facts.vnc = Some(vnc(script)),
            "snmp-info" => {
                let f = s.facts.snmp.get_or_insert_with(SnmpFacts::default);
                f.engine = Some(SnmpEngine {
                    engine_id: elem(script, "engineIDData").unwrap_or("").to_string(),
                    enterprise: elem(script, "enterprise").and_then(|e| e.parse().ok()),
                    boots: elem(script, "snmpEngineBoots").and_then(|e| e.parse().ok()),
                    time: elem(script, "snmpEngineTime")
                        .and_then(|e| e.trim_end_matches('s').parse().ok()),
                });
                if !f.versions.iter().any(|v| v == "v3") {
                    f.versions.push("v3".into());
                }
            }
            "snmp-sysdescr" if !output.is_empty() => {
                // The script queried sysDescr with the community (default "public").
                let f = s.facts.snmp.get_or_insert_with(SnmpFacts::default);
                f.sys_descr = output.lines().next().map(|l| l.trim().to_string());
                if !f.communities_accepted.iter().any(|c| c == community) {
                    f.communities_accepted.push(community.to_string());
                }
                if !f.versions.iter().any(|v| v == "v1") {
                    f.versions.insert(0, "v1".into());
                }
            }
            "ike-version" => s.facts.ike = Some(ike(script)),
            _ => {}
        }
    }
    Ok(Some(s))
}

fn tls_base(port: u16) -> TlsFacts {
    TlsFacts {
        via: if port == 3389 { "rdp" } else { "direct" }.into(),
        ..TlsFacts::default()
    }
}

fn tls_version(key: &str) -> Option<TlsVersion> {
    Some(match key {
        "SSLv2" => TlsVersion::Ssl2,
        "SSLv3" => TlsVersion::Ssl3,
        "TLSv1.0" => TlsVersion::Tls10,
        "TLSv1.1" => TlsVersion::Tls11,
        "TLSv1.2" => TlsVersion::Tls12,
        "TLSv1.3" => TlsVersion::Tls13,
        _ => return None,
    })
}

/// Weaknesses of a suite, from its IANA name.
fn suite_weaknesses(name: &str) -> Vec<SuiteWeakness> {
    let n = name.to_ascii_uppercase();
    let mut w = Vec::new();
    if n.contains("_NULL_") || n.ends_with("_NULL") || n.contains("WITH_NULL") {
        w.push(SuiteWeakness::Null);
    }
    if n.contains("EXPORT") {
        w.push(SuiteWeakness::Export);
    }
    if n.contains("_ANON_") || n.contains("_anon_") {
        w.push(SuiteWeakness::Anonymous);
    }
    if n.contains("RC4") {
        w.push(SuiteWeakness::Rc4);
    }
    if n.contains("DES") || n.contains("IDEA") || n.contains("RC2") {
        w.push(SuiteWeakness::Des64BitBlock);
    }
    if n.contains("_CBC_SHA") && !n.contains("_CBC_SHA256") && !n.contains("_CBC_SHA384") {
        w.push(SuiteWeakness::CbcSha1);
    }
    if n.starts_with("TLS_RSA_") || n.starts_with("SSL_RSA_") {
        w.push(SuiteWeakness::NoForwardSecrecy);
    }
    if n.ends_with("_MD5") {
        w.push(SuiteWeakness::Md5);
    }
    w
}

fn ssl_enum_ciphers(script: Node<'_, '_>, t: &mut TlsFacts) {
    let order = ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
    for key in order {
        let Some(version) = tls_version(key) else {
            continue;
        };
        let found = table(script, key);
        let suites: Vec<CipherSuite> = found
            .and_then(|v| table(v, "ciphers"))
            .map(|c| {
                els(c, "table")
                    .filter_map(|s| elem(s, "name"))
                    .map(|name| CipherSuite {
                        id: 0,
                        name: name.to_string(),
                        weaknesses: suite_weaknesses(name),
                    })
                    .collect()
            })
            .unwrap_or_default();
        // ssl-enum-ciphers tries SSLv3..TLSv1.3 and lists only what was accepted.
        t.versions.push(TlsVersionResult {
            version,
            accepted: Some(found.is_some()),
            suites,
        });
    }
    t.accepted_versions = t
        .versions
        .iter()
        .filter(|v| v.accepted == Some(true))
        .map(|v| v.version)
        .collect();
    let mut weak = Vec::new();
    let mut weaknesses: Vec<SuiteWeakness> = Vec::new();
    for s in t.versions.iter().flat_map(|v| v.suites.iter()) {
        if !s.weaknesses.is_empty() && !weak.contains(&s.name) {
            weak.push(s.name.clone());
        }
        for w in &s.weaknesses {
            if !weaknesses.contains(w) {
                weaknesses.push(*w);
            }
        }
    }
    weaknesses.sort();
    t.weak_suites = weak;
    t.weaknesses = weaknesses;
}

fn dn(n: Option<Node<'_, '_>>) -> String {
    let Some(n) = n else {
        return String::new();
    };
    let short = |k: &str| match k {
        "commonName" => "CN".to_string(),
        "organizationName" => "O".to_string(),
        "organizationalUnitName" => "OU".to_string(),
        "countryName" => "C".to_string(),
        "stateOrProvinceName" => "ST".to_string(),
        "localityName" => "L".to_string(),
        other => other.to_string(),
    };
    n.children()
        .filter(|c| c.has_tag_name("elem"))
        .map(|c| {
            format!(
                "{}={}",
                short(c.attribute("key").unwrap_or("")),
                c.text().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
        .or_else(|| {
            DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

fn ssl_cert(script: Node<'_, '_>, started: DateTime<Utc>) -> Option<CertificateFacts> {
    let validity = table(script, "validity")?;
    let not_before = parse_time(elem(validity, "notBefore")?)?;
    let not_after = parse_time(elem(validity, "notAfter")?)?;
    let subject = dn(table(script, "subject"));
    let issuer = dn(table(script, "issuer"));
    let pubkey = table(script, "pubkey");
    let key_type = match pubkey.and_then(|p| elem(p, "type")).unwrap_or("") {
        "rsa" => KeyType::Rsa,
        "ec" => KeyType::Ec,
        "dsa" => KeyType::Dsa,
        "ed25519" => KeyType::Ed25519,
        "ed448" => KeyType::Ed448,
        _ => KeyType::Other,
    };
    let key_bits = pubkey
        .and_then(|p| elem(p, "bits"))
        .and_then(|b| b.parse().ok())
        .unwrap_or(0);
    let sig = elem(script, "sig_algo").unwrap_or("").to_string();
    let sig_l = sig.to_ascii_lowercase();
    let sans = table(script, "extensions")
        .map(|ext| {
            els(ext, "table")
                .filter(|t| elem(*t, "name") == Some("X509v3 Subject Alternative Name"))
                .filter_map(|t| elem(t, "value"))
                .flat_map(|v| {
                    v.split(',')
                        .map(|x| x.trim().to_string())
                        .collect::<Vec<_>>()
                })
                .map(|x| {
                    x.strip_prefix("DNS:")
                        .or_else(|| x.strip_prefix("IP Address:"))
                        .unwrap_or(&x)
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    // Whole days, rounded towards minus infinity (negative once expired).
    let days_left = (not_after - started).num_seconds().div_euclid(86_400);
    Some(CertificateFacts {
        self_signed: !subject.is_empty() && subject == issuer,
        subject,
        issuer,
        sans,
        serial: String::new(),
        not_before: not_before.to_rfc3339(),
        not_after: not_after.to_rfc3339(),
        days_left,
        expired: not_after < started,
        not_yet_valid: not_before > started,
        key_type,
        key_bits,
        weak_signature: sig_l.contains("sha1") || sig_l.contains("md5"),
        signature_algorithm: sig,
        sha256: String::new(),
    })
}

fn rdp(output: &str) -> RdpFacts {
    let result = |label: &str| -> Option<bool> {
        output.lines().map(str::trim).find_map(|l| {
            let rest = l.strip_prefix(label)?.strip_prefix(':')?.trim();
            match rest {
                "SUCCESS" => Some(true),
                "FAILED" => Some(false),
                _ => None,
            }
        })
    };
    let native = result("Native RDP");
    let mut f = RdpFacts {
        standard_rdp: native,
        ..RdpFacts::default()
    };
    if native == Some(true) {
        // A client can connect without NLA. nmap's other results are not trustworthy
        // here (see the module docs), so they stay unknown.
        f.nla_required = Some(false);
    } else {
        f.tls = result("SSL");
        f.credssp = result("CredSSP (NLA)");
        f.credssp_early_auth = result("CredSSP with Early User Auth");
        f.nla_required = match (native, f.tls, f.credssp) {
            (_, Some(true), _) => Some(false),
            (Some(false), Some(false), Some(true)) => Some(true),
            _ => None,
        };
    }
    f
}

fn vnc(script: Node<'_, '_>) -> VncFacts {
    let types: Vec<VncSecurityType> = table(script, "Security types")
        .map(|t| {
            els(t, "table")
                .filter_map(|x| {
                    Some(VncSecurityType {
                        code: elem(x, "type")?.parse().ok()?,
                        name: elem(x, "name").unwrap_or("").to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    VncFacts {
        protocol_version: elem(script, "Protocol version").unwrap_or("").to_string(),
        no_auth: if types.is_empty() {
            None
        } else {
            Some(types.iter().any(|t| t.code == 1))
        },
        security_types: types,
        failure_reason: None,
    }
}

fn smb_facts(hs: Node<'_, '_>) -> Option<SmbFacts> {
    let script = |id: &str| els(hs, "script").find(|s| s.attribute("id") == Some(id));
    let mut f = SmbFacts::default();
    let mut any = false;
    if let Some(p) = script("smb-protocols") {
        any = true;
        let dialects = table(p, "dialects").map(list).unwrap_or_default();
        f.smb1 = Some(dialects.iter().any(|d| d.starts_with("NT LM 0.12")));
        f.dialects = dialects
            .iter()
            .filter(|d| !d.starts_with("NT LM"))
            .map(|d| {
                let digits: String = d.chars().filter(|c| c.is_ascii_digit()).collect();
                match digits.as_str() {
                    "202" => "2.0.2".to_string(),
                    "210" => "2.1".to_string(),
                    "300" => "3.0".to_string(),
                    "302" => "3.0.2".to_string(),
                    "311" => "3.1.1".to_string(),
                    _ => d.clone(),
                }
            })
            .collect();
        f.max_dialect = f.dialects.last().cloned();
    }
    if let Some(m) = script("smb2-security-mode") {
        any = true;
        let texts: Vec<String> = m
            .children()
            .filter(|c| c.has_tag_name("table"))
            .flat_map(list)
            .collect();
        if let Some(t) = texts.first() {
            let t = t.to_ascii_lowercase();
            if t.contains("enabled and required") {
                (f.signing_enabled, f.signing_required) = (Some(true), Some(true));
            } else if t.contains("enabled but not required") {
                (f.signing_enabled, f.signing_required) = (Some(true), Some(false));
            } else if t.contains("disabled") {
                (f.signing_enabled, f.signing_required) = (Some(false), Some(false));
            }
        }
    } else if let Some(m) = script("smb-security-mode") {
        any = true;
        match elem(m, "message_signing").unwrap_or("") {
            s if s.starts_with("required") => {
                (f.signing_enabled, f.signing_required) = (Some(true), Some(true))
            }
            s if s.starts_with("supported") => {
                (f.signing_enabled, f.signing_required) = (Some(true), Some(false))
            }
            s if s.starts_with("disabled") => {
                (f.signing_enabled, f.signing_required) = (Some(false), Some(false))
            }
            _ => {}
        }
    }
    if let Some(o) = script("smb-os-discovery") {
        any = true;
        f.native_os = elem(o, "os").map(str::to_string);
    }
    any.then_some(f)
}

fn ike(script: Node<'_, '_>) -> IkeFacts {
    let mut vendor_ids = Vec::new();
    if let Some(v) = elem(script, "vendor_id") {
        vendor_ids.push(IkeVendorId {
            hex: String::new(),
            name: Some(v.to_string()),
        });
    }
    if let Some(a) = table(script, "attributes") {
        for name in list(a) {
            vendor_ids.push(IkeVendorId {
                hex: String::new(),
                name: Some(name),
            });
        }
    }
    IkeFacts {
        // ike-version speaks IKEv1: an answer means IKEv1 answered.
        v1: Some(true),
        vendor_ids,
        ..IkeFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weaknesses_from_suite_names() {
        use SuiteWeakness::*;
        assert_eq!(
            suite_weaknesses("TLS_RSA_WITH_AES_128_CBC_SHA"),
            vec![CbcSha1, NoForwardSecrecy]
        );
        assert_eq!(
            suite_weaknesses("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            vec![]
        );
        assert_eq!(
            suite_weaknesses("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
            vec![]
        );
        assert_eq!(
            suite_weaknesses("TLS_RSA_WITH_RC4_128_MD5"),
            vec![Rc4, NoForwardSecrecy, Md5]
        );
        assert_eq!(
            suite_weaknesses("TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"),
            vec![Anonymous, Des64BitBlock, CbcSha1]
        );
        assert_eq!(
            suite_weaknesses("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
            vec![Export, Des64BitBlock, CbcSha1, NoForwardSecrecy]
        );
    }

    #[test]
    fn macs_take_the_observation_form() {
        assert_eq!(
            normalise_mac("52:54:00:AB:CD:EF").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
        assert_eq!(
            normalise_mac("52-54-00-ab-cd-ef").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
        assert_eq!(
            normalise_mac("5254.00ab.cdef").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
        assert_eq!(normalise_mac("52:54:00:ab:cd"), None);
        assert_eq!(normalise_mac("52:54:00:ab:cd:ef:01"), None);
        assert_eq!(normalise_mac("52 54 00 ab cd ef"), None);
        assert_eq!(normalise_mac(""), None);
    }

    #[test]
    fn rdp_mapping() {
        let xrdp = "\n  Security layer\n    CredSSP (NLA): SUCCESS\n    Native RDP: SUCCESS\n    SSL: SUCCESS\n";
        let f = rdp(xrdp);
        assert_eq!(
            (f.standard_rdp, f.nla_required, f.credssp, f.tls),
            (Some(true), Some(false), None, None)
        );
        let win = "\n  Security layer\n    CredSSP (NLA): SUCCESS\n    CredSSP with Early User Auth: SUCCESS\n    Native RDP: FAILED\n    RDSTLS: FAILED\n    SSL: FAILED\n";
        let f = rdp(win);
        assert_eq!(
            (
                f.standard_rdp,
                f.nla_required,
                f.credssp,
                f.tls,
                f.credssp_early_auth
            ),
            (Some(false), Some(true), Some(true), Some(false), Some(true))
        );
    }
}
