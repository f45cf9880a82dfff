//! Evaluation: Observations + site + rules -> Assessment with findings, the zone × zone
//! coverage, and a verdict for every control backed by its evidence.
//!
//! A control fails on a finding that is a fact; it passes only when every rule that can
//! evidence it checked what it declares (`checks` in the rule file), from the vantage it
//! needs, over every zone pair it judges; otherwise it is not verified, with what is
//! missing. A guess never decides a verdict alone: it asks to be confirmed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Value};
use chrono::{DateTime, Utc};
use clinicscan_model::{
    ASSESSMENT_SCHEMA, Assessment, CellState, Certainty, Check, ControlResult, ControlStatus,
    Coverage, CoverageCell, Evidence, Finding, Host, HostState, Lang, Missing, MissingKind,
    Observation, ObservationRef, PortState, Reached, Service, Severity, SeverityCounts, Subject,
    Text, Transport, ZonePair,
};
use ipnet::IpNet;
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::catalogue::ScanEvidence;
use crate::data::join_summaries;
use crate::rules::{Rule, RuleSet, Scope, SiteNeed};
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

/// A declared fact is known: present, where a `false` or an empty list is an answer.
fn known(input: &Input<'_>, path: &str) -> bool {
    !matches!(input.get(path), None | Some(Json::Null))
}

