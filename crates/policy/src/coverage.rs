//! The zone × zone coverage: for each Observation, from its vantage zone, which zones it
//! probed (a host seen there, or a target covering it), what it reached there, and
//! whether the site allows it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use clinicscan_model::{
    CellState, Coverage, CoverageCell, EgressAttempt, EgressKind, EgressPurpose, HostState,
    Observation, PortState, Reached, Transport,
};
use ipnet::IpNet;

use crate::eval::{OQV_TERMINAL, ObsInfo};
use crate::rules::RuleSet;
use crate::site::{Site, ZoneKind};

/// The zone name the matrix gives the site's egress targets when the site has no zone of
/// kind internet.
pub const INTERNET: &str = "internet";

/// A target as the user gave it, as an address range (names are not resolved here).
pub(crate) fn target_range(t: &str) -> Option<(IpAddr, IpAddr)> {
    let t = t.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Some((net.network(), net.broadcast()));
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some((ip, ip));
    }
    let (a, b) = t.split_once('-')?;
    let first: IpAddr = a.trim().parse().ok()?;
    let b = b.trim();
    if let Ok(last) = b.parse::<IpAddr>() {
        return Some((first, last));
    }
    // "192.168.1.10-50": the last octet.
    if let (IpAddr::V4(f), Ok(n)) = (first, b.parse::<u8>()) {
        let o = f.octets();
        return Some((first, IpAddr::from([o[0], o[1], o[2], n])));
    }
    None
}

pub(crate) fn overlaps(range: (IpAddr, IpAddr), net: &IpNet) -> bool {
    let same_family = range.0.is_ipv4() == net.network().is_ipv4();
    same_family && range.0 <= net.broadcast() && net.network() <= range.1
}

/// Whether an Observation probed anything of a set of networks or addresses: a host seen
/// there (up or down), or a target that covers it.
pub(crate) fn probed(obs: &Observation, contains: impl Fn(IpAddr) -> bool, nets: &[IpNet]) -> bool {
    obs.hosts.iter().any(|h| contains(h.address))
        || obs
            .scan
            .options
            .targets
            .iter()
            .filter_map(|t| target_range(t))
            .any(|r| nets.iter().any(|n| overlaps(r, n)))
}

