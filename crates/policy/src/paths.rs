//! Every path a rule names, checked against the Observation's JSON Schema (and the
//! documented `ctx` fields) when the rule loads: a misspelt fact is a load error naming the
//! path, not a rule that silently never applies.
//!
//! Checked: `requires`, `requires_any`, `evidence`, `checks.facts`, `{path}` placeholders
//! in the texts, and the field selections of the CEL condition (also on the variable of a
//! comprehension over a list, as in `host.services.exists(s, s.facts.tls …)`).

use std::collections::HashMap;
use std::sync::OnceLock;

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr};
use serde_json::{Value as Json, json};

use crate::rules::Scope;

/// The schema of one variable's value, as a JSON Schema node plus the document holding
/// its `$defs`.
#[derive(Clone, Copy)]
struct Node<'a> {
    doc: &'a Json,
    schema: &'a Json,
}

/// The Observation schema, parsed once.
fn observation() -> &'static Json {
    static DOC: OnceLock<Json> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(&clinicscan_model::observation_schema()).unwrap_or(Json::Null)
    })
}

/// What evaluation puts in `ctx` (docs/rules.md, "Variables"), as a schema.
fn ctx_schema() -> &'static Json {
    static DOC: OnceLock<Json> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = json!({"type": ["string", "null"]});
        let flag = json!({"type": ["boolean", "null"]});
        let texts = json!({"type": "object", "properties": {
            "ja": {"type": "string"}, "en": {"type": "string"}}});
        let kev = json!({"type": "object", "properties": {
            "cve": text, "product": text, "version": text, "fixed": text,
            "last_affected": text, "recommended": text, "branch": text, "before": text, "kev": flag,
            "summary": text, "source": text, "verification": text}});
        let eol = json!({"type": "object", "properties": {
            "product": text, "end_of_support": text, "ended": flag, "basis": text,
            "value": text, "verification": text}});
        json!({"type": "object", "properties": {
            "vantage_zone": text, "vantage_zone_kind": text,
            "host_zone": text, "host_zone_kind": text, "host_role": text,
            "oqv_policy": flag, "cross_zone": flag, "flow_allowed": flag,
            "egress_target": flag, "public_address": flag,
            "assets_listed": flag, "known_asset": flag,
            "kev": {"type": "array", "items": kev},
            "kev_unverified": {"type": "array", "items": kev},
            "kev_summary": texts, "kev_unverified_summary": texts,
            "eol": {"type": "array", "items": eol}, "eol_summary": texts,
            "port_classes": {"type": "array", "items": {"type": "string"}},
            "same_cert_hosts": {"type": "integer"},
            "observation_id": text,
        }})
    })
}

/// The root node of a rule variable, if it exists for the scope.
fn root(name: &str, scope: Scope) -> Option<Node<'static>> {
    let obs = observation();
    let def = |d: &str| obs.pointer(&format!("/$defs/{d}"));
    let schema = match (name, scope) {
        ("host", Scope::Host | Scope::Service) => def("Host")?,
        ("service", Scope::Service) => def("Service")?,
        ("attempt", Scope::Egress) => def("EgressAttempt")?,
        ("ctx", _) => {
            let c = ctx_schema();
            return Some(Node { doc: c, schema: c });
        }
        _ => return None,
    };
    Some(Node { doc: obs, schema })
}

impl<'a> Node<'a> {
    /// Follows `$ref`, and an `anyOf`/`oneOf` of one schema and null (an `Option`).
    fn resolve(self) -> Node<'a> {
        let mut n = self;
        for _ in 0..16 {
            if let Some(r) = n.schema.get("$ref").and_then(Json::as_str) {
                match r.strip_prefix('#').and_then(|p| n.doc.pointer(p)) {
                    Some(s) => {
                        n.schema = s;
                        continue;
                    }
                    None => return n,
                }
            }
            let alts = n
                .schema
                .get("anyOf")
                .or_else(|| n.schema.get("oneOf"))
                .and_then(Json::as_array);
            if let Some(alts) = alts {
                let non_null: Vec<&Json> = alts
                    .iter()
                    .filter(|a| a.get("type").and_then(Json::as_str) != Some("null"))
                    .collect();
                if let [one] = non_null.as_slice() {
                    n.schema = one;
                    continue;
                }
            }
            return n;
        }
        n
    }

    /// The node of one path segment below this one.
    fn child(self, seg: &str) -> Result<Node<'a>, String> {
        let n = self.resolve();
        if let Some(props) = n.schema.get("properties").and_then(Json::as_object) {
            return props
                .get(seg)
                .map(|s| Node {
                    doc: n.doc,
                    schema: s,
                })
                .ok_or_else(|| {
                    let mut known: Vec<&str> = props.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    format!("no field {seg:?} (known: {})", known.join(", "))
                });
        }
        if let Some(items) = n.schema.get("items") {
            return if seg.parse::<usize>().is_ok() {
                Ok(Node {
                    doc: n.doc,
                    schema: items,
                })
            } else {
                Err(format!("{seg:?} selects a field of a list"))
            };
        }
        if let Some(extra) = n
            .schema
            .get("additionalProperties")
            .filter(|a| a.is_object())
        {
            return Ok(Node {
                doc: n.doc,
                schema: extra,
            });
        }
        // A union of several shapes (e.g. an enum with data) is not walked into.
        if n.schema.get("anyOf").is_some() || n.schema.get("oneOf").is_some() {
            return Ok(n);
        }
        Err(format!("{seg:?} selects a field of a value that has none"))
    }

    /// The node of a list's items, when this is a list.
    fn items(self) -> Option<Node<'a>> {
        let n = self.resolve();
        n.schema.get("items").map(|s| Node {
            doc: n.doc,
            schema: s,
        })
    }
}