fn show(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => "null".into(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Fills `{path}` placeholders from the input; a missing or null value reads as
/// "unknown" in the text's language (evidence keeps the literal `null`). A value that is
/// a text in both languages (`{ja, en}`, as `ctx.kev_summary`) reads in the text's language.
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
            Some(end) if crate::paths::is_placeholder(&after[..end]) => {
                match input.get(&after[..end]) {
                    None | Some(Json::Null) => out.push_str(unknown),
                    Some(Json::Object(o)) if o.contains_key("ja") && o.contains_key("en") => {
                        let key = match lang {
                            Lang::Ja => "ja",
                            Lang::En => "en",
                        };
                        out.push_str(&show(o.get(key)));
                    }
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
    with_helpers(Context::with_env(rules.env.clone()))
}

/// The same for expressions outside a rule set (pre-check profiles).
pub(crate) fn plain_root_context() -> Context<'static, 'static> {
    with_helpers(Context::with_env(crate::rules::cel_env()))
}

fn with_helpers(mut ctx: Context<'static, 'static>) -> Context<'static, 'static> {
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
        None => ZoneKind::from_name(zone).as_str(),
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

/// What the site and the data say about one host, for `ctx`.
struct HostCtx {
    vantage_zone: Option<String>,
    vantage_kind: Option<&'static str>,
    host_zone: Option<String>,
    host_kind: Option<&'static str>,
    host_role: Option<String>,
    /// The host falls under the オン資 policy: in an oqv zone, or declared an オン資
    /// terminal wherever it sits.
    oqv_policy: bool,
    /// A declared terminal outside an oqv zone: its neighbours are outside its zone.
    terminal_outside_oqv: bool,
    cross_zone: Option<bool>,
    assets_listed: bool,
    known_asset: Option<bool>,
    egress_target: bool,
    observation_id: String,
}

impl HostCtx {
    fn of(host: &Host, obs: &Observation, info: &ObsInfo, site: Option<&Site>) -> HostCtx {
        let hz = site
            .and_then(|s| s.zone_of(host.address))
            .map(|z| z.name.clone());
        let host_kind = zone_kind(site, hz.as_deref());
        let host_role = site
            .and_then(|s| s.asset_of(host.address, host.mac.as_deref()))
            .and_then(|a| a.role.clone());
        let declared_terminal = host_role.as_deref() == Some(OQV_TERMINAL);
        let terminal_outside_oqv = declared_terminal && host_kind != Some("oqv");
        let cross_zone = match (&info.vantage_zone, &hz) {
            (Some(v), Some(h)) => Some(v != h || terminal_outside_oqv),
            _ => None,
        };
        HostCtx {
            vantage_zone: info.vantage_zone.clone(),
            vantage_kind: info.vantage_kind,
            oqv_policy: host_kind == Some("oqv") || declared_terminal,
            terminal_outside_oqv,
            host_kind,
            host_zone: hz,
            host_role,
            cross_zone,
            assets_listed: site.is_some_and(|s| !s.assets.is_empty()),
            known_asset: site
                .filter(|s| !s.assets.is_empty())
                .map(|s| s.is_known_asset(host.address, host.mac.as_deref())),
            egress_target: site.is_some_and(|s| s.is_egress_target(host.address)),
            observation_id: obs.scan.id.clone(),
        }
    }

    fn json(&self) -> serde_json::Map<String, Json> {
        let mut m = serde_json::Map::new();
        m.insert("vantage_zone".into(), json!(self.vantage_zone));
        m.insert("vantage_zone_kind".into(), json!(self.vantage_kind));
        m.insert("host_zone".into(), json!(self.host_zone));
        m.insert("host_zone_kind".into(), json!(self.host_kind));
        m.insert("host_role".into(), json!(self.host_role));
        m.insert("oqv_policy".into(), json!(self.oqv_policy));
        m.insert("cross_zone".into(), json!(self.cross_zone));
        m.insert("assets_listed".into(), json!(self.assets_listed));
        m.insert("known_asset".into(), json!(self.known_asset));
        m.insert("egress_target".into(), json!(self.egress_target));
        m.insert("observation_id".into(), json!(self.observation_id));
        m
    }

    /// The kind a zone-pair rule judges the host as: oqv for a declared terminal.
    fn policy_kind(&self) -> Option<&'static str> {
        if self.oqv_policy {
            Some("oqv")
        } else {
            self.host_kind
        }
    }
}

/// The asset role that puts a host under the オン資 policy wherever it sits.
pub(crate) const OQV_TERMINAL: &str = "oqv-terminal";

/// Whether the site allows the vantage zone to reach this service of this host, with the
/// オン資 policy for a declared terminal outside an oqv zone (only flows with explicit
/// ports count, as into an oqv zone).
fn flow_allowed(site: &Site, hc: &HostCtx, transport: Transport, port: u16) -> Option<bool> {
    let (v, h) = (hc.vantage_zone.as_deref()?, hc.host_zone.as_deref()?);
    if hc.terminal_outside_oqv {
        return Some(site.flows.iter().any(|f| {
            f.from == v
                && f.to == h
                && !f.ports.is_empty()
                && f.ports.iter().any(|p| p.contains(transport, port))
        }));
    }
    Some(site.flow_allowed(v, h, transport, port))
}

fn kev_matches(rules: &RuleSet, svc: &Service) -> Vec<crate::data::KevMatch> {
    let mut out: Vec<crate::data::KevMatch> = Vec::new();
    let mut probe = |vendor: Option<&str>, product: &str, version: Option<&str>| {
        if let Some(v) = version {
            for m in rules.kev.lookup(vendor, product, v) {
                if !out.contains(&m) {
                    out.push(m);
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

fn eol_matches(
    rules: &RuleSet,
    svc: &Service,
    day: chrono::NaiveDate,
) -> Vec<crate::data::EolMatch> {
    let smb = svc.facts.smb.as_ref();
    let ntlm: Vec<&str> = [
        smb.and_then(|s| s.ntlm.as_ref())
            .and_then(|n| n.os_version.as_deref()),
        svc.facts
            .rdp
            .as_ref()
            .and_then(|r| r.ntlm.as_ref())
            .and_then(|n| n.os_version.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let native = smb.and_then(|s| s.native_os.as_deref());
    rules.eol.lookup(&ntlm, native, day)
}

/// Per Observation: where it ran from.
struct ObsInfo {
    vantage_zone: Option<String>,
    vantage_kind: Option<&'static str>,
}

/// What one rule did over the whole assessment.
#[derive(Default)]
struct RuleRun {
    errors: u32,
    first_error: Option<String>,
    /// Inputs checked, per Observation index.
    checked: BTreeMap<usize, Vec<Subject>>,
    /// Inputs where a declared fact could not be told, with the paths.
    unknown: Vec<(Subject, Vec<String>)>,
    /// Services where the rule's probe failed, with the failure.
    probe_failed: Vec<(Subject, String)>,
}

/// Assesses Observations against a site and rules with default options.
pub fn assess(observations: &[Observation], site: Option<&Site>, rules: &RuleSet) -> Assessment {
    assess_with(observations, site, rules, &AssessOptions::default())
}

/// Assesses Observations against a site and rules.
///
/// Every rule runs over every live host (host rules) or every service in the rule's
/// port states (service rules) of every Observation made from a vantage the rule judges
/// from. A rule that errors on an input is reported in `rule_errors` (with a count and the
/// first failure) and leaves its controls not verified.
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
    let mut runs: Vec<RuleRun> = active.iter().map(|_| RuleRun::default()).collect();
    let infos: Vec<ObsInfo> = observations
        .iter()
        .map(|o| {
            let vz = vantage_zone(o, site);
            ObsInfo {
                vantage_kind: zone_kind(site, vz.as_deref()),
                vantage_zone: vz,
            }
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

    for (oi, obs) in observations.iter().enumerate() {
        let info = &infos[oi];
        let day = obs.scan.started.date_naive();
        for host in obs.hosts.iter().filter(|h| h.status.state == HostState::Up) {
            let hc = HostCtx::of(host, obs, info, site);
            let host_json = serde_json::to_value(host).unwrap_or(Json::Null);
            let host_cel = to_cel(&host_json);
            let mut hctx = hc.json();
            hctx.insert("flow_allowed".into(), Json::Null);
            for list in ["kev", "kev_unverified", "eol", "port_classes"] {
                hctx.insert(list.into(), json!([]));
            }
            for text in ["kev_summary", "kev_unverified_summary", "eol_summary"] {
                hctx.insert(text.into(), json!({"ja": "", "en": ""}));
            }
            hctx.insert("same_cert_hosts".into(), json!(0));
            let hctx = Json::Object(hctx);
            let host_input = Input {
                host: &host_json,
                service: None,
                ctx: &hctx,
            };
            let host_subject = Subject {
                host: host.address,
                port: None,
                transport: None,
            };

            // One scope per host: binding converts the values, so do it once.
            let mut c = root.new_inner_scope();
            c.add_variable_from_value("host", host_cel.clone());
            c.add_variable_from_value("ctx", to_cel(&hctx));
            for (ri, rule) in active
                .iter()
                .enumerate()
                .filter(|(_, r)| r.scope == Scope::Host)
            {
                if !relevant(rule, &hc) || !applies(rule, &host_input) {
                    continue;
                }
                let run = &mut runs[ri];
                match evaluate(rule, &c) {
                    Ok(fired) => {
                        note_check(run, rule, oi, &host_subject, &host_input);
                        if fired {
                            emit(
                                &mut findings,
                                &mut index,
                                rule,
                                host,
                                None,
                                &hc,
                                &host_input,
                            );
                        }
                    }
                    Err(e) => record_error(run, &host.address.to_string(), e),
                }
            }

            for svc in &host.services {
                let state = state_name(svc.state);
                let svc_json = serde_json::to_value(svc).unwrap_or(Json::Null);
                let mut sctx = hc.json();
                let flow = site
                    .and_then(|s| flow_allowed(s, &hc, svc.transport, svc.port))
                    .map_or(Json::Null, Json::Bool);
                sctx.insert("flow_allowed".into(), flow);
                let (kev, kev_unverified): (Vec<_>, Vec<_>) = kev_matches(rules, svc)
                    .into_iter()
                    .partition(|m| m.verification != "U");
                sctx.insert(
                    "kev_summary".into(),
                    json!(join_summaries(kev.iter().map(|m| m.summary()))),
                );
                sctx.insert(
                    "kev_unverified_summary".into(),
                    json!(join_summaries(kev_unverified.iter().map(|m| m.summary()))),
                );
                sctx.insert("kev".into(), json!(kev));
                sctx.insert("kev_unverified".into(), json!(kev_unverified));
                let eol = eol_matches(rules, svc, day);
                sctx.insert(
                    "eol_summary".into(),
                    json!(join_summaries(eol.iter().map(|m| m.summary()))),
                );
                sctx.insert("eol".into(), json!(eol));
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
                let subject = Subject {
                    host: host.address,
                    port: Some(svc.port),
                    transport: Some(svc.transport),
                };
                // One scope per service, bound lazily (most services match few rules).
                let mut scope: Option<Context<'_, '_>> = None;
                for (ri, rule) in active
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.scope == Scope::Service)
                {
                    if !rule.states.iter().any(|s| s == state) || !relevant(rule, &hc) {
                        continue;
                    }
                    let run = &mut runs[ri];
                    if let Some(why) = probe_failure(rule, svc) {
                        run.probe_failed.push((subject.clone(), why));
                    }
                    if !applies(rule, &input) {
                        continue;
                    }
                    let c = scope.get_or_insert_with(|| {
                        let mut c = root.new_inner_scope();
                        c.add_variable_from_value("host", host_cel.clone());
                        c.add_variable_from_value("service", to_cel(&svc_json));
                        c.add_variable_from_value("ctx", to_cel(&sctx));
                        c
                    });
                    match evaluate(rule, c) {
                        Ok(fired) => {
                            note_check(run, rule, oi, &subject, &input);
                            if fired {
                                emit(
                                    &mut findings,
                                    &mut index,
                                    rule,
                                    host,
                                    Some(svc),
                                    &hc,
                                    &input,
                                );
                            }
                        }
                        Err(e) => record_error(run, &subject_text(&subject), e),
                    }
                }
            }
        }
    }

    for (rule, run) in active.iter().zip(runs.iter()) {
        if run.errors > 0 {
            rule_errors.push(rule_error_text(rule, run));
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

    let coverage = coverage(observations, &infos, site, rules);
    let world = World {
        observations,
        infos: &infos,
        site,
        coverage: coverage.as_ref(),
    };
    let evidence: Vec<(Vec<Check>, Vec<Missing>)> = active
        .iter()
        .zip(runs.iter())
        .map(|(rule, run)| rule_evidence(rule, run, &world))
        .collect();

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
    let controls = rules
        .catalogue
        .controls()
        .iter()
        .filter(|c| editions.contains(&c.edition))
        .map(|c| control_result(c, &active, &evidence, &findings))
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
            .zip(infos.iter())
            .map(|(o, i)| ObservationRef {
                id: o.scan.id.clone(),
                vantage_zone: i.vantage_zone.clone(),
                started: o.scan.started,
            })
            .collect(),
        findings,
        controls,
        counts,
        rule_errors,
        coverage,
        data: rules.sources.clone(),
    }
}

/// Whether an input is one the rule judges at all: from a vantage it judges from, across
/// zones for a zone-pair rule, at an egress target for an egress rule.
fn relevant(rule: &Rule, hc: &HostCtx) -> bool {
    let ch = &rule.checks;
    if !ch.vantage.is_empty()
        && !hc
            .vantage_kind
            .is_some_and(|k| ch.vantage.iter().any(|v| v.as_str() == k))
    {
        return false;
    }
    if ch.egress && !hc.egress_target {
        return false;
    }
    if ch.zone_pair {
        if hc.cross_zone != Some(true) {
            return false;
        }
        if !ch.to.is_empty()
            && !hc
                .policy_kind()
                .is_some_and(|k| ch.to.iter().any(|t| t.as_str() == k))
        {
            return false;
        }
    }
    true
}

/// The rule's probe failed on this service and left nothing behind: no facts of its own
/// and no other protocol identified there.
fn probe_failure(rule: &Rule, svc: &Service) -> Option<String> {
    let probe = rule.checks.probe.as_deref()?;
    if svc.protocol.as_deref().is_some_and(|p| p != probe) {
        return None;
    }
    let facts = serde_json::to_value(&svc.facts).ok()?;
    if !matches!(facts.get(probe), None | Some(Json::Null)) {
        return None;
    }
    svc.probe_errors.iter().find(|e| e.probe == probe).map(|e| {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        format!("{kind}: {}", e.detail)
    })
}

/// Records an evaluated input as a check when its declared facts were present, else as
/// unknown. Zone-pair and egress rules are checked per pair and target instead.
fn note_check(run: &mut RuleRun, rule: &Rule, oi: usize, subject: &Subject, input: &Input<'_>) {
    if rule.checks.zone_pair || rule.checks.egress {
        return;
    }
    let missing: Vec<String> = rule
        .checks
        .facts
        .iter()
        .filter(|p| !known(input, p))
        .cloned()
        .collect();
    if missing.is_empty() {
        run.checked.entry(oi).or_default().push(subject.clone());
    } else {
        run.unknown.push((subject.clone(), missing));
    }
}

fn evaluate(rule: &Rule, c: &Context<'_, '_>) -> Result<bool, String> {
    match rule.program.execute(c) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "condition returned {} instead of a bool",
            other.type_of()
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn record_error(run: &mut RuleRun, subject: &str, e: String) {
    run.errors += 1;
    if run.first_error.is_none() {
        run.first_error = Some(format!("{subject}: {e}"));
    }
}

fn rule_error_text(rule: &Rule, run: &RuleRun) -> String {
    format!(
        "rule {} ({}): failed on {} input(s); first: {}",
        rule.id,
        rule.file,
        run.errors,
        run.first_error.as_deref().unwrap_or("")
    )
}

fn subject_text(s: &Subject) -> String {
    let addr = match s.host {
        IpAddr::V6(v6) if s.port.is_some() => format!("[{v6}]"),
        a => a.to_string(),
    };
    match (s.port, s.transport) {
        (Some(p), Some(t)) => format!("{addr}:{p}/{}", transport_name(t)),
        _ => addr,
    }
}

/// A few subjects as text: "a, b, c and 4 more".
fn subjects_text(list: &[&Subject], lang: Lang) -> String {
    const SHOWN: usize = 5;
    let head: Vec<String> = list.iter().take(SHOWN).map(|s| subject_text(s)).collect();
    let mut out = head.join(", ");
    if list.len() > SHOWN {
        let more = list.len() - SHOWN;
        out.push_str(&match lang {
            Lang::Ja => format!(" ほか{more}件"),
            Lang::En => format!(" and {more} more"),
        });
    }
    out
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

// ---- coverage ----------------------------------------------------------------------------

/// The zone name the matrix gives the site's egress targets.
pub const INTERNET: &str = "internet";

/// A target as the user gave it, as an address range (names are not resolved here).
fn target_range(t: &str) -> Option<(IpAddr, IpAddr)> {
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

fn overlaps(range: (IpAddr, IpAddr), net: &IpNet) -> bool {
    let same_family = range.0.is_ipv4() == net.network().is_ipv4();
    same_family && range.0 <= net.broadcast() && net.network() <= range.1
}

/// Whether an Observation probed anything of a set of networks or addresses: a host seen
/// there (up or down), or a target that covers it.
fn probed(obs: &Observation, contains: impl Fn(IpAddr) -> bool, nets: &[IpNet]) -> bool {
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
fn coverage(
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
    let egress = !site.egress_targets.is_empty();
    if egress {
        zones.push(INTERNET.to_string());
    }
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
    // Every cell the matrix shows, not probed until an Observation says otherwise.
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
    for (i, f) in site.zones.iter().enumerate() {
        for (j, t) in site.zones.iter().enumerate() {
            if i != j || terminals.iter().any(|(z, _)| *z == t.name) {
                cells.insert((i, j), blank(&f.name, &t.name));
            }
        }
        if egress && f.kind == ZoneKind::Oqv {
            cells.insert((i, zones.len() - 1), blank(&f.name, INTERNET));
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
            let Some(cell) = cells.get_mut(&(fi, ti)) else {
                continue;
            };
            // Within a zone only its declared terminals are judged.
            let in_cell = |a: IpAddr| {
                to_zone.cidrs.iter().any(|n| n.contains(&a))
                    && (fi != ti || terminals.iter().any(|(_, t)| *t == a))
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
        if egress
            && from_zone.kind == ZoneKind::Oqv
            && let Some(cell) = cells.get_mut(&(fi, zones.len() - 1))
        {
            let nets: Vec<IpNet> = site
                .egress_targets
                .iter()
                .map(|t| IpNet::from(t.address))
                .collect();
            if probed(obs, |a| site.is_egress_target(a), &nets) {
                note_probe(cell, obs);
                for h in obs
                    .hosts
                    .iter()
                    .filter(|h| h.status.state == HostState::Up && site.is_egress_target(h.address))
                {
                    cell.hosts_up += 1;
                    for s in h.services.iter().filter(|s| s.state == PortState::Open) {
                        push_reached(cell, h.address, s.transport, s.port, false);
                    }
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

// ---- evidence and verdicts ---------------------------------------------------------------

/// Everything a rule's evidence is judged against.
struct World<'a> {
    observations: &'a [Observation],
    infos: &'a [ObsInfo],
    site: Option<&'a Site>,
    coverage: Option<&'a Coverage>,
}

fn missing(
    kind: MissingKind,
    rule: &Rule,
    subject: Option<String>,
    ja: String,
    en: String,
) -> Missing {
    Missing {
        kind,
        rule_id: Some(rule.id.clone()),
        subject,
        text: Text::new(ja, en),
    }
}

/// What one rule checked over the assessment, and what it lacks.
fn rule_evidence(rule: &Rule, run: &RuleRun, w: &World<'_>) -> (Vec<Check>, Vec<Missing>) {
    let ch = &rule.checks;
    let mut checks = Vec::new();
    let mut lacks = Vec::new();

    // What the site file must hold.
    let mut needs: Vec<SiteNeed> = ch.site.clone();
    if ch.zone_pair && !needs.contains(&SiteNeed::Zones) {
        needs.push(SiteNeed::Zones);
    }
    if ch.egress && !needs.contains(&SiteNeed::EgressTargets) {
        needs.push(SiteNeed::EgressTargets);
    }
    let mut site_ok = true;
    for need in &needs {
        let (ja, en) = match (w.site, need) {
            (None, SiteNeed::Zones) => (
                "サイトファイルがありません:ゾーンが不明です",
                "no site file: zones unknown",
            ),
            (None, SiteNeed::Assets) => (
                "サイトファイルがありません:台帳(資産一覧)がありません",
                "no site file: no asset register to compare with",
            ),
            (None, SiteNeed::EgressTargets) => (
                "サイトファイルがありません:インターネット接続確認先(egress)がありません",
                "no site file: no egress target to try",
            ),
            (Some(s), SiteNeed::Zones) if s.zones.is_empty() => (
                "サイトファイルにゾーンがありません",
                "the site file names no zones",
            ),
            (Some(s), SiteNeed::Assets) if s.assets.is_empty() => (
                "サイトファイルに台帳([[assets]])がありません",
                "the site file lists no assets ([[assets]]) to compare with",
            ),
            (Some(s), SiteNeed::EgressTargets) if s.egress_targets.is_empty() => (
                "サイトファイルの [egress] に確認先を追加してください",
                "add an egress target to the site file ([egress] targets)",
            ),
            _ => continue,
        };
        site_ok = false;
        lacks.push(missing(
            MissingKind::SiteFile,
            rule,
            Some(need.as_str().to_string()),
            ja.to_string(),
            en.to_string(),
        ));
    }

    // From where it judges: the vantage zones it needs (zone pairs say it per pair).
    if site_ok && !ch.vantage.is_empty() && !ch.zone_pair {
        lacks.extend(vantage_gaps(rule, w));
    }

    if ch.zone_pair && site_ok {
        let (c, m) = pair_evidence(rule, w);
        checks.extend(c);
        lacks.extend(m);
    }
    if ch.egress
        && site_ok
        && let Some(site) = w.site
    {
        for t in &site.egress_targets {
            let mut tried = false;
            for (obs, info) in w.observations.iter().zip(w.infos) {
                let from_kind = info.vantage_kind;
                if !ch.vantage.is_empty()
                    && !from_kind.is_some_and(|k| ch.vantage.iter().any(|v| v.as_str() == k))
                {
                    continue;
                }
                if probed(obs, |a| a == t.address, &[IpNet::from(t.address)]) {
                    tried = true;
                    checks.push(Check {
                        rule_id: rule.id.clone(),
                        facts: Vec::new(),
                        zone_pair: None,
                        egress_target: true,
                        vantage_zone: info.vantage_zone.clone(),
                        observation_id: obs.scan.id.clone(),
                        subjects: vec![Subject {
                            host: t.address,
                            port: None,
                            transport: None,
                        }],
                    });
                }
            }
            let from_any = w.infos.iter().any(|i| {
                ch.vantage.is_empty()
                    || i.vantage_kind
                        .is_some_and(|k| ch.vantage.iter().any(|v| v.as_str() == k))
            });
            if !tried && from_any {
                let a = t.address;
                lacks.push(missing(
                    MissingKind::EgressTarget,
                    rule,
                    Some(a.to_string()),
                    format!("確認先 {a} への接続を試していません:オン資ゾーンからのスキャンの対象に {a} を加えてください"),
                    format!("egress target {a} was not tried: add {a} to the targets of the scan from the オン資 zone"),
                ));
            }
        }
    }

    for (oi, subjects) in &run.checked {
        let info = &w.infos[*oi];
        checks.push(Check {
            rule_id: rule.id.clone(),
            facts: rule.checks.facts.clone(),
            zone_pair: None,
            egress_target: false,
            vantage_zone: info.vantage_zone.clone(),
            observation_id: w.observations[*oi].scan.id.clone(),
            subjects: subjects.clone(),
        });
    }
    if !run.unknown.is_empty() {
        let mut paths: Vec<&str> = run
            .unknown
            .iter()
            .flat_map(|(_, p)| p.iter().map(String::as_str))
            .collect();
        paths.sort_unstable();
        paths.dedup();
        let list: Vec<&Subject> = run.unknown.iter().map(|(s, _)| s).collect();
        let paths = paths.join(", ");
        lacks.push(missing(
            MissingKind::FactUnknown,
            rule,
            Some(subjects_text(&list, Lang::En)),
            format!(
                "{} で {paths} を判別できませんでした",
                subjects_text(&list, Lang::Ja)
            ),
            format!(
                "{paths} could not be told on {}",
                subjects_text(&list, Lang::En)
            ),
        ));
    }
    for (s, why) in &run.probe_failed {
        let probe = rule.checks.probe.as_deref().unwrap_or("");
        let at = subject_text(s);
        lacks.push(missing(
            MissingKind::ProbeFailed,
            rule,
            Some(at.clone()),
            format!("{at} で {probe} のプローブが失敗しました({why})"),
            format!("the {probe} probe failed on {at} ({why})"),
        ));
    }
    if run.errors > 0 {
        let first = run.first_error.as_deref().unwrap_or("");
        lacks.push(missing(
            MissingKind::RuleError,
            rule,
            None,
            format!(
                "ルール {} を {} 件の入力で評価できませんでした(最初: {first})",
                rule.id, run.errors
            ),
            format!(
                "rule {} could not be evaluated on {} input(s) (first: {first})",
                rule.id, run.errors
            ),
        ));
    }
    (checks, lacks)
}

/// The vantage zones a rule judges from that no Observation ran from.
fn vantage_gaps(rule: &Rule, w: &World<'_>) -> Vec<Missing> {
    let ch = &rule.checks;
    let scanned = |kind: &str| w.infos.iter().any(|i| i.vantage_kind == Some(kind));
    let mut out = Vec::new();
    match w.site {
        Some(site) => {
            let mut any_zone = false;
            for kind in &ch.vantage {
                for z in site.zones.iter().filter(|z| z.kind == *kind) {
                    any_zone = true;
                    if !w
                        .infos
                        .iter()
                        .any(|i| i.vantage_zone.as_deref() == Some(&z.name))
                    {
                        let n = &z.name;
                        out.push(missing(
                            MissingKind::Vantage,
                            rule,
                            Some(n.clone()),
                            format!("ゾーン {n} からスキャンしてください"),
                            format!("scan from zone {n}"),
                        ));
                    }
                }
            }
            if !any_zone {
                let kinds = kinds_text(&ch.vantage);
                out.push(missing(
                    MissingKind::Vantage,
                    rule,
                    Some(kinds.clone()),
                    format!("サイトファイルに種別 {kinds} のゾーンがないため、そこからのスキャンがありません"),
                    format!("the site file has no zone of kind {kinds}: nothing was scanned from there"),
                ));
            }
        }
        None => {
            if !ch.vantage.iter().any(|k| scanned(k.as_str())) {
                let kinds = kinds_text(&ch.vantage);
                out.push(missing(
                    MissingKind::Vantage,
                    rule,
                    Some(kinds.clone()),
                    format!("種別 {kinds} のゾーンからスキャンしてください"),
                    format!("scan from a zone of kind {kinds}"),
                ));
            }
        }
    }
    out
}

fn kinds_text(kinds: &[ZoneKind]) -> String {
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Zone-pair rules: a check per pair probed (with the hosts seen there), a missing piece
/// per vantage zone whose pairs were not probed.
fn pair_evidence(rule: &Rule, w: &World<'_>) -> (Vec<Check>, Vec<Missing>) {
    let (Some(site), Some(cov)) = (w.site, w.coverage) else {
        return (Vec::new(), Vec::new());
    };
    let ch = &rule.checks;
    let kind_in = |kinds: &[ZoneKind], k: ZoneKind| kinds.is_empty() || kinds.contains(&k);
    let mut checks = Vec::new();
    let mut unprobed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for cell in &cov.cells {
        let (Some(f), Some(t)) = (site.zone(&cell.from), site.zone(&cell.to)) else {
            continue;
        };
        // A zone holding a declared オン資 terminal is also judged as oqv (within the zone,
        // the cell holds only its terminals).
        let holds_terminal = site.assets.iter().any(|a| {
            a.role.as_deref() == Some(OQV_TERMINAL)
                && a.address
                    .is_some_and(|ad| t.cidrs.iter().any(|n| n.contains(&ad)))
        });
        let to_ok = if f.name == t.name {
            kind_in(&ch.to, ZoneKind::Oqv)
        } else {
            kind_in(&ch.to, t.kind) || (holds_terminal && kind_in(&ch.to, ZoneKind::Oqv))
        };
        if !kind_in(&ch.vantage, f.kind) || !to_ok {
            continue;
        }
        if cell.state == CellState::NotProbed {
            unprobed.entry(&cell.from).or_default().push(&cell.to);
            continue;
        }
        for (obs, info) in w.observations.iter().zip(w.infos) {
            if !cell.observation_ids.contains(&obs.scan.id)
                || info.vantage_zone.as_deref() != Some(&cell.from)
            {
                continue;
            }
            let subjects = obs
                .hosts
                .iter()
                .filter(|h| h.status.state == HostState::Up)
                .filter(|h| site.zone_of(h.address).is_some_and(|z| z.name == t.name))
                .filter(|h| {
                    f.name != t.name
                        || site
                            .asset_of(h.address, h.mac.as_deref())
                            .is_some_and(|a| a.role.as_deref() == Some(OQV_TERMINAL))
                })
                .map(|h| Subject {
                    host: h.address,
                    port: None,
                    transport: None,
                })
                .collect();
            checks.push(Check {
                rule_id: rule.id.clone(),
                facts: Vec::new(),
                zone_pair: Some(ZonePair {
                    from: cell.from.clone(),
                    to: cell.to.clone(),
                }),
                egress_target: false,
                vantage_zone: Some(cell.from.clone()),
                observation_id: obs.scan.id.clone(),
                subjects,
            });
        }
    }
    let lacks = unprobed
        .into_iter()
        .map(|(from, tos)| {
            let pairs = tos
                .iter()
                .map(|t| format!("{from} → {t}"))
                .collect::<Vec<_>>()
                .join(", ");
            let tos = tos.join(", ");
            missing(
                MissingKind::ZonePair,
                rule,
                Some(pairs.clone()),
                format!("ゾーン {from} から {tos} へのスキャンがありません({pairs} 未確認)"),
                format!("scan from zone {from} towards {tos} ({pairs} not probed)"),
            )
        })
        .collect();
    (checks, lacks)
}

/// The verdict of one control, with its evidence.
fn control_result(
    c: &crate::catalogue::Control,
    active: &[&Rule],
    evidence: &[(Vec<Check>, Vec<Missing>)],
    findings: &[Finding],
) -> ControlResult {
    let rule_ids: Vec<String> = active
        .iter()
        .filter(|r| r.controls.contains(&c.id))
        .map(|r| r.id.clone())
        .collect();
    let verdict_rules: Vec<usize> = active
        .iter()
        .enumerate()
        .filter(|(_, r)| r.affects_verdict && r.controls.contains(&c.id))
        .map(|(i, _)| i)
        .collect();
    let counts_for_verdict = |f: &Finding| {
        active
            .iter()
            .any(|r| r.affects_verdict && r.id == f.rule_id)
    };
    let mine: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.controls.contains(&c.id))
        .collect();
    let failing: Vec<String> = mine
        .iter()
        .filter(|f| {
            counts_for_verdict(f) && f.certainty == Certainty::Fact && f.severity >= Severity::Low
        })
        .map(|f| f.key.clone())
        .collect();
    let mut result = ControlResult {
        id: c.id.clone(),
        edition: c.edition.clone(),
        title: c.title.clone(),
        source: c.source_with_tag(),
        status: ControlStatus::NotVerified,
        rule_ids,
        finding_count: u32::try_from(mine.len()).unwrap_or(u32::MAX),
        findings: Vec::new(),
        checked: Vec::new(),
        missing: Vec::new(),
    };
    if c.scan == ScanEvidence::None {
        result.status = ControlStatus::NotAssessableByScan;
        return result;
    }
    let mut lacks: Vec<Missing> = Vec::new();
    for f in mine
        .iter()
        .filter(|f| counts_for_verdict(f) && f.certainty == Certainty::Guess)
    {
        let target = crate::eval::finding_target(f);
        lacks.push(Missing {
            kind: MissingKind::Confirm,
            rule_id: Some(f.rule_id.clone()),
            subject: Some(f.key.clone()),
            text: Text::new(
                format!("推定の指摘を確認してください: {}({target})", f.title.ja),
                format!("confirm the inferred finding: {} ({target})", f.title.en),
            ),
        });
    }
    for &i in &verdict_rules {
        let (checks, m) = &evidence[i];
        result.checked.extend(checks.iter().cloned());
        for x in m {
            push_missing(&mut lacks, x);
        }
    }
    if c.scan == ScanEvidence::Partial {
        lacks.push(Missing {
            kind: MissingKind::Organisational,
            rule_id: None,
            subject: None,
            text: Text::new(
                "スキャンで確認できるのはこの管理策の一部です。残りは運用・書類で確認してください",
                "a scan shows only part of this control: confirm the rest on site (organisational)",
            ),
        });
    }
    if result.checked.is_empty() && lacks.is_empty() {
        let mut looked: Vec<&str> = verdict_rules
            .iter()
            .flat_map(|&i| {
                let r = active[i];
                r.requires
                    .iter()
                    .chain(r.requires_any.iter())
                    .map(String::as_str)
            })
            .filter(|p| !p.starts_with("ctx."))
            .collect();
        looked.sort_unstable();
        looked.dedup();
        let what = if looked.is_empty() {
            String::from("-")
        } else {
            looked.join(", ")
        };
        lacks.push(Missing {
            kind: MissingKind::NothingSeen,
            rule_id: None,
            subject: None,
            text: Text::new(
                format!(
                    "この管理策のルールが確認する対象がこのスキャンでは見つかりませんでした({what})"
                ),
                format!(
                    "nothing this control's rules look at was seen in this assessment ({what})"
                ),
            ),
        });
    }
    result.findings = failing;
    result.missing = lacks;
    result.status = if !result.findings.is_empty() {
        ControlStatus::Fail
    } else if result.missing.is_empty() {
        ControlStatus::Pass
    } else {
        ControlStatus::NotVerified
    };
    result
}

/// Adds a missing piece unless the same one (kind, subject, text) is there already; the
/// same need of two rules is one line.
fn push_missing(list: &mut Vec<Missing>, m: &Missing) {
    match list
        .iter_mut()
        .find(|x| x.kind == m.kind && x.subject == m.subject && x.text == m.text)
    {
        Some(x) if x.rule_id != m.rule_id => x.rule_id = None,
        Some(_) => {}
        None => list.push(m.clone()),
    }
}

/// "10.0.0.1:3389/tcp", or the bare address for a host finding.
pub(crate) fn finding_target(f: &Finding) -> String {
    subject_text(&Subject {
        host: f.host,
        port: f.port,
        transport: f.transport,
    })
}

// ---- the open-service view of the matrix (kept for callers of the earlier API) ----------

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
/// (The Assessment's `coverage` also says which pairs were probed at all.)
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
            json!({"summary": {"ja": "日本語", "en": "English"}}),
        );
        let input = Input {
            host: &host,
            service: Some(&svc),
            ctx: &ctx,
        };
        assert_eq!(
            interpolate(
                "port {service.port} on {host.address} {not a path} {ctx.missing} {ctx.summary}",
                &input,
                Lang::En
            ),
            "port 3389 on 10.0.0.1 {not a path} unknown English"
        );
        assert_eq!(interpolate("{ctx.summary}", &input, Lang::Ja), "日本語");
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
        // A declared fact is known when it answers, even with false or an empty list.
        assert!(known(&i, "ctx.empty") && known(&i, "ctx.no"));
        assert!(!known(&i, "ctx.null"));
    }

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
