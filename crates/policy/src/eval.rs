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
    ASSESSMENT_SCHEMA, Assessment, Check, EgressAttempt, EgressKind, EgressOutcome, EgressPurpose,
    Evidence, Finding, Host, HostState, Lang, Missing, Observation, ObservationRef, PortState,
    Service, SeverityCounts, Subject, Text, Transport,
};
use serde_json::{Value as Json, json};

use crate::data::join_summaries;
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

/// One rule input: the `host`, `service` (or `attempt`) and `ctx` JSON, without copying
/// them together.
struct Input<'a> {
    host: &'a Json,
    service: Option<&'a Json>,
    attempt: Option<&'a Json>,
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
            "attempt" => self.attempt?,
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
    public_address: bool,
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
            public_address: site.is_some_and(|s| s.is_public_address(host.address)),
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
        m.insert("public_address".into(), json!(self.public_address));
        m.insert("observation_id".into(), json!(self.observation_id));
        m
    }

    /// The whole `ctx` of a host or an egress attempt: what the site says, with the
    /// service-only fields empty.
    fn base_json(&self) -> Json {
        let mut m = self.json();
        m.insert("flow_allowed".into(), Json::Null);
        for list in ["kev", "kev_unverified", "eol", "port_classes"] {
            m.insert(list.into(), json!([]));
        }
        for text in ["kev_summary", "kev_unverified_summary", "eol_summary"] {
            m.insert(text.into(), json!({"ja": "", "en": ""}));
        }
        m.insert("same_cert_hosts".into(), json!(0));
        Json::Object(m)
    }

    /// What the site says about the host an egress attempt went to.
    fn of_attempt(
        addr: Option<IpAddr>,
        obs: &Observation,
        info: &ObsInfo,
        site: Option<&Site>,
    ) -> HostCtx {
        let hz = addr
            .and_then(|a| site.and_then(|s| s.zone_of(a)))
            .map(|z| z.name.clone());
        HostCtx {
            vantage_zone: info.vantage_zone.clone(),
            vantage_kind: info.vantage_kind,
            host_kind: zone_kind(site, hz.as_deref()),
            host_zone: hz,
            host_role: None,
            oqv_policy: false,
            terminal_outside_oqv: false,
            cross_zone: None,
            assets_listed: site.is_some_and(|s| !s.assets.is_empty()),
            known_asset: None,
            egress_target: addr.is_some_and(|a| site.is_some_and(|s| s.is_egress_target(a))),
            public_address: addr.is_some_and(|a| site.is_some_and(|s| s.is_public_address(a))),
            observation_id: obs.scan.id.clone(),
        }
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

/// Per Observation: where it ran from, and the egress attempts it made.
pub(crate) struct ObsInfo {
    pub(crate) vantage_zone: Option<String>,
    pub(crate) vantage_kind: Option<&'static str>,
    /// Its egress attempts, with those an older scan made by port-scanning the site's
    /// egress targets read as attempts (see [`egress_attempts`]).
    pub(crate) attempts: Vec<EgressAttempt>,
}

/// The host an egress attempt concerns: the address connected to or the resolver asked,
/// else the first address the name resolved to.
pub(crate) fn attempt_host(a: &EgressAttempt) -> Option<IpAddr> {
    a.address.or_else(|| a.resolved.first().copied())
}

/// The egress attempts of an Observation. An Observation made before the engine tried
/// egress targets itself (from an オン資 vantage, with the targets among the scan's
/// targets) holds its answer in its hosts: each target port it covered reads as a TCP
/// attempt (open: connected; closed: refused; otherwise no answer).
pub(crate) fn egress_attempts(
    obs: &Observation,
    vantage_kind: Option<&str>,
    site: Option<&Site>,
) -> Vec<EgressAttempt> {
    let mut out = obs.egress.clone();
    let Some(site) = site else {
        return out;
    };
    if vantage_kind != Some("oqv") {
        return out;
    }
    for t in &site.egress_targets {
        if !crate::coverage::probed(obs, |a| a == t.address, &[ipnet::IpNet::from(t.address)]) {
            continue;
        }
        let host = obs.hosts.iter().find(|h| h.address == t.address);
        for &port in &t.ports {
            let recorded = out.iter().any(|a| {
                a.kind == EgressKind::Tcp && a.address == Some(t.address) && a.port == Some(port)
            });
            if recorded {
                continue;
            }
            let svc = host.and_then(|h| {
                h.services
                    .iter()
                    .find(|s| s.transport == Transport::Tcp && s.port == port)
            });
            let (outcome, reached, detail) = match svc.map(|s| s.state) {
                Some(PortState::Open) => (EgressOutcome::Connected, true, "port open in the scan"),
                Some(PortState::Closed) => {
                    (EgressOutcome::Refused, false, "port closed in the scan")
                }
                _ => (EgressOutcome::Timeout, false, "no answer to the scan"),
            };
            out.push(EgressAttempt {
                purpose: EgressPurpose::Internet,
                kind: EgressKind::Tcp,
                target: clinicscan_model::EgressCheck {
                    purpose: EgressPurpose::Internet,
                    kind: EgressKind::Tcp,
                    host: t.address.to_string(),
                    port: Some(port),
                }
                .target(),
                address: Some(t.address),
                port: Some(port),
                name: None,
                reached: Some(reached),
                outcome,
                resolved: Vec::new(),
                detail: detail.to_string(),
                elapsed_ms: None,
            });
        }
    }
    out
}

/// What one rule did over the whole assessment.
#[derive(Default)]
pub(crate) struct RuleRun {
    pub(crate) errors: u32,
    pub(crate) first_error: Option<String>,
    /// Inputs checked, per Observation index.
    pub(crate) checked: BTreeMap<usize, Vec<Subject>>,
    /// Inputs where a declared fact could not be told, with the paths.
    pub(crate) unknown: Vec<(Subject, Vec<String>)>,
    /// Services where the rule's probe failed, with the failure.
    pub(crate) probe_failed: Vec<(Subject, String)>,
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
            let kind = zone_kind(site, vz.as_deref());
            ObsInfo {
                attempts: egress_attempts(o, kind, site),
                vantage_kind: kind,
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
    let mut found = Found::default();

    for (oi, obs) in observations.iter().enumerate() {
        let info = &infos[oi];
        let day = obs.scan.started.date_naive();
        for host in obs.hosts.iter().filter(|h| h.status.state == HostState::Up) {
            let hc = HostCtx::of(host, obs, info, site);
            let host_json = serde_json::to_value(host).unwrap_or(Json::Null);
            let host_cel = to_cel(&host_json);
            let hctx = hc.base_json();
            let host_input = Input {
                host: &host_json,
                service: None,
                attempt: None,
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
                let at = At {
                    oi,
                    host,
                    svc: None,
                    hc: &hc,
                    subject: &host_subject,
                    input: &host_input,
                };
                judge(rule, &c, &mut runs[ri], &at, &mut found);
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
                    attempt: None,
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
                    let at = At {
                        oi,
                        host,
                        svc: Some(svc),
                        hc: &hc,
                        subject: &subject,
                        input: &input,
                    };
                    judge(rule, c, run, &at, &mut found);
                }
            }
        }
    }

    // Egress rules: once per attempt.
    for (oi, obs) in observations.iter().enumerate() {
        let info = &infos[oi];
        for attempt in &info.attempts {
            let host = attempt_host(attempt);
            let hc = HostCtx::of_attempt(host, obs, info, site);
            let attempt_json = serde_json::to_value(attempt).unwrap_or(Json::Null);
            let actx = hc.base_json();
            let input = Input {
                host: &Json::Null,
                service: None,
                attempt: Some(&attempt_json),
                ctx: &actx,
            };
            let mut c = root.new_inner_scope();
            c.add_variable_from_value("attempt", to_cel(&attempt_json));
            c.add_variable_from_value("ctx", to_cel(&actx));
            for (ri, rule) in active
                .iter()
                .enumerate()
                .filter(|(_, r)| r.scope == Scope::Egress)
            {
                if !relevant_attempt(rule, &hc, attempt) || !applies(rule, &input) {
                    continue;
                }
                match evaluate(rule, &c) {
                    Ok(true) => found.emit_egress(rule, attempt, &hc, &input),
                    Ok(false) => {}
                    Err(e) => record_error(&mut runs[ri], &attempt.target, e),
                }
            }
        }
    }

    for (rule, run) in active.iter().zip(runs.iter()) {
        if run.errors > 0 {
            rule_errors.push(rule_error_text(rule, run));
        }
    }

    let mut findings = found.findings;
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

    let coverage = crate::coverage::coverage(observations, &infos, site, rules);
    let world = crate::verdict::World {
        observations,
        infos: &infos,
        site,
        coverage: coverage.as_ref(),
    };
    let evidence: Vec<(Vec<Check>, Vec<Missing>)> = active
        .iter()
        .zip(runs.iter())
        .map(|(rule, run)| crate::verdict::rule_evidence(rule, run, &world))
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
        .map(|c| crate::verdict::control_result(c, &active, &evidence, &findings))
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
        not_rechecked: Vec::new(),
        controls,
        counts,
        rule_errors,
        coverage,
        data: rules.sources.clone(),
        vantages: Vec::new(),
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

/// Whether an egress rule judges this attempt: made from a vantage it judges from, for
/// the purpose it judges (egress targets or the closed network's fingerprints).
fn relevant_attempt(rule: &Rule, hc: &HostCtx, attempt: &EgressAttempt) -> bool {
    let ch = &rule.checks;
    let vantage_ok = ch.vantage.is_empty()
        || hc
            .vantage_kind
            .is_some_and(|k| ch.vantage.iter().any(|v| v.as_str() == k));
    let purpose = if ch.closed_network {
        EgressPurpose::ClosedNetwork
    } else {
        EgressPurpose::Internet
    };
    vantage_ok && attempt.purpose == purpose
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
/// unknown. Zone-pair rules are checked per pair instead (and egress rules per target).
fn note_check(run: &mut RuleRun, rule: &Rule, oi: usize, subject: &Subject, input: &Input<'_>) {
    if rule.checks.zone_pair {
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

/// Where one evaluation happens: the Observation, the host, the service of a service rule,
/// what the site says about them, and the input the rule reads.
struct At<'a> {
    oi: usize,
    host: &'a Host,
    svc: Option<&'a Service>,
    hc: &'a HostCtx,
    subject: &'a Subject,
    input: &'a Input<'a>,
}

/// One evaluation of a rule on one input: a check (or an unknown fact) when it runs, a
/// finding when it fires, an error counted when it cannot run.
fn judge(rule: &Rule, c: &Context<'_, '_>, run: &mut RuleRun, at: &At<'_>, found: &mut Found) {
    match evaluate(rule, c) {
        Ok(fired) => {
            note_check(run, rule, at.oi, at.subject, at.input);
            if fired {
                found.emit(rule, at);
            }
        }
        Err(e) => record_error(run, &at.subject.to_string(), e),
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

/// The findings so far, one per key (the same key from several Observations is one
/// finding listing them all).
#[derive(Default)]
struct Found {
    findings: Vec<Finding>,
    index: HashMap<String, usize>,
}

impl Found {
    /// A finding of an egress rule: keyed by the address and port connected to (TCP) or
    /// the resolver and the name (DNS).
    fn emit_egress(&mut self, rule: &Rule, a: &EgressAttempt, hc: &HostCtx, input: &Input<'_>) {
        let host = attempt_host(a).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let (transport, port) = match a.kind {
            EgressKind::Tcp => (Transport::Tcp, a.port),
            EgressKind::Dns => (Transport::Udp, a.port.or(Some(53))),
        };
        let mut key = match (a.kind, port) {
            (EgressKind::Tcp, Some(p)) => format!("{}|{host}|tcp/{p}", rule.id),
            _ => format!(
                "{}|{host}|dns:{}",
                rule.id,
                a.name.as_deref().unwrap_or(&a.target)
            ),
        };
        if rule.key_vantage {
            key.push_str(&format!(
                "|from:{}",
                hc.vantage_zone.as_deref().unwrap_or("unknown")
            ));
        }
        if let Some(&i) = self.index.get(&key) {
            if let Some(f) = self.findings.get_mut(i)
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
            host,
            port,
            transport: Some(transport),
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
        self.index.insert(key, self.findings.len());
        self.findings.push(finding);
    }

    fn emit(&mut self, rule: &Rule, at: &At<'_>) {
        let (host, svc, hc, input) = (at.host, at.svc, at.hc, at.input);
        let mut key = match svc {
            Some(s) => format!(
                "{}|{}|{}/{}",
                rule.id,
                host.address,
                s.transport.as_str(),
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
        if let Some(&i) = self.index.get(&key) {
            if let Some(f) = self.findings.get_mut(i)
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
        self.index.insert(key, self.findings.len());
        self.findings.push(finding);
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
            attempt: None,
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
            attempt: None,
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
