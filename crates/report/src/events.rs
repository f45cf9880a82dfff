//! Events for a SIEM: one JSON object per finding and one per control result, with Elastic
//! Common Schema (ECS 8.11) field names where ECS has the field, so Elastic, OpenSearch,
//! Wazuh and Splunk ingest them without a custom parser. What ECS has no field for lives
//! under `clinicscan.*` (ECS's advice for custom fields).
//!
//! The shape is a contract: `schemas/event.v1.json` is checked in and every event the tests
//! make validates against it; `docs/fleet.en.md` lists the fields. A field is added, never
//! renamed or retyped, without a new schema version.
//!
//! Scanner findings follow ECS's vulnerability guidance (`event.kind: state`,
//! `event.category: [vulnerability]`); control results are configuration states
//! (`event.category: [configuration]`, `event.outcome` success/failure/unknown).
//! `event.id` is stable for a scan and a finding (or control), so a SIEM that receives an
//! event twice can drop the copy. `event.severity` uses the 21/47/73/99 steps of Elastic's
//! detection rules (info 0).

use clinicscan_model::{
    Assessment, ControlResult, ControlStatus, Finding, Lang, Severity, Transport,
};
use serde_json::{Map, Value, json};

use crate::render::ReportInput;

/// The ECS version the field names follow.
pub const ECS_VERSION: &str = "8.11.0";

/// The version of clinicscan's event shape (`clinicscan.schema`).
pub const EVENT_SCHEMA: &str = "clinicscan/event/v1";

/// The events of one assessment: every finding (most severe first), then every control.
pub fn events(input: &ReportInput<'_>) -> Vec<Value> {
    let a = input.assessment;
    let base = Base::new(input);
    let mut findings: Vec<&Finding> = a.findings.iter().collect();
    findings.sort_by(|x, y| y.severity.cmp(&x.severity).then_with(|| x.key.cmp(&y.key)));
    let mut out: Vec<Value> = findings
        .into_iter()
        .map(|f| finding_event(&base, input, f))
        .collect();
    out.extend(
        a.controls
            .iter()
            .map(|c| control_event(&base, c, input.lang)),
    );
    out
}

/// The events as JSON Lines: one compact object per line, UTF-8, `\n` after each.
pub fn render_jsonl(input: &ReportInput<'_>) -> String {
    let mut s = String::new();
    for e in events(input) {
        s.push_str(&e.to_string());
        s.push('\n');
    }
    s
}

/// What every event of one assessment shares.
struct Base {
    timestamp: String,
    created: String,
    scan_ids: Vec<String>,
    scan_ref: String,
    observer: Value,
    site: Value,
    vantage_zones: Vec<String>,
}

impl Base {
    fn new(input: &ReportInput<'_>) -> Base {
        let a: &Assessment = input.assessment;
        let started = crate::diff::scan_started(a, input.observations);
        let mut scan_ids: Vec<String> = a.observations.iter().map(|o| o.id.clone()).collect();
        scan_ids.sort();
        scan_ids.dedup();
        let mut zones: Vec<String> = a
            .observations
            .iter()
            .filter_map(|o| o.vantage_zone.clone())
            .collect();
        zones.sort();
        zones.dedup();
        let mut observer = Map::new();
        observer.insert("vendor".into(), json!("clinicscan"));
        observer.insert("product".into(), json!("clinicscan"));
        observer.insert("type".into(), json!("scanner"));
        observer.insert("version".into(), json!(a.tool_version));
        if let Some(v) = input.observations.first().map(|o| &o.scan.vantage) {
            if let Some(h) = &v.hostname {
                observer.insert("hostname".into(), json!(h));
            }
            if !v.addresses.is_empty() {
                observer.insert("ip".into(), json!(v.addresses));
            }
        }
        let mut site = Map::new();
        if let Some(id) = &a.site_id {
            site.insert("id".into(), json!(id));
        }
        if let Some(name) = &a.site {
            site.insert("name".into(), json!(name));
        }
        Base {
            timestamp: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            created: a
                .generated
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            scan_ref: if scan_ids.is_empty() {
                a.generated.to_rfc3339()
            } else {
                scan_ids.join(",")
            },
            scan_ids,
            observer: Value::Object(observer),
            site: Value::Object(site),
            vantage_zones: zones,
        }
    }

    fn event(&self, dataset: &str, id: String, category: &str, severity: u8) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("@timestamp".into(), json!(self.timestamp));
        m.insert("ecs".into(), json!({ "version": ECS_VERSION }));
        m.insert(
            "event".into(),
            json!({
                "kind": "state",
                "category": [category],
                "type": ["info"],
                "module": "clinicscan",
                "dataset": dataset,
                "provider": "clinicscan",
                "id": id,
                "severity": severity,
                "created": self.created,
            }),
        );
        m.insert("observer".into(), self.observer.clone());
        m
    }

    fn clinicscan(&self, lang: Lang) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("schema".into(), json!(EVENT_SCHEMA));
        c.insert("lang".into(), json!(lang_str(lang)));
        c.insert("site".into(), self.site.clone());
        c.insert("scan".into(), json!({ "ids": self.scan_ids }));
        c.insert("vantage_zones".into(), json!(self.vantage_zones));
        c
    }
}

