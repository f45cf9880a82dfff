//! Evaluation: Observations + site + rules -> Assessment, and the reachability matrix.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Value};
use chrono::{DateTime, Utc};
use clinicscan_model::{
    ASSESSMENT_SCHEMA, Assessment, ControlResult, ControlStatus, Evidence, Finding, Host,
    HostState, Lang, Observation, ObservationRef, PortState, Service, Severity, SeverityCounts,
    Text, Transport,
};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::catalogue::ScanEvidence;
use crate::rules::{Rule, RuleSet, Scope};
use crate::site::{Site, ZoneKind};
use crate::version::compare_versions;

/// Options of an assessment.
#[derive(Debug, Clone)]
pub struct AssessOptions {
    /// Catalogue editions to report; `None`: every edition marked default.
    pub editions: Option<Vec<String>>,
    /// Tool version recorded in the Assessment.
    pub tool_version: String,
    /// Time recorded as `generated`.
    pub now: DateTime<Utc>,
}

impl Default for AssessOptions {
    fn default() -> Self {
        AssessOptions {
            editions: None,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            now: Utc::now(),
        }
    }
}

/// Converts JSON to a CEL value. Integers stay `int` so `service.port == 3389` works.
pub(crate) fn to_cel(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Json::Object(o) => {
            let m: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(m) })
        }
    }
}

/// Looks up a dotted path ("service.facts.rdp.nla_required") in the input.
pub(crate) fn lookup<'a>(input: &'a Json, path: &str) -> Option<&'a Json> {
    let mut cur = input;
    for seg in path.split('.') {
        cur = match cur {
            Json::Object(o) => o.get(seg)?,
            Json::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// One rule input: the `host`, `service` and `ctx` JSON, without copying them together.
struct Input<'a> {
    host: &'a Json,
    service: Option<&'a Json>,
    ctx: &'a Json,
}

impl Input<'_> {
    /// Looks up a path whose first segment names the variable.
    fn get(&self, path: &str) -> Option<&Json> {
        let (root, rest) = match path.split_once('.') {
            Some((r, rest)) => (r, Some(rest)),
            None => (path, None),
        };
        let base = match root {
            "host" => self.host,
            "service" => self.service?,
            "ctx" => self.ctx,
            _ => return None,
        };
        match rest {
            Some(rest) => lookup(base, rest),
            None => Some(base),
        }
    }
}