/// Builds the zone × zone matrix: for each Observation, from its vantage zone, which zones
/// it probed, what it reached there, and whether the site allows it.
pub(crate) fn coverage(
    observations: &[Observation],
    infos: &[ObsInfo],
    site: Option<&Site>,
    rules: &RuleSet,
) -> Option<Coverage> {
    let site = site?;
    if site.zones.is_empty() {
        return None;
    }
    let mut zones: Vec<String> = site.zones.iter().map(|z| z.name.clone()).collect();
    // The column of the site's egress targets: its internet zone, else one named
    // "internet" when the site names egress targets.
    let egress_col = match site.zones.iter().position(|z| z.kind == ZoneKind::Internet) {
        Some(i) => Some(i),
        None if !site.egress_targets.is_empty() || !site.egress_names.is_empty() => {
            zones.push(INTERNET.to_string());
            Some(zones.len() - 1)
        }
        None => None,
    };
    let terminals: Vec<(&str, IpAddr)> = site
        .assets
        .iter()
        .filter(|a| a.role.as_deref() == Some(OQV_TERMINAL))
        .filter_map(|a| {
            let addr = a.address?;
            let zone = site.zone_of(addr)?;
            (zone.kind != ZoneKind::Oqv).then_some((zone.name.as_str(), addr))
        })
        .collect();
    // Every cell the matrix shows, not probed until an Observation says otherwise: inside
    // zones towards each other, the internet towards the clinic's public addresses, and
    // each オン資 zone towards the internet (its egress).
    let mut cells: BTreeMap<(usize, usize), CoverageCell> = BTreeMap::new();
    let index = |name: &str| zones.iter().position(|z| z == name);
    let blank = |from: &str, to: &str| CoverageCell {
        from: from.to_string(),
        to: to.to_string(),
        state: CellState::NotProbed,
        observation_ids: Vec::new(),
        ports: Vec::new(),
        hosts_up: 0,
        reached: Vec::new(),
    };
    let outside = |z: &crate::site::Zone| z.public || z.kind == ZoneKind::Internet;
    for (i, f) in site.zones.iter().enumerate() {
        if f.public {
            continue;
        }
        for (j, t) in site.zones.iter().enumerate() {
            let shown = if f.kind == ZoneKind::Internet {
                t.public
            } else {
                !outside(t) && (i != j || terminals.iter().any(|(z, _)| *z == t.name))
            };
            if shown {
                cells.insert((i, j), blank(&f.name, &t.name));
            }
        }
        if let Some(col) = egress_col
            && f.kind == ZoneKind::Oqv
        {
            cells.insert((i, col), blank(&f.name, &zones[col]));
        }
    }
    let remote = |t: Transport, p: u16| {
        rules
            .ports
            .classes_of(t, p)
            .iter()
            .any(|c| c == "remote-access")
    };
    for (obs, info) in observations.iter().zip(infos) {
        let Some(from) = info.vantage_zone.as_deref() else {
            continue;
        };
        let (Some(fi), Some(from_zone)) = (index(from), site.zone(from)) else {
            continue;
        };
        for (ti, to_zone) in site.zones.iter().enumerate() {
            if to_zone.kind == ZoneKind::Internet {
                continue;
            }
            let Some(cell) = cells.get_mut(&(fi, ti)) else {
                continue;
            };
            // Within a zone only its declared terminals are judged.
            let in_cell = |a: IpAddr| {
                to_zone.contains(a) && (fi != ti || terminals.iter().any(|(_, t)| *t == a))
            };
            let nets: Vec<IpNet> = if fi == ti {
                terminals
                    .iter()
                    .filter(|(z, _)| *z == to_zone.name)
                    .map(|(_, a)| IpNet::from(*a))
                    .collect()
            } else {
                to_zone.cidrs.clone()
            };
            if !probed(obs, in_cell, &nets) {
                continue;
            }
            note_probe(cell, obs);
            let terminal = |a: IpAddr| terminals.iter().any(|(_, t)| *t == a);
            for h in obs
                .hosts
                .iter()
                .filter(|h| h.status.state == HostState::Up && in_cell(h.address))
            {
                cell.hosts_up += 1;
                for s in h.services.iter().filter(|s| s.state == PortState::Open) {
                    let oqv = to_zone.kind == ZoneKind::Oqv || terminal(h.address);
                    let listed = if terminal(h.address) && to_zone.kind != ZoneKind::Oqv {
                        site.flows.iter().any(|f| {
                            f.from == from
                                && f.to == to_zone.name
                                && !f.ports.is_empty()
                                && f.ports.iter().any(|p| p.contains(s.transport, s.port))
                        })
                    } else {
                        site.flow_allowed(from, &to_zone.name, s.transport, s.port)
                    };
                    let allowed = listed
                        && from_zone.kind != ZoneKind::Guest
                        && !(oqv && remote(s.transport, s.port));
                    push_reached(cell, h.address, s.transport, s.port, allowed);
                }
            }
        }
        // The オン資 zone towards the internet: what its egress attempts got.
        if let Some(col) = egress_col
            && from_zone.kind == ZoneKind::Oqv
            && let Some(cell) = cells.get_mut(&(fi, col))
        {
            let told: Vec<&EgressAttempt> = info
                .attempts
                .iter()
                .filter(|a| a.purpose == EgressPurpose::Internet && a.reached.is_some())
                .collect();
            if !told.is_empty() {
                note_probe(cell, obs);
                for a in told.iter().filter(|a| a.reached == Some(true)) {
                    let Some(host) = crate::eval::attempt_host(a) else {
                        continue;
                    };
                    let (transport, port) = match a.kind {
                        EgressKind::Tcp => (Transport::Tcp, a.port.unwrap_or(0)),
                        EgressKind::Dns => (Transport::Udp, a.port.unwrap_or(53)),
                    };
                    push_reached(cell, host, transport, port, false);
                }
            }
        }
    }
    for cell in cells.values_mut() {
        if cell.observation_ids.is_empty() {
            continue;
        }
        cell.state = if cell.reached.iter().any(|r| !r.allowed) {
            CellState::Violation
        } else if cell.reached.is_empty() {
            CellState::ProbedClean
        } else {
            CellState::AllowedBySite
        };
    }
    Some(Coverage {
        zones,
        cells: cells.into_values().collect(),
    })
}

fn note_probe(cell: &mut CoverageCell, obs: &Observation) {
    if !cell.observation_ids.contains(&obs.scan.id) {
        cell.observation_ids.push(obs.scan.id.clone());
    }
    let ports = if obs.scan.options.ports.is_empty() {
        "clinic".to_string()
    } else {
        obs.scan.options.ports.clone()
    };
    if !cell.ports.contains(&ports) {
        cell.ports.push(ports);
    }
}

fn push_reached(
    cell: &mut CoverageCell,
    host: IpAddr,
    transport: Transport,
    port: u16,
    allowed: bool,
) {
    if cell
        .reached
        .iter()
        .any(|r| r.host == host && r.port == port && r.transport == transport)
    {
        return;
    }
    cell.reached.push(Reached {
        host,
        transport,
        port,
        allowed,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_as_ranges() {
        let r = |t: &str| target_range(t).map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(
            r("10.0.0.0/24"),
            Some(("10.0.0.0".into(), "10.0.0.255".into()))
        );
        assert_eq!(r("10.0.0.5"), Some(("10.0.0.5".into(), "10.0.0.5".into())));
        assert_eq!(
            r("10.0.0.10-50"),
            Some(("10.0.0.10".into(), "10.0.0.50".into()))
        );
        assert_eq!(
            r("10.0.0.10-10.0.1.2"),
            Some(("10.0.0.10".into(), "10.0.1.2".into()))
        );
        assert_eq!(r("emr.clinic.example"), None);
        let net: IpNet = "10.0.0.128/25".parse().unwrap();
        assert!(overlaps(target_range("10.0.0.0/24").unwrap(), &net));
        assert!(!overlaps(target_range("10.0.1.0/24").unwrap(), &net));
        assert!(!overlaps(target_range("::/0").unwrap(), &net));
    }
}
