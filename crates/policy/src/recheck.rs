//! "Not re-checked" is not "resolved": which findings of the previous scan this run could
//! check again, and what the others do to the control verdicts.
//!
//! A finding of the previous scan that this run did not report is resolved only when this
//! run had the input the rule looks at — the host up, the service in a state the rule looks
//! at, the facts the rule needs present, the probes behind them without an error, the rule
//! itself run without failing — and the rule did not fire on it. Anything less is an unknown
//! fact, and an unknown fact never resolves an earlier finding (DESIGN, "Verdicts"): the
//! finding is carried, as it was last confirmed, with the reason.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use clinicscan_model::{
    Assessment, CarriedFinding, ControlStatus, Finding, Host, HostState, Missing, MissingKind,
    NotRechecked, Observation, ProbeErrorKind, Service, Text,
};
use serde_json::Value as Json;

use crate::eval::lookup;
use crate::rules::{Rule, RuleSet, Scope};
use crate::site::Site;

/// The findings of `previous` (confirmed, or themselves carried) that `current` neither
/// reports nor could check again, each with the reason, most severe first.
///
/// `current` must be the assessment of `observations` under the same `site` and `rules`.
/// Pure: the decision rests on the Observations and the rule data alone.
pub fn carry_forward(
    previous: &Assessment,
    current: &Assessment,
    observations: &[Observation],
    site: Option<&Site>,
    rules: &RuleSet,
) -> Vec<CarriedFinding> {
    let reported: HashSet<&str> = current.findings.iter().map(|f| f.key.as_str()).collect();
    // The previous scan's own findings first: a key it confirmed again replaces an older
    // carried copy.
    let mut candidates: BTreeMap<&str, (&Finding, DateTime<Utc>)> = BTreeMap::new();
    for c in &previous.not_rechecked {
        candidates.insert(&c.finding.key, (&c.finding, c.last_confirmed));
    }
    for f in &previous.findings {
        candidates.insert(&f.key, (f, confirmed_at(previous, f)));
    }
    let disabled: BTreeSet<&str> = site
        .map(|s| s.disabled_rules.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut carried: Vec<CarriedFinding> = candidates
        .into_iter()
        .filter(|(key, _)| !reported.contains(key))
        .filter_map(|(_, (finding, last_confirmed))| {
            let rule = rules
                .rule(&finding.rule_id)
                .filter(|r| !disabled.contains(r.id.as_str()));
            let reason = match rule {
                None => Some(NotRechecked::RuleNotRun {
                    rule_id: finding.rule_id.clone(),
                }),
                Some(rule) => recheck(rule, finding, current, observations, site),
            }?;
            Some(CarriedFinding {
                finding: finding.clone(),
                reason,
                last_confirmed,
            })
        })
        .collect();
    carried.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then_with(|| a.finding.key.cmp(&b.finding.key))
    });
    carried
}

/// Sets the Assessment's `not_rechecked` findings and what they mean for its controls: a
/// control that would pass while a finding that evidences it could not be checked again is
/// not verified — neither pass (the problem was last seen present) nor fail (it was not seen
/// this time). A failing control stays failing on its confirmed findings.
pub fn apply_not_rechecked(
    assessment: &mut Assessment,
    carried: Vec<CarriedFinding>,
    rules: &RuleSet,
) {
    let open: Vec<&CarriedFinding> = carried
        .iter()
        .filter(|c| {
            rules
                .rule(&c.finding.rule_id)
                .is_none_or(|r| r.affects_verdict)
        })
        .collect();
    for control in &mut assessment.controls {
        if control.status != ControlStatus::Pass {
            continue;
        }
        let lacks: Vec<Missing> = open
            .iter()
            .filter(|c| c.finding.controls.contains(&control.id))
            .map(|c| not_rechecked_missing(c))
            .collect();
        if !lacks.is_empty() {
            control.status = ControlStatus::NotVerified;
            control.missing.extend(lacks);
        }
    }
    assessment.not_rechecked = carried;
}

/// What a control lacks while one of its findings is not re-checked: the finding, when it
/// was last confirmed, and why this run could not check it.
fn not_rechecked_missing(c: &CarriedFinding) -> Missing {
    let f = &c.finding;
    let when = c.last_confirmed.format("%Y-%m-%d %H:%M UTC");
    let why = c.reason.kind();
    Missing {
        kind: MissingKind::NotRechecked,
        rule_id: Some(f.rule_id.clone()),
        subject: Some(f.key.clone()),
        text: Text::new(
            format!(
                "{when} に確認された検出事項 {} を今回は再確認できませんでした({why})",
                f.key
            ),
            format!(
                "finding {} (last confirmed {when}) could not be checked again this run ({why})",
                f.key
            ),
        ),
    }
}