/// Present: the path exists and is not null, an empty list or an empty string.
fn present(input: &Input<'_>, path: &str) -> bool {
    match input.get(path) {
        None | Some(Json::Null) => false,
        Some(Json::Array(a)) => !a.is_empty(),
        Some(Json::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// Whether a rule applies to an input: every `requires` path present, and at least one
/// `requires_any` path when that list is not empty.
fn applies(rule: &Rule, input: &Input<'_>) -> bool {
    rule.requires.iter().all(|p| present(input, p))
        && (rule.requires_any.is_empty() || rule.requires_any.iter().any(|p| present(input, p)))
}

fn show(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => "null".into(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Fills `{path}` placeholders from the input; a missing or null value reads as
/// "unknown" in the text's language (evidence keeps the literal `null`).
fn interpolate(text: &str, input: &Input<'_>, lang: Lang) -> String {
    let unknown = match lang {
        Lang::Ja => "不明",
        Lang::En => "unknown",
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if after[..end].starts_with(['h', 's', 'c']) && !after[..end].contains(' ') =>
            {
                match input.get(&after[..end]) {
                    None | Some(Json::Null) => out.push_str(unknown),
                    v => out.push_str(&show(v)),
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A CEL root context with clinicscan's helper functions.
pub(crate) fn root_context(rules: &RuleSet) -> Context<'static, 'static> {
    let mut ctx = Context::with_env(rules.env.clone());
    // Neither name is a stdlib overload, so these cannot conflict.
    let _ = ctx.add_function("version_cmp", |a: Arc<String>, b: Arc<String>| -> i64 {
        compare_versions(&a, &b) as i64
    });
    let _ = ctx.add_function("version_lt", |a: Arc<String>, b: Arc<String>| -> bool {
        compare_versions(&a, &b) == std::cmp::Ordering::Less
    });
    ctx
}

/// Where an Observation ran from: resolved against the site, else as it declares.
fn vantage_zone(obs: &Observation, site: Option<&Site>) -> Option<String> {
    match site {
        Some(site) => site.vantage_zone_of(&obs.scan.vantage),
        None => obs.scan.vantage.zone.clone(),
    }
}

fn zone_kind(site: Option<&Site>, zone: Option<&str>) -> Option<&'static str> {
    let zone = zone?;
    Some(match site.and_then(|s| s.zone(zone)) {
        Some(z) => z.kind.as_str(),
        None => match zone {
            "general" => ZoneKind::General.as_str(),
            "clinical" => ZoneKind::Clinical.as_str(),
            "oqv" => ZoneKind::Oqv.as_str(),
            "medical-devices" => ZoneKind::MedicalDevices.as_str(),
            "guest" => ZoneKind::Guest.as_str(),
            "edge" => ZoneKind::Edge.as_str(),
            _ => ZoneKind::Custom.as_str(),
        },
    })
}

fn state_name(s: PortState) -> &'static str {
    match s {
        PortState::Open => "open",
        PortState::Closed => "closed",
        PortState::Filtered => "filtered",
        PortState::OpenFiltered => "open-filtered",
    }
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    }
}

struct HostCtx {
    vantage_zone: Option<String>,
    vantage_kind: Option<&'static str>,
    host_zone: Option<String>,
    host_kind: Option<&'static str>,
    assets_listed: bool,
    known_asset: Option<bool>,
    egress_target: bool,
    observation_id: String,
}

fn host_ctx_json(h: &HostCtx) -> serde_json::Map<String, Json> {
    let mut m = serde_json::Map::new();
    m.insert("vantage_zone".into(), json!(h.vantage_zone));
    m.insert("vantage_zone_kind".into(), json!(h.vantage_kind));
    m.insert("host_zone".into(), json!(h.host_zone));
    m.insert("host_zone_kind".into(), json!(h.host_kind));
    m.insert("assets_listed".into(), json!(h.assets_listed));
    m.insert("known_asset".into(), json!(h.known_asset));
    m.insert("egress_target".into(), json!(h.egress_target));
    m.insert("observation_id".into(), json!(h.observation_id));
    m
}

fn kev_matches(rules: &RuleSet, svc: &Service) -> Vec<Json> {
    let mut out = Vec::new();
    let mut probe = |vendor: Option<&str>, product: &str, version: Option<&str>| {
        if let Some(v) = version {
            for m in rules.kev.lookup(vendor, product, v) {
                if let Ok(j) = serde_json::to_value(&m)
                    && !out.contains(&j)
                {
                    out.push(j);
                }
            }
        }
    };
    if let Some(sw) = &svc.software {
        probe(sw.vendor.as_deref(), &sw.product, sw.version.as_deref());
    }
    if let Some(http) = &svc.facts.http {
        for p in &http.products {
            probe(Some(&p.vendor), &p.product, p.version.as_deref());
        }
    }
    out
}

/// "CVE-2022-42475 (fixed in 7.2.3), CVE-… (no fix in branch)" for descriptions.
fn kev_summary(matches: &[Json]) -> String {
    matches
        .iter()
        .map(|m| {
            let cve = m["cve"].as_str().unwrap_or("?");
            match m["fixed"].as_str() {
                Some(f) => format!("{cve} (fixed in {f})"),
                None => format!("{cve} (no fix in branch)"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

struct RuleStats {
    applied: bool,
    errors: u32,
    first_error: Option<String>,
}

/// Assesses Observations against a site and rules with default options.
pub fn assess(observations: &[Observation], site: Option<&Site>, rules: &RuleSet) -> Assessment {
    assess_with(observations, site, rules, &AssessOptions::default())
}

/// Assesses Observations against a site and rules.
///
/// Every rule runs over every live host (host rules) or every service in the rule's
/// port states (service rules) of every Observation. A rule that errors on an input is
/// reported in `rule_errors` (with a count and the first failure), never dropped.
pub fn assess_with(
    observations: &[Observation],
    site: Option<&Site>,
    rules: &RuleSet,
    opts: &AssessOptions,
) -> Assessment {
    let disabled: BTreeSet<&str> = site
        .map(|s| s.disabled_rules.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut rule_errors = Vec::new();
    for id in &disabled {
        if rules.rule(id).is_none() {
            rule_errors.push(format!("site disables unknown rule {id:?}"));
        }
    }
    let active: Vec<&Rule> = rules
        .rules
        .iter()
        .filter(|r| !disabled.contains(r.id.as_str()))
        .collect();
    let mut stats: Vec<RuleStats> = active
        .iter()
        .map(|_| RuleStats {
            applied: false,
            errors: 0,
            first_error: None,
        })
        .collect();

    // Hosts presenting the same leaf certificate (cloned configurations).
    let mut cert_hosts: HashMap<&str, BTreeSet<IpAddr>> = HashMap::new();
    for obs in observations {
        for h in &obs.hosts {
            for s in &h.services {
                if let Some(c) = s.facts.tls.as_ref().and_then(|t| t.certificate.as_ref())
                    && !c.sha256.is_empty()
                {
                    cert_hosts.entry(&c.sha256).or_default().insert(h.address);
                }
            }
        }
    }

    let root = root_context(rules);
    let mut findings: Vec<Finding> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();

    for obs in observations {
        let vz = vantage_zone(obs, site);
        let vkind = zone_kind(site, vz.as_deref());
        for host in obs.hosts.iter().filter(|h| h.status.state == HostState::Up) {
            let hz = site
                .and_then(|s| s.zone_of(host.address))
                .map(|z| z.name.clone());
            let hc = HostCtx {
                vantage_zone: vz.clone(),
                vantage_kind: vkind,
                host_kind: zone_kind(site, hz.as_deref()),
                host_zone: hz,
                assets_listed: site.is_some_and(|s| !s.assets.is_empty()),
                known_asset: site
                    .filter(|s| !s.assets.is_empty())
                    .map(|s| s.is_known_asset(host.address, host.mac.as_deref())),
                egress_target: site.is_some_and(|s| s.is_egress_target(host.address)),
                observation_id: obs.scan.id.clone(),
            };
            let host_json = serde_json::to_value(host).unwrap_or(Json::Null);
            let host_cel = to_cel(&host_json);
            let mut hctx = host_ctx_json(&hc);
            hctx.insert("flow_allowed".into(), Json::Null);
            hctx.insert("kev".into(), json!([]));
            hctx.insert("kev_summary".into(), json!(""));
            hctx.insert("port_classes".into(), json!([]));
            hctx.insert("same_cert_hosts".into(), json!(0));
            let hctx = Json::Object(hctx);
            let hctx_cel = to_cel(&hctx);
            let host_input = Input {
                host: &host_json,
                service: None,
                ctx: &hctx,
            };

            // One scope per host: binding converts the values, so do it once.
            let mut c = root.new_inner_scope();
            c.add_variable_from_value("host", host_cel.clone());
            c.add_variable_from_value("ctx", hctx_cel);
            for (ri, rule) in active
                .iter()
                .enumerate()
                .filter(|(_, r)| r.scope == Scope::Host)
            {
                if !applies(rule, &host_input) {
                    continue;
                }
                stats[ri].applied = true;
                let subject = host.address.to_string();
                match run(rule, &c) {
                    Ok(true) => emit(
                        &mut findings,
                        &mut index,
                        rule,
                        host,
                        None,
                        &hc,
                        &host_input,
                    ),
                    Ok(false) => {}
                    Err(e) => record_error(&mut stats[ri], &subject, e),
                }
            }

            for svc in &host.services {
                let state = state_name(svc.state);
                let svc_json = serde_json::to_value(svc).unwrap_or(Json::Null);
                let mut sctx = host_ctx_json(&hc);
                let flow = match (site, hc.vantage_zone.as_deref(), hc.host_zone.as_deref()) {
                    (Some(s), Some(v), Some(h)) => {
                        json!(s.flow_allowed(v, h, svc.transport, svc.port))
                    }
                    _ => Json::Null,
                };
                sctx.insert("flow_allowed".into(), flow);
                let kev = kev_matches(rules, svc);
                sctx.insert("kev_summary".into(), json!(kev_summary(&kev)));
                sctx.insert("kev".into(), Json::Array(kev));
                sctx.insert(
                    "port_classes".into(),
                    json!(rules.ports.classes_of(svc.transport, svc.port)),
                );
                let same = svc
                    .facts
                    .tls
                    .as_ref()
                    .and_then(|t| t.certificate.as_ref())
                    .and_then(|c| cert_hosts.get(c.sha256.as_str()))
                    .map_or(0, |s| s.len());
                sctx.insert("same_cert_hosts".into(), json!(same));
                let sctx = Json::Object(sctx);
                let input = Input {
                    host: &host_json,
                    service: Some(&svc_json),
                    ctx: &sctx,
                };
                // One scope per service, bound lazily (most services match few rules).
                let mut scope: Option<Context<'_, '_>> = None;
                for (ri, rule) in active
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.scope == Scope::Service)
                {
                    if !rule.states.iter().any(|s| s == state) || !applies(rule, &input) {
                        continue;
                    }
                    stats[ri].applied = true;
                    let c = scope.get_or_insert_with(|| {
                        let mut c = root.new_inner_scope();
                        c.add_variable_from_value("host", host_cel.clone());
                        c.add_variable_from_value("service", to_cel(&svc_json));
                        c.add_variable_from_value("ctx", to_cel(&sctx));
                        c
                    });
                    let subject = format!(
                        "{} {}/{}",
                        host.address,
                        transport_name(svc.transport),
                        svc.port
                    );
                    match run(rule, c) {
                        Ok(true) => emit(
                            &mut findings,
                            &mut index,
                            rule,
                            host,
                            Some(svc),
                            &hc,
                            &input,
                        ),
                        Ok(false) => {}
                        Err(e) => record_error(&mut stats[ri], &subject, e),
                    }
                }
            }
        }
    }

    for (rule, st) in active.iter().zip(stats.iter()) {
        if st.errors > 0 {
            rule_errors.push(format!(
                "rule {} ({}): failed on {} input(s); first: {}",
                rule.id,
                rule.file,
                st.errors,
                st.first_error.as_deref().unwrap_or("")
            ));
        }
    }

    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.host.cmp(&b.host))
            .then(a.transport.cmp(&b.transport))
            .then(a.port.cmp(&b.port))
            .then(a.rule_id.cmp(&b.rule_id))
            .then(a.key.cmp(&b.key))
    });
    let mut counts = SeverityCounts::default();
    for f in &findings {
        counts.add(f.severity);
    }

    let editions: Vec<String> = match &opts.editions {
        Some(e) => e.clone(),
        None => rules
            .catalogue
            .editions()
            .iter()
            .filter(|e| e.default)
            .map(|e| e.key.clone())
            .collect(),
    };
    let verdict_rules: BTreeSet<&str> = active
        .iter()
        .filter(|r| r.affects_verdict)
        .map(|r| r.id.as_str())
        .collect();
    let controls = rules
        .catalogue
        .controls()
        .iter()
        .filter(|c| editions.contains(&c.edition))
        .map(|c| {
            let rule_ids: Vec<String> = active
                .iter()
                .filter(|r| r.controls.contains(&c.id))
                .map(|r| r.id.clone())
                .collect();
            let applied = active
                .iter()
                .zip(stats.iter())
                .any(|(r, s)| s.applied && r.affects_verdict && r.controls.contains(&c.id));
            let mine: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.controls.contains(&c.id))
                .collect();
            let counted: Vec<&&Finding> = mine
                .iter()
                .filter(|f| verdict_rules.contains(f.rule_id.as_str()))
                .collect();
            let status = if c.scan == ScanEvidence::None {
                ControlStatus::NotAssessableByScan
            } else if counted.iter().any(|f| f.severity >= Severity::Medium) {
                ControlStatus::Fail
            } else if !counted.is_empty() {
                ControlStatus::Partial
            } else if !applied {
                ControlStatus::NotObserved
            } else if c.scan == ScanEvidence::Partial {
                ControlStatus::Partial
            } else {
                ControlStatus::Pass
            };
            ControlResult {
                id: c.id.clone(),
                edition: c.edition.clone(),
                title: c.title.clone(),
                source: c.source_with_tag(),
                status,
                rule_ids,
                finding_count: u32::try_from(mine.len()).unwrap_or(u32::MAX),
            }
        })
        .collect();

    Assessment {
        schema: ASSESSMENT_SCHEMA.to_string(),
        generated: opts.now,
        tool_version: opts.tool_version.clone(),
        editions,
        site: site.and_then(|s| s.name.clone()),
        site_id: site.and_then(|s| s.id.clone()),
        observations: observations
            .iter()
            .map(|o| ObservationRef {
                id: o.scan.id.clone(),
                vantage_zone: vantage_zone(o, site),
                started: o.scan.started,
            })
            .collect(),
        findings,
        not_rechecked: Vec::new(),
        controls,
        counts,
        rule_errors,
    }
}

fn run(rule: &Rule, c: &Context<'_, '_>) -> Result<bool, String> {
    match rule.program.execute(c) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "condition returned {} instead of a bool",
            other.type_of()
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn record_error(st: &mut RuleStats, subject: &str, e: String) {
    st.errors += 1;
    if st.first_error.is_none() {
        st.first_error = Some(format!("{subject}: {e}"));
    }
}

fn emit(
    findings: &mut Vec<Finding>,
    index: &mut HashMap<String, usize>,
    rule: &Rule,
    host: &Host,
    svc: Option<&Service>,
    hc: &HostCtx,
    input: &Input<'_>,
) {
    let mut key = match svc {
        Some(s) => format!(
            "{}|{}|{}/{}",
            rule.id,
            host.address,
            transport_name(s.transport),
            s.port
        ),
        None => format!("{}|{}", rule.id, host.address),
    };
    if rule.key_vantage {
        key.push_str(&format!(
            "|from:{}",
            hc.vantage_zone.as_deref().unwrap_or("unknown")
        ));
    }
    if let Some(&i) = index.get(&key) {
        if let Some(f) = findings.get_mut(i)
            && !f.observation_ids.contains(&hc.observation_id)
        {
            f.observation_ids.push(hc.observation_id.clone());
        }
        return;
    }
    let finding = Finding {
        key: key.clone(),
        rule_id: rule.id.clone(),
        severity: rule.severity,
        certainty: rule.certainty,
        host: host.address,
        port: svc.map(|s| s.port),
        transport: svc.map(|s| s.transport),
        zone: hc.host_zone.clone(),
        vantage_zone: hc.vantage_zone.clone(),
        title: rule.title.clone(),
        description: Text::new(
            interpolate(&rule.description.ja, input, Lang::Ja),
            interpolate(&rule.description.en, input, Lang::En),
        ),
        remediation: rule.remediation.clone(),
        evidence: rule
            .evidence
            .iter()
            .map(|p| Evidence {
                key: p.clone(),
                value: show(input.get(p)),
            })
            .collect(),
        controls: rule.controls.clone(),
        observation_ids: vec![hc.observation_id.clone()],
    };
    index.insert(key, findings.len());
    findings.push(finding);
}

/// One open service seen across a zone boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachService {
    /// The host.
    pub host: IpAddr,
    /// TCP or UDP.
    pub transport: Transport,
    /// Port.
    pub port: u16,
    /// The site allows this flow.
    pub allowed: bool,
    /// The Observation it was seen in.
    pub observation_id: String,
}

/// What one vantage zone reached in one destination zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachCell {
    /// Vantage zone ("unknown" when it could not be told).
    pub from: String,
    /// Destination zone ("outside" for hosts in no zone).
    pub to: String,
    /// Open services reached.
    pub open: Vec<ReachService>,
    /// How many of them the site does not allow.
    pub violations: u32,
}

/// Reachability between zones, combined from Observations made at several vantage points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReachabilityMatrix {
    /// Zone names: the site's, then "outside" / "unknown" if used.
    pub zones: Vec<String>,
    /// Non-empty cells, ordered by (from, to).
    pub cells: Vec<ReachCell>,
}

impl ReachabilityMatrix {
    /// The cell for a pair of zones.
    pub fn cell(&self, from: &str, to: &str) -> Option<&ReachCell> {
        self.cells.iter().find(|c| c.from == from && c.to == to)
    }
}

/// Builds the zone-to-zone reachability matrix from open services in the Observations.
pub fn reachability(observations: &[Observation], site: Option<&Site>) -> ReachabilityMatrix {
    let mut cells: BTreeMap<(String, String), ReachCell> = BTreeMap::new();
    let mut zones: Vec<String> = site
        .map(|s| s.zones.iter().map(|z| z.name.clone()).collect())
        .unwrap_or_default();
    for obs in observations {
        let from = vantage_zone(obs, site).unwrap_or_else(|| "unknown".into());
        for h in obs.hosts.iter().filter(|h| h.status.state == HostState::Up) {
            let to = site
                .and_then(|s| s.zone_of(h.address))
                .map(|z| z.name.clone())
                .unwrap_or_else(|| "outside".into());
            for s in h.services.iter().filter(|s| s.state == PortState::Open) {
                let allowed = site.is_some_and(|site| {
                    site.zone(&from).is_some()
                        && site.zone(&to).is_some()
                        && site.flow_allowed(&from, &to, s.transport, s.port)
                });
                let cell = cells
                    .entry((from.clone(), to.clone()))
                    .or_insert_with(|| ReachCell {
                        from: from.clone(),
                        to: to.clone(),
                        open: Vec::new(),
                        violations: 0,
                    });
                let rs = ReachService {
                    host: h.address,
                    transport: s.transport,
                    port: s.port,
                    allowed,
                    observation_id: obs.scan.id.clone(),
                };
                if cell
                    .open
                    .iter()
                    .any(|x| x.host == rs.host && x.port == rs.port && x.transport == rs.transport)
                {
                    continue;
                }
                if !allowed && from != to {
                    cell.violations += 1;
                }
                cell.open.push(rs);
            }
        }
    }
    for (from, to) in cells.keys() {
        for z in [from, to] {
            if !zones.contains(z) {
                zones.push(z.clone());
            }
        }
    }
    ReachabilityMatrix {
        zones,
        cells: cells.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation() {
        let (svc, host, ctx) = (
            json!({"port": 3389, "facts": {"x": "a"}}),
            json!({"address": "10.0.0.1"}),
            json!({}),
        );
        let input = Input {
            host: &host,
            service: Some(&svc),
            ctx: &ctx,
        };
        assert_eq!(
            interpolate(
                "port {service.port} on {host.address} {not a path} {ctx.missing}",
                &input,
                Lang::En
            ),
            "port 3389 on 10.0.0.1 {not a path} unknown"
        );
    }

    #[test]
    fn paths() {
        let input = json!({"a": {"b": [1, {"c": true}]}});
        assert_eq!(lookup(&input, "a.b.1.c"), Some(&json!(true)));
        assert_eq!(lookup(&input, "a.x"), None);
        let ctx = json!({"null": null, "empty": [], "blank": "", "no": false});
        let host = json!({});
        let i = Input {
            host: &host,
            service: None,
            ctx: &ctx,
        };
        assert!(!present(&i, "ctx.null"));
        assert!(!present(&i, "ctx.empty"));
        assert!(!present(&i, "ctx.blank"));
        assert!(present(&i, "ctx.no"));
        assert!(!present(&i, "service.port"));
        assert!(!present(&i, "other.x"));
    }
}

#[cfg(test)]
mod cel_semantics {
    use super::*;

    fn eval(src: &str) -> Result<Value, String> {
        let env = crate::rules::cel_env();
        let p = env.compile(src).map_err(|e| e.to_string())?;
        let mut ctx = Context::with_env(env);
        ctx.add_variable_from_value("n", to_cel(&json!({"x": null, "port": 3389})));
        p.execute(&ctx).map_err(|e| e.to_string())
    }

    /// The behaviours docs/rules.md relies on.
    #[test]
    fn documented_behaviour() {
        assert_eq!(eval("n.x == false"), Ok(Value::Bool(false)));
        assert_eq!(eval("n.port == 3389"), Ok(Value::Bool(true)));
        assert!(eval("n.missing.y == 1").is_err());
        assert_eq!(eval("has(n.missing)"), Ok(Value::Bool(false)));
        assert_eq!(eval("'a,b'.split(',').size() == 2"), Ok(Value::Bool(true)));
        assert_eq!(eval("1u == 1"), Ok(Value::Bool(true)));
    }
}