fn lang_str(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "ja",
        Lang::En => "en",
    }
}

/// `event.severity`: Elastic's detection-rule steps.
fn severity_number(s: Severity) -> u8 {
    match s {
        Severity::Critical => 99,
        Severity::High => 73,
        Severity::Medium => 47,
        Severity::Low => 21,
        Severity::Info => 0,
    }
}

/// `vulnerability.severity`: ECS's examples spell it capitalised.
fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

fn transport(t: Transport) -> &'static str {
    match t {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    }
}

fn finding_event(base: &Base, input: &ReportInput<'_>, f: &Finding) -> Value {
    let lang = input.lang;
    let mut m = base.event(
        "clinicscan.finding",
        format!("{}/{}", base.scan_ref, f.key),
        "vulnerability",
        severity_number(f.severity),
    );
    let target = match (f.port, f.transport) {
        (Some(p), Some(t)) => format!("{}:{p}/{}", f.host, transport(t)),
        (Some(p), None) => format!("{}:{p}", f.host),
        _ => f.host.to_string(),
    };
    m.insert(
        "message".into(),
        json!(format!(
            "[{}] {} ({target})",
            f.severity.as_str(),
            f.title.get(lang)
        )),
    );
    let mut host = Map::new();
    host.insert("ip".into(), json!([f.host]));
    if let Some(name) = input
        .observations
        .iter()
        .flat_map(|o| o.hosts.iter())
        .find(|h| h.address == f.host)
        .and_then(|h| h.names.first())
    {
        host.insert("hostname".into(), json!(name.name));
    }
    m.insert("host".into(), Value::Object(host));
    let mut destination = Map::new();
    destination.insert("ip".into(), json!(f.host));
    if let Some(p) = f.port {
        destination.insert("port".into(), json!(p));
    }
    m.insert("destination".into(), Value::Object(destination));
    if let Some(t) = f.transport {
        m.insert("network".into(), json!({ "transport": transport(t) }));
    }
    m.insert(
        "rule".into(),
        json!({
            "id": f.rule_id,
            "name": f.title.get(lang),
            "description": f.description.get(lang),
            "ruleset": "clinicscan",
        }),
    );
    m.insert(
        "vulnerability".into(),
        json!({
            "id": f.rule_id,
            "severity": severity_word(f.severity),
            "description": f.description.get(lang),
            "category": ["network"],
            "scanner": { "vendor": "clinicscan" },
        }),
    );
    let mut c = base.clinicscan(lang);
    let mut finding = Map::new();
    finding.insert("key".into(), json!(f.key));
    finding.insert(
        "certainty".into(),
        json!(match f.certainty {
            clinicscan_model::Certainty::Fact => "fact",
            clinicscan_model::Certainty::Guess => "guess",
        }),
    );
    finding.insert("remediation".into(), json!(f.remediation.get(lang)));
    finding.insert("controls".into(), json!(f.controls));
    finding.insert(
        "evidence".into(),
        Value::Array(
            f.evidence
                .iter()
                .map(|e| json!({ "key": e.key, "value": e.value }))
                .collect(),
        ),
    );
    if let Some(z) = &f.zone {
        finding.insert("zone".into(), json!(z));
    }
    if let Some(z) = &f.vantage_zone {
        finding.insert("vantage_zone".into(), json!(z));
    }
    c.insert("finding".into(), Value::Object(finding));
    m.insert("clinicscan".into(), Value::Object(c));
    Value::Object(m)
}

fn status_str(s: ControlStatus) -> &'static str {
    s.as_str()
}

fn control_event(base: &Base, c: &ControlResult, lang: Lang) -> Value {
    let (outcome, severity) = match c.status {
        ControlStatus::Fail => ("failure", 47),
        ControlStatus::Pass => ("success", 0),
        ControlStatus::NotVerified | ControlStatus::NotAssessableByScan => ("unknown", 0),
    };
    let mut m = base.event(
        "clinicscan.control",
        format!("{}/control/{}", base.scan_ref, c.id),
        "configuration",
        severity,
    );
    if let Some(Value::Object(event)) = m.get_mut("event") {
        event.insert("outcome".into(), json!(outcome));
    }
    m.insert(
        "message".into(),
        json!(format!(
            "[{}] {} {}",
            status_str(c.status),
            c.id,
            c.title.get(lang)
        )),
    );
    let mut x = base.clinicscan(lang);
    x.insert(
        "control".into(),
        json!({
            "id": c.id,
            "edition": c.edition,
            "title": c.title.get(lang),
            "status": status_str(c.status),
            "source": c.source,
            "rule_ids": c.rule_ids,
            "finding_count": c.finding_count,
        }),
    );
    m.insert("clinicscan".into(), Value::Object(x));
    Value::Object(m)
}