/// When the scan that confirmed a finding started: its Observations' start, else the
/// assessment's time.
fn confirmed_at(assessment: &Assessment, finding: &Finding) -> DateTime<Utc> {
    let of = |ids: &dyn Fn(&str) -> bool| {
        assessment
            .observations
            .iter()
            .filter(|o| ids(&o.id))
            .map(|o| o.started)
            .min()
    };
    of(&|id| finding.observation_ids.iter().any(|o| o == id))
        .or_else(|| of(&|_| true))
        .unwrap_or(assessment.generated)
}

/// `None` when this run checked the finding's input again (so the finding, not reported, is
/// resolved); else why it could not.
fn recheck(
    rule: &Rule,
    finding: &Finding,
    current: &Assessment,
    observations: &[Observation],
    site: Option<&Site>,
) -> Option<NotRechecked> {
    let prefix = format!("rule {} (", rule.id);
    if let Some(e) = current.rule_errors.iter().find(|e| e.starts_with(&prefix)) {
        return Some(NotRechecked::RuleFailed { detail: e.clone() });
    }
    // A finding keyed by its vantage zone is about what that zone reaches: only a scan
    // from there can check it again.
    let zone = finding.vantage_zone.as_deref().filter(|_| rule.key_vantage);
    let from_zone: Vec<&Observation> = observations
        .iter()
        .filter(|o| zone.is_none_or(|z| vantage_zone(o, site).as_deref() == Some(z)))
        .collect();
    if let (Some(z), true) = (zone, from_zone.is_empty()) {
        return Some(NotRechecked::VantageNotScanned {
            zone: z.to_string(),
        });
    }
    if rule.scope == Scope::Egress {
        // An egress finding is checked again by a new attempt to the same target that
        // told whether it got out.
        let again = from_zone.iter().any(|obs| {
            let kind = vantage_zone(obs, site)
                .and_then(|z| site.and_then(|s| s.zone(&z)).map(|z| z.kind.as_str()));
            crate::eval::egress_attempts(obs, kind, site)
                .iter()
                .any(|a| a.reached.is_some() && crate::eval::attempt_host(a) == Some(finding.host))
        });
        return (!again).then_some(NotRechecked::HostNotSeen);
    }
    let needs = Needs::of(rule);
    let mut best: Option<NotRechecked> = None;
    for obs in from_zone {
        let hosts = obs
            .hosts
            .iter()
            .filter(|h| h.address == finding.host && h.status.state == HostState::Up);
        let mut seen = false;
        for host in hosts {
            seen = true;
            let reason = match rule.scope {
                Scope::Host => needs.missing(host, None),
                Scope::Service | Scope::Egress => service_reason(rule, &needs, host, finding),
            };
            match reason {
                None => return None,
                Some(r) => keep_best(&mut best, r),
            }
        }
        if !seen {
            keep_best(&mut best, NotRechecked::HostNotSeen);
        }
    }
    Some(best.unwrap_or(NotRechecked::HostNotSeen))
}

fn service_reason(
    rule: &Rule,
    needs: &Needs,
    host: &Host,
    finding: &Finding,
) -> Option<NotRechecked> {
    let (Some(port), Some(transport)) = (finding.port, finding.transport) else {
        return Some(NotRechecked::PortNotOpen { state: None });
    };
    let Some(service) = host
        .services
        .iter()
        .find(|s| s.port == port && s.transport == transport)
    else {
        return Some(NotRechecked::PortNotOpen { state: None });
    };
    let state = port_state_name(service);
    if !rule.states.iter().any(|s| s == state) {
        return Some(NotRechecked::PortNotOpen {
            state: Some(service.state),
        });
    }
    needs.missing(host, Some(service))
}

fn port_state_name(s: &Service) -> &'static str {
    use clinicscan_model::PortState;
    match s.state {
        PortState::Open => "open",
        PortState::Closed => "closed",
        PortState::Filtered => "filtered",
        PortState::OpenFiltered => "open-filtered",
    }
}

/// The most telling reason wins: the server's own refusal, then a probe's error, then
/// missing facts, then the port, then the host.
fn keep_best(best: &mut Option<NotRechecked>, candidate: NotRechecked) {
    let rank = |r: &NotRechecked| match r {
        NotRechecked::RefusedScanner { .. } => 5,
        NotRechecked::ProbeFailed { .. } => 4,
        NotRechecked::FactsMissing { .. } => 3,
        NotRechecked::PortNotOpen { .. } => 2,
        _ => 1,
    };
    if best.as_ref().is_none_or(|b| rank(&candidate) > rank(b)) {
        *best = Some(candidate);
    }
}

fn vantage_zone(obs: &Observation, site: Option<&Site>) -> Option<String> {
    match site {
        Some(site) => site.vantage_zone_of(&obs.scan.vantage),
        None => obs.scan.vantage.zone.clone(),
    }
}