/// Checks a dotted path ("service.facts.rdp.nla_required") for a rule of this scope.
pub(crate) fn check_path(path: &str, scope: Scope) -> Result<(), String> {
    let mut segs = path.split('.');
    let first = segs.next().unwrap_or("");
    let Some(mut node) = root(first, scope) else {
        return Err(match scope {
            Scope::Host => format!("path {path:?} must start with host. or ctx."),
            Scope::Service => {
                format!("path {path:?} must start with host., service. or ctx.")
            }
            Scope::Egress => format!("path {path:?} must start with attempt. or ctx."),
        });
    };
    let mut walked = first.to_string();
    for seg in segs {
        node = node
            .child(seg)
            .map_err(|why| format!("path {path:?}: after {walked}: {why}"))?;
        walked.push('.');
        walked.push_str(seg);
    }
    Ok(())
}

/// The `{path}` placeholders of a text, as interpolation reads them.
pub(crate) fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if is_placeholder(&after[..end]) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// What interpolation treats as a path: a word starting with one of the variables.
pub(crate) fn is_placeholder(s: &str) -> bool {
    s.starts_with(['h', 's', 'c', 'a']) && !s.contains(' ')
}

/// CEL names that are types or constants rather than variables.
const CEL_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
    "timestamp",
    "duration",
];

/// Checks the variables and field selections of a compiled condition.
pub(crate) fn check_condition(expr: &IdedExpr, scope: Scope) -> Result<(), String> {
    let mut vars: HashMap<String, Option<Node<'static>>> = HashMap::new();
    walk(expr, scope, &mut vars)
}

fn walk(
    e: &IdedExpr,
    scope: Scope,
    vars: &mut HashMap<String, Option<Node<'static>>>,
) -> Result<(), String> {
    match &e.expr {
        Expr::Select(_) | Expr::Ident(_) => {
            if let Some((root_name, segs, base)) = chain(e) {
                check_chain(root_name, &segs, scope, vars)?;
                if let Some(b) = base {
                    walk(b, scope, vars)?;
                }
                Ok(())
            } else if let Expr::Select(s) = &e.expr {
                walk(&s.operand, scope, vars)
            } else {
                Ok(())
            }
        }
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                walk(t, scope, vars)?;
            }
            for a in &c.args {
                walk(a, scope, vars)?;
            }
            Ok(())
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, scope, vars)?;
            let item = node_of(&c.iter_range, scope, vars).and_then(Node::items);
            walk(&c.accu_init, scope, vars)?;
            let saved: Vec<(String, Option<Option<Node<'static>>>)> = [&c.iter_var, &c.accu_var]
                .into_iter()
                .chain(c.iter_var2.as_ref())
                .map(|v| (v.clone(), vars.get(v).cloned()))
                .collect();
            vars.insert(c.iter_var.clone(), item);
            if let Some(v2) = &c.iter_var2 {
                vars.insert(v2.clone(), None);
            }
            vars.insert(c.accu_var.clone(), None);
            let r = walk(&c.loop_cond, scope, vars)
                .and_then(|_| walk(&c.loop_step, scope, vars))
                .and_then(|_| walk(&c.result, scope, vars));
            for (name, old) in saved {
                match old {
                    Some(v) => vars.insert(name, v),
                    None => vars.remove(&name),
                };
            }
            r
        }
        Expr::List(l) => l.elements.iter().try_for_each(|x| walk(x, scope, vars)),
        Expr::Map(m) => m.entries.iter().try_for_each(|en| match &en.expr {
            EntryExpr::MapEntry(me) => {
                walk(&me.key, scope, vars).and_then(|_| walk(&me.value, scope, vars))
            }
            EntryExpr::StructField(sf) => walk(&sf.value, scope, vars),
        }),
        Expr::Struct(s) => s.entries.iter().try_for_each(|en| match &en.expr {
            EntryExpr::MapEntry(me) => walk(&me.value, scope, vars),
            EntryExpr::StructField(sf) => walk(&sf.value, scope, vars),
        }),
        Expr::Literal(_) | Expr::Unspecified => Ok(()),
    }
}

