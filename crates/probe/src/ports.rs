//! Port lists: the curated clinic list (default), `-p` lists and ranges with `T:` / `U:`
//! sections, `all` (or `-`) for every TCP port, and `top N` (nmap's open-frequency order).
//!
//! UDP is scanned only where the catalogue has a protocol probe for the port: a UDP port
//! without a payload that a service answers can only ever be "open|filtered", which tells
//! a clinic nothing. Asking for such a UDP port is an error that lists the ones available.

use clinicscan_model::Transport;

use crate::catalog::CLINIC_PORTS;
use crate::top_ports::TOP_TCP_PORTS;

/// A port specification that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port specification {spec:?}: {reason}")]
pub struct PortError {
    /// The specification as written.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The ports a scan covers, resolved from a specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPlan {
    /// The specification as written (`clinic` for the default).
    pub spec: String,
    /// TCP ports, in scan order, without duplicates.
    pub tcp: Vec<u16>,
    /// UDP ports (each has a catalogue probe), in scan order, without duplicates.
    pub udp: Vec<u16>,
}

impl PortPlan {
    /// The default: every port of the clinic catalogue, TCP and UDP.
    pub fn clinic() -> Self {
        let pick = |t| {
            CLINIC_PORTS
                .iter()
                .filter(|e| e.transport == t)
                .map(|e| e.port)
                .collect()
        };
        PortPlan {
            spec: "clinic".into(),
            tcp: pick(Transport::Tcp),
            udp: pick(Transport::Udp),
        }
    }

    /// Total number of ports.
    pub fn len(&self) -> usize {
        self.tcp.len() + self.udp.len()
    }

    /// Whether no port is selected.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty()
    }
}

/// UDP ports that have a catalogue probe.
fn udp_with_probe() -> impl Iterator<Item = u16> {
    CLINIC_PORTS
        .iter()
        .filter(|e| e.transport == Transport::Udp && !e.probes.is_empty())
        .map(|e| e.port)
}

/// Parses a port specification.
///
/// - `""`, `clinic`, `default`: the clinic catalogue (TCP and its UDP probes);
/// - `all` or `-`: TCP 1-65535;
/// - `top N` (also `top:N`, `top-N`): the N most common TCP ports;
/// - a list of ports and ranges: `22,80,443`, `1-1024`, `U:161,T:22,80` (`T:` / `U:`
///   switch the transport for the items that follow; TCP by default).
pub fn parse_ports(spec: &str) -> Result<PortPlan, PortError> {
    let err = |reason: String| PortError {
        spec: spec.to_string(),
        reason,
    };
    let s = spec.trim();
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "" | "clinic" | "default" => return Ok(PortPlan::clinic()),
        "all" | "-" => {
            return Ok(PortPlan {
                spec: s.to_string(),
                tcp: (1..=u16::MAX).collect(),
                udp: Vec::new(),
            });
        }
        _ => {}
    }
    if let Some(rest) = lower.strip_prefix("top") {
        let n: usize = rest
            .trim_start_matches([' ', ':', '-', '='])
            .trim()
            .parse()
            .map_err(|_| err("expected `top N` with N a positive number".into()))?;
        if n == 0 {
            return Err(err("top 0 selects no port".into()));
        }
        if n > TOP_TCP_PORTS.len() {
            return Err(err(format!(
                "only {} ports have a known frequency; use `all` for every port",
                TOP_TCP_PORTS.len()
            )));
        }
        return Ok(PortPlan {
            spec: s.to_string(),
            tcp: TOP_TCP_PORTS[..n].to_vec(),
            udp: Vec::new(),
        });
    }

    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    let mut seen_tcp = vec![false; 65_536];
    let mut seen_udp = [false; 65_536];
    let mut transport = Transport::Tcp;
    for raw in s.split(',') {
        let mut item = raw.trim();
        if let Some(rest) = item.strip_prefix("T:").or_else(|| item.strip_prefix("t:")) {
            transport = Transport::Tcp;
            item = rest.trim();
        } else if let Some(rest) = item.strip_prefix("U:").or_else(|| item.strip_prefix("u:")) {
            transport = Transport::Udp;
            item = rest.trim();
        }
        if item.is_empty() {
            return Err(err(format!("empty item in {raw:?}")));
        }
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (port_number(a, spec)?, port_number(b, spec)?),
            None => {
                let p = port_number(item, spec)?;
                (p, p)
            }
        };
        if hi < lo {
            return Err(err(format!("range {item:?} ends before it starts")));
        }
        for p in lo..=hi {
            let i = usize::from(p);
            match transport {
                Transport::Tcp if !seen_tcp[i] => {
                    seen_tcp[i] = true;
                    tcp.push(p);
                }
                Transport::Udp if !seen_udp[i] => {
                    if !udp_with_probe().any(|u| u == p) {
                        let known: Vec<String> = udp_with_probe().map(|u| u.to_string()).collect();
                        return Err(err(format!(
                            "UDP port {p} has no protocol probe; UDP is scanned only on {}",
                            known.join(", ")
                        )));
                    }
                    seen_udp[i] = true;
                    udp.push(p);
                }
                _ => {}
            }
        }
    }
    Ok(PortPlan {
        spec: s.to_string(),
        tcp,
        udp,
    })
}