/// What a rule needs of the network to be evaluated: the host and service paths it
/// requires, and the probes whose facts it reads. `ctx` paths come from the site and the
/// vantage, not from the network, and are the same for every scan of one scope.
struct Needs<'r> {
    requires: Vec<&'r str>,
    requires_any: Vec<&'r str>,
    /// Probe names ("vnc", "tls"); `None`: any probe (the rule reads `service.protocol` or
    /// `service.software`, which every probe may set).
    probes: Option<BTreeSet<String>>,
}

impl<'r> Needs<'r> {
    fn of(rule: &'r Rule) -> Needs<'r> {
        let network = |p: &&'r str| p.starts_with("host.") || p.starts_with("service.");
        // The facts a quiet result needs (`checks.facts`) count as much as `requires`: a
        // finding is checked again only when the rule could have said "gone".
        let requires: Vec<&str> = rule
            .requires
            .iter()
            .chain(rule.checks.facts.iter())
            .map(String::as_str)
            .filter(network)
            .collect();
        let requires_any: Vec<&str> = rule
            .requires_any
            .iter()
            .map(String::as_str)
            .filter(network)
            .collect();
        let mut probes = Some(BTreeSet::new());
        if let (Some(set), Some(probe)) = (probes.as_mut(), &rule.checks.probe) {
            set.insert(probe.clone());
        }
        let texts = rule
            .requires
            .iter()
            .chain(rule.requires_any.iter())
            .chain(rule.checks.facts.iter())
            .map(String::as_str)
            .chain(std::iter::once(rule.condition.as_str()));
        for text in texts {
            if text.contains("service.protocol") || text.contains("service.software") {
                probes = None;
            }
            if let Some(set) = probes.as_mut() {
                for block in fact_blocks(text) {
                    set.extend(probes_of(&block).iter().map(|p| p.to_string()));
                }
            }
        }
        Needs {
            requires,
            requires_any,
            probes,
        }
    }

    /// Why the rule could not be evaluated on this host (and service), or `None` when it
    /// could.
    fn missing(&self, host: &Host, service: Option<&Service>) -> Option<NotRechecked> {
        if let Some(service) = service
            && let Some(e) = service.probe_errors.iter().find(|e| {
                self.probes
                    .as_ref()
                    .is_none_or(|set| set.contains(e.probe.as_str()))
            })
        {
            return Some(if e.kind == ProbeErrorKind::RefusedByPeer {
                NotRechecked::RefusedScanner {
                    probe: e.probe.clone(),
                    detail: e.detail.clone(),
                }
            } else {
                NotRechecked::ProbeFailed {
                    probe: e.probe.clone(),
                    error: e.kind,
                    detail: e.detail.clone(),
                }
            });
        }
        let host_json = serde_json::to_value(host).unwrap_or(Json::Null);
        let service_json = service.map(|s| serde_json::to_value(s).unwrap_or(Json::Null));
        let present = |path: &str| {
            let (root, rest) = path.split_once('.').unwrap_or((path, ""));
            let base = match root {
                "host" => Some(&host_json),
                "service" => service_json.as_ref(),
                _ => None,
            };
            let value = match base {
                Some(b) if rest.is_empty() => Some(b),
                Some(b) => lookup(b, rest),
                None => None,
            };
            match value {
                None | Some(Json::Null) => false,
                Some(Json::Array(a)) => !a.is_empty(),
                Some(Json::String(s)) => !s.is_empty(),
                Some(_) => true,
            }
        };
        let mut absent: Vec<String> = self
            .requires
            .iter()
            .filter(|p| !present(p))
            .map(|p| p.to_string())
            .collect();
        if !self.requires_any.is_empty() && !self.requires_any.iter().any(|p| present(p)) {
            absent.extend(self.requires_any.iter().map(|p| p.to_string()));
        }
        (!absent.is_empty()).then_some(NotRechecked::FactsMissing { paths: absent })
    }
}

/// The probes that may establish a fact block: most blocks have a probe of their name;
/// TLS facts also come from STARTTLS (smtp) and from RDP's TLS, HTTP facts from the HTTPS
/// probe, UPnP facts from SSDP.
fn probes_of(block: &str) -> Vec<&str> {
    match block {
        "tls" => vec!["tls", "smtp", "rdp"],
        "http" => vec!["http", "https"],
        "upnp" => vec!["ssdp"],
        other => vec![other],
    }
}

/// The fact blocks a text reads: "vnc" for `service.facts.vnc.no_auth`.
fn fact_blocks(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("service.facts.")
        .filter_map(move |(i, m)| {
            let rest = &text[i + m.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (end > 0).then(|| rest[..end].to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_blocks_are_read_from_paths_and_conditions() {
        let blocks: Vec<String> = fact_blocks(
            "has(service.facts.telnet) || service.facts.vnc.no_auth == true && service.facts.",
        )
        .collect();
        assert_eq!(blocks, ["telnet", "vnc"]);
    }
}