/// A chain of field selections on an identifier: (identifier, fields, None), or on some
/// other expression (a call, an index): (that expression's text is not a name).
fn chain(e: &IdedExpr) -> Option<(&str, Vec<&str>, Option<&IdedExpr>)> {
    let mut segs = Vec::new();
    let mut cur = e;
    loop {
        match &cur.expr {
            Expr::Select(s) => {
                segs.push(s.field.as_str());
                cur = &s.operand;
            }
            Expr::Ident(name) => {
                segs.reverse();
                return Some((name.as_str(), segs, None));
            }
            _ => return None,
        }
    }
}

fn check_chain(
    root_name: &str,
    segs: &[&str],
    scope: Scope,
    vars: &HashMap<String, Option<Node<'static>>>,
) -> Result<(), String> {
    let start = match vars.get(root_name) {
        Some(Some(n)) => *n,
        // A comprehension variable of unknown shape: nothing to check against.
        Some(None) => return Ok(()),
        None => match root(root_name, scope) {
            Some(n) => n,
            None if CEL_NAMES.contains(&root_name) && segs.is_empty() => return Ok(()),
            None if root_name == "service" && scope == Scope::Host => {
                return Err("a host rule cannot use `service`".into());
            }
            None => {
                return Err(format!(
                    "unknown variable {root_name:?} in the condition (rules see {})",
                    scope.variables()
                ));
            }
        },
    };
    let mut node = start;
    let mut walked = root_name.to_string();
    for seg in segs {
        node = node
            .child(seg)
            .map_err(|why| format!("condition: {walked}.{seg}: after {walked}: {why}"))?;
        walked.push('.');
        walked.push_str(seg);
    }
    Ok(())
}

/// The schema node an expression selects, when it is a checkable chain.
fn node_of(
    e: &IdedExpr,
    scope: Scope,
    vars: &HashMap<String, Option<Node<'static>>>,
) -> Option<Node<'static>> {
    let (root_name, segs, _) = chain(e)?;
    let mut node = match vars.get(root_name) {
        Some(n) => (*n)?,
        None => root(root_name, scope)?,
    };
    for seg in segs {
        node = node.child(seg).ok()?;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(src: &str, scope: Scope) -> Result<(), String> {
        let env = crate::rules::cel_env();
        let p = env.compile(src).map_err(|e| e.to_string())?;
        check_condition(p.expression(), scope)
    }

    #[test]
    fn paths_follow_the_observation_schema() {
        assert_eq!(
            check_path("service.facts.rdp.nla_required", Scope::Service),
            Ok(())
        );
        assert_eq!(
            check_path("service.facts.tls.certificate.key_bits", Scope::Service),
            Ok(())
        );
        assert_eq!(check_path("host.names", Scope::Host), Ok(()));
        assert_eq!(check_path("host.services.0.port", Scope::Host), Ok(()));
        assert_eq!(check_path("ctx.kev", Scope::Service), Ok(()));
        let e = check_path("service.facts.rdp.nla_requierd", Scope::Service).unwrap_err();
        assert!(
            e.starts_with(
                "path \"service.facts.rdp.nla_requierd\": after service.facts.rdp: no field \"nla_requierd\" (known: "
            ),
            "{e}"
        );
        assert!(check_path("ctx.vantage_zone_knd", Scope::Host).is_err());
        assert!(check_path("service.port", Scope::Host).is_err());
        assert!(check_path("host.services.port", Scope::Host).is_err());
        assert!(check_path("host.address.x", Scope::Host).is_err());
    }

    #[test]
    fn conditions_are_checked_through_comprehensions() {
        assert_eq!(
            cond(
                "host.services.exists(s, has(s.facts.tls) && s.facts.tls.accepted_versions.exists(v, v == 'SSLv3'))",
                Scope::Host
            ),
            Ok(())
        );
        assert_eq!(
            cond(
                "ctx.kev.exists(k, k.verification != 'U') && size(ctx.kev) > 0",
                Scope::Service
            ),
            Ok(())
        );
        let e = cond(
            "host.services.exists(s, s.facts.tsl.via == 'rdp')",
            Scope::Host,
        )
        .unwrap_err();
        assert!(e.contains("no field \"tsl\""), "{e}");
        let e = cond("servce.port == 3389", Scope::Service).unwrap_err();
        assert!(e.starts_with("unknown variable \"servce\""), "{e}");
        assert_eq!(
            cond("service.port == 1", Scope::Host).unwrap_err(),
            "a host rule cannot use `service`"
        );
        assert_eq!(cond("'a,b'.split(',').size() == 2", Scope::Host), Ok(()));
        assert_eq!(
            cond("[1, 2].map(x, x + 1).size() == 2", Scope::Host),
            Ok(())
        );
        assert_eq!(cond("type(1) == int", Scope::Host), Ok(()));
    }

    #[test]
    fn placeholders_are_the_interpolated_words() {
        assert_eq!(
            placeholders("port {service.port} on {host.address} {not a path} {x}"),
            vec!["service.port", "host.address"]
        );
    }
}