fn port_number(text: &str, spec: &str) -> Result<u16, PortError> {
    match text.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(PortError {
            spec: spec.to_string(),
            reason: format!("{:?} is not a port number 1-65535", text.trim()),
        }),
        Ok(p) => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_clinic_catalogue() {
        let p = parse_ports("").unwrap();
        assert_eq!(p, PortPlan::clinic());
        assert!(p.tcp.contains(&3389) && p.tcp.contains(&11112) && p.tcp.contains(&9100));
        assert_eq!(p.udp, vec![161, 500, 4500, 1194, 1900]);
    }

    #[test]
    fn lists_ranges_and_sections() {
        let p = parse_ports("22,80,443").unwrap();
        assert_eq!((p.tcp, p.udp), (vec![22, 80, 443], vec![]));
        let p = parse_ports("1-1024").unwrap();
        assert_eq!(p.tcp.len(), 1024);
        assert_eq!((p.tcp[0], p.tcp[1023]), (1, 1024));
        let p = parse_ports("U:161,T:22, 80,u:500,T:22").unwrap();
        assert_eq!(p.tcp, vec![22, 80]);
        assert_eq!(p.udp, vec![161, 500]);
        let p = parse_ports("80,79-81").unwrap();
        assert_eq!(p.tcp, vec![80, 79, 81]);
    }

    #[test]
    fn all_and_top() {
        assert_eq!(parse_ports("all").unwrap().tcp.len(), 65_535);
        assert_eq!(parse_ports("-").unwrap().tcp.len(), 65_535);
        let p = parse_ports("top 10").unwrap();
        assert_eq!(p.tcp, vec![80, 23, 443, 21, 22, 25, 3389, 110, 445, 139]);
        assert_eq!(parse_ports("top:1000").unwrap().tcp.len(), 1000);
        assert!(parse_ports("top 0").is_err());
        assert!(parse_ports("top many").is_err());
    }

    #[test]
    fn errors_name_the_spec() {
        for bad in ["0", "65536", "22,,80", "80-22", "http", "U:53", "T:", "1-"] {
            let e = parse_ports(bad).unwrap_err();
            assert_eq!(e.spec, bad);
        }
        let e = parse_ports("U:53").unwrap_err();
        assert!(e.reason.contains("161, 500, 4500, 1194, 1900"), "{e}");
    }

    #[test]
    fn top_ports_have_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        assert!(TOP_TCP_PORTS.iter().all(|p| *p != 0 && seen.insert(*p)));
        assert!(TOP_TCP_PORTS.len() > 4000);
    }

    /// The embedded order is nmap's: regenerate with `scripts/gen-top-ports.py` if this
    /// fails after an nmap data update.
    #[test]
    fn top_ports_match_nmap_services() {
        let Ok(text) = std::fs::read_to_string("/usr/share/nmap/nmap-services") else {
            eprintln!("skipped: /usr/share/nmap/nmap-services is not installed");
            return;
        };
        let mut best: std::collections::HashMap<u16, f64> = Default::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 3 {
                continue;
            }
            let Some(port) = cols[1].strip_suffix("/tcp") else {
                continue;
            };
            let (Ok(port), Ok(freq)) = (port.parse::<u16>(), cols[2].parse::<f64>()) else {
                continue;
            };
            if freq > 0.0 {
                let e = best.entry(port).or_insert(0.0);
                *e = e.max(freq);
            }
        }
        let mut ports: Vec<u16> = best.keys().copied().collect();
        ports.sort_by(|a, b| best[b].total_cmp(&best[a]).then(a.cmp(b)));
        assert_eq!(ports, TOP_TCP_PORTS);
    }
}
