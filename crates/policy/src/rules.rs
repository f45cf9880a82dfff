//! Rules as data: TOML files with CEL conditions, compiled once.
//!
//! See `docs/rules.md` for the format and why CEL was chosen.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use cel::{Env, Program};
use clinicscan_model::{Certainty, Severity, Text};
use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::data::{DataTree, EolTable, KevTable, PortClasses};
use crate::error::{LoadError, Position, toml_message};
use crate::paths;
use crate::site::ZoneKind;

/// What one evaluation of a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Once per live host: variables `host` and `ctx`.
    Host,
    /// Once per open service: variables `host`, `service` and `ctx`.
    Service,
    /// Once per egress attempt the scan made (`egress` in the Observation): variables
    /// `attempt` and `ctx`.
    Egress,
}

impl Scope {
    /// The variables a rule of this scope sees, for messages.
    pub(crate) fn variables(self) -> &'static str {
        match self {
            Scope::Host => "host, ctx",
            Scope::Service => "host, service, ctx",
            Scope::Egress => "attempt, ctx",
        }
    }
}

/// What a site file must hold for a rule to judge anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SiteNeed {
    /// Zones (every segmentation rule).
    Zones,
    /// An asset register (台帳).
    Assets,
    /// Egress check targets.
    EgressTargets,
    /// The closed-network check turned on (`[closed_network] enabled = true`).
    ClosedNetwork,
}

impl SiteNeed {
    /// Kebab-case name as in the rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteNeed::Zones => "zones",
            SiteNeed::Assets => "assets",
            SiteNeed::EgressTargets => "egress-targets",
            SiteNeed::ClosedNetwork => "closed-network",
        }
    }
}

/// What makes a rule's evaluation count as a check, i.e. as evidence for its controls
/// when it does not fire (`checks = { … }` in the rule file, docs/rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    /// Paths that must all be present on an input (besides `requires`) for a quiet result
    /// to count; where `requires` holds and one is missing, the fact is reported unknown.
    pub facts: Vec<String>,
    /// Vantage zone kinds the rule judges from; empty: any. The rule runs only on
    /// Observations made from these kinds, and without one its controls are not verified.
    pub vantage: Vec<ZoneKind>,
    /// The rule judges traffic between zones: it needs a site's zones and is checked per
    /// zone pair probed; every pair from a `vantage` kind to a `to` kind must be probed.
    pub zone_pair: bool,
    /// Zone-pair rules: the kinds of the zones reached that the rule judges; empty: any.
    pub to: Vec<ZoneKind>,
    /// The rule judges the site's egress targets, as tried from its vantage kinds.
    pub egress: bool,
    /// The rule judges the closed network's fingerprints, as tried from its vantage kinds.
    pub closed_network: bool,
    /// What the site file must hold (implied: zones for `zone_pair`, egress targets for
    /// `egress`, the closed-network check for `closed_network`).
    pub site: Vec<SiteNeed>,
    /// Service rules: a failure of this probe on a port the rule looks at (and no other
    /// protocol identified there) is reported as a missing check.
    pub probe: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    #[serde(default)]
    facts: Vec<String>,
    #[serde(default)]
    vantage: Vec<ZoneKind>,
    #[serde(default)]
    zone_pair: bool,
    #[serde(default)]
    to: Vec<ZoneKind>,
    #[serde(default)]
    egress: bool,
    #[serde(default)]
    closed_network: bool,
    #[serde(default)]
    site: Vec<SiteNeed>,
    probe: Option<String>,
}

/// One rule, loaded and compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id, e.g. "rdp-nla-not-required".
    pub id: String,
    /// Severity of a finding.
    pub severity: Severity,
    /// Host or service.
    pub scope: Scope,
    /// The CEL condition as written.
    pub condition: String,
    /// Paths that must be present and non-null for the rule to apply (e.g.
    /// "service.facts.rdp"); where they are absent the rule does not apply to that input.
    pub requires: Vec<String>,
    /// Paths of which at least one must be present (when non-empty).
    pub requires_any: Vec<String>,
    /// Port states a service rule looks at (default: open).
    pub states: Vec<String>,
    /// Controls the rule evidences (catalogue ids).
    pub controls: Vec<String>,
    /// Fact or guess.
    pub certainty: Certainty,
    /// Title.
    pub title: Text,
    /// Description; `{path}` placeholders are filled from the input.
    pub description: Text,
    /// Remediation.
    pub remediation: Text,
    /// Paths quoted as evidence.
    pub evidence: Vec<String>,
    /// Include the vantage zone in the finding key (segmentation: one finding per vantage).
    pub key_vantage: bool,
    /// Whether findings count towards control verdicts (false for pure inventory).
    pub affects_verdict: bool,
    /// What makes an evaluation of this rule a check.
    pub checks: Checks,
    /// The file the rule came from.
    pub file: String,
    pub(crate) program: Arc<Program>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    severity: String,
    scope: Scope,
    condition: String,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    requires_any: Vec<String>,
    #[serde(default)]
    states: Vec<String>,
    controls: Vec<String>,
    #[serde(default)]
    certainty: Certainty,
    title: Text,
    description: Text,
    remediation: Text,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    key_vantage: bool,
    #[serde(default = "yes")]
    affects_verdict: bool,
    checks: Option<RawChecks>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

const PORT_STATES: [&str; 4] = ["open", "closed", "filtered", "open-filtered"];

/// The CEL environment rules compile and run in: the standard library plus the
/// `strings` and `lists` extensions. `version_cmp(a, b)` is added per evaluation context.
pub(crate) fn cel_env() -> Arc<Env> {
    let mut env = Env::stdlib();
    // Both extensions only add overloads; failure would be a programming error in cel.
    let _ = env.add_extension(cel::extensions::strings);
    let _ = env.add_extension(cel::extensions::lists);
    Arc::new(env)
}

/// Compiles a CEL condition, mapping a parse error to its position (cel reports 1-based
/// lines and columns).
pub(crate) fn compile(
    env: &Env,
    source: &str,
    file: &str,
    kind: &'static str,
    id: &str,
) -> Result<Program, LoadError> {
    env.compile(source).map_err(|errs| {
        let first = errs.errors.first();
        let (line, column) = first
            .map(|e| (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize))
            .unwrap_or((1, 1));
        LoadError::Condition {
            file: file.to_string(),
            kind,
            id: id.to_string(),
            position: Position { line, column },
            message: first
                .map(|e| e.msg.clone())
                .unwrap_or_else(|| errs.to_string()),
        }
    })
}

fn parse_rules(
    file: &str,
    text: &str,
    env: &Env,
    catalogue: &Catalogue,
) -> Result<Vec<Rule>, LoadError> {
    let parsed: RuleFile = toml::from_str(text).map_err(|e| LoadError::Syntax {
        file: file.to_string(),
        message: toml_message(&e, text),
    })?;
    let mut out = Vec::new();
    for r in parsed.rule {
        let bad = |p: String| LoadError::Item {
            file: file.to_string(),
            kind: "rule",
            id: r.id.clone(),
            problem: p,
        };
        if r.id.is_empty()
            || !r
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        {
            return Err(bad(
                "id must be non-empty ASCII letters, digits, '-', '.', '_'".into(),
            ));
        }
        let severity = Severity::parse(&r.severity).ok_or_else(|| {
            bad(format!(
                "unknown severity {:?} (info, low, medium, high, critical)",
                r.severity
            ))
        })?;
        for (name, t) in [
            ("title", &r.title),
            ("description", &r.description),
            ("remediation", &r.remediation),
        ] {
            if t.ja.trim().is_empty() || t.en.trim().is_empty() {
                return Err(bad(format!("{name} needs both ja and en")));
            }
        }
        if r.controls.is_empty() {
            return Err(bad("a rule must evidence at least one control".into()));
        }
        for c in &r.controls {
            if catalogue.get(c).is_none() {
                return Err(bad(format!("unknown control {c:?}")));
            }
        }
        let Some(raw_checks) = r.checks else {
            return Err(bad(
                "`checks` is missing: say what the rule must see to count as checked, e.g. checks = { facts = [\"service.facts.rdp.nla_required\"] } (docs/rules.md)"
                    .into(),
            ));
        };
        let checks = Checks {
            facts: raw_checks.facts,
            vantage: raw_checks.vantage,
            zone_pair: raw_checks.zone_pair,
            to: raw_checks.to,
            egress: raw_checks.egress,
            closed_network: raw_checks.closed_network,
            site: raw_checks.site,
            probe: raw_checks.probe,
        };
        if !checks.to.is_empty() && !checks.zone_pair {
            return Err(bad("checks.to needs checks.zone_pair = true".into()));
        }
        if r.scope != Scope::Service && (checks.zone_pair || checks.probe.is_some()) {
            return Err(bad(
                "checks.zone_pair and checks.probe are for service rules".into(),
            ));
        }
        if (checks.egress || checks.closed_network) != (r.scope == Scope::Egress) {
            return Err(bad(
                "a rule of scope egress judges the site's egress targets (checks.egress = true) or the closed network's fingerprints (checks.closed_network = true), and only such a rule does"
                    .into(),
            ));
        }
        if checks.egress && checks.closed_network {
            return Err(bad(
                "checks.egress and checks.closed_network judge different attempts: choose one"
                    .into(),
            ));
        }
        let texts = [&r.title, &r.description, &r.remediation]
            .into_iter()
            .flat_map(|t| [t.ja.as_str(), t.en.as_str()])
            .flat_map(paths::placeholders);
        for p in r
            .evidence
            .iter()
            .chain(r.requires.iter())
            .chain(r.requires_any.iter())
            .chain(checks.facts.iter())
            .map(String::as_str)
            .chain(texts)
        {
            paths::check_path(p, r.scope).map_err(&bad)?;
        }
        for s in &r.states {
            if !PORT_STATES.contains(&s.as_str()) {
                return Err(bad(format!("unknown port state {s:?}")));
            }
        }
        if r.scope != Scope::Service && !r.states.is_empty() {
            return Err(bad("states only apply to service rules".into()));
        }
        let program = compile(env, &r.condition, file, "rule", &r.id)?;
        if r.scope == Scope::Host && program.references().has_variable("service") {
            return Err(bad("a host rule cannot use `service`".into()));
        }
        if r.scope == Scope::Egress
            && (program.references().has_variable("service")
                || program.references().has_variable("host"))
        {
            return Err(bad(
                "an egress rule sees `attempt` and `ctx`, not `host` or `service`".into(),
            ));
        }
        paths::check_condition(program.expression(), r.scope).map_err(&bad)?;
        out.push(Rule {
            id: r.id,
            severity,
            scope: r.scope,
            condition: r.condition,
            requires: r.requires,
            requires_any: r.requires_any,
            states: if r.states.is_empty() {
                vec!["open".into()]
            } else {
                r.states
            },
            controls: r.controls,
            certainty: r.certainty,
            title: r.title,
            description: r.description,
            remediation: r.remediation,
            evidence: r.evidence,
            key_vantage: r.key_vantage,
            affects_verdict: r.affects_verdict,
            checks,
            file: file.to_string(),
            program: Arc::new(program),
        });
    }
    Ok(out)
}

/// Compiled rules with the catalogue and data tables they use.
#[derive(Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) catalogue: Catalogue,
    pub(crate) kev: KevTable,
    pub(crate) eol: EolTable,
    pub(crate) ports: PortClasses,
    pub(crate) env: Arc<Env>,
    pub(crate) sources: Vec<clinicscan_model::DataSource>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("controls", &self.catalogue.controls().len())
            .finish()
    }
}

impl RuleSet {
    /// The shipped rules, catalogue and data tables (built into clinicscan from `rules/`).
    pub fn shipped() -> Result<RuleSet, LoadError> {
        RuleSet::load_with_data(None)
    }

    /// The rules, catalogue and data tables of the built-in copy with a data directory
    /// (same layout as `rules/`) laid over it file by file; `None`: the built-in copy.
    /// This is where a packaged copy (e.g. `/usr/share/clinicscan`) or a clinic's updated
    /// KEV and end-of-life tables come in.
    pub fn load_with_data(dir: Option<&Path>) -> Result<RuleSet, LoadError> {
        RuleSet::from_tree(&DataTree::load(dir)?)
    }

    /// The rules, catalogue and data tables of a data tree.
    pub fn from_tree(tree: &DataTree) -> Result<RuleSet, LoadError> {
        let catalogue = Catalogue::from_tree(tree)?;
        let kev_file = tree.require("data/kev.toml")?;
        let kev = KevTable::parse(&kev_file.text, &kev_file.name)?;
        let eol_file = tree.require("data/eol.toml")?;
        let eol = EolTable::parse(&eol_file.text, &eol_file.name)?;
        let ports_file = tree.require("data/ports.toml")?;
        let ports = PortClasses::parse(&ports_file.text, &ports_file.name)?;
        let mut sources: Vec<clinicscan_model::DataSource> = catalogue
            .editions()
            .iter()
            .map(|e| {
                crate::data::source(
                    &format!("controls/{}", e.key),
                    &e.file,
                    e.updated.as_deref(),
                )
            })
            .collect();
        sources.push(crate::data::source("kev", &kev_file.name, kev.updated()));
        sources.push(crate::data::source("eol", &eol_file.name, eol.updated()));
        sources.push(crate::data::source(
            "ports",
            &ports_file.name,
            ports.updated(),
        ));
        let files: Vec<(String, &str)> = tree
            .under("")
            .into_iter()
            .map(|f| (f.name.clone(), f.text.as_ref()))
            .collect();
        let mut set = RuleSet::from_parts(catalogue, kev, ports, &files)?;
        set.eol = eol;
        set.sources = sources;
        Ok(set)
    }

    /// Builds a rule set from rule files given as (file name, contents).
    pub fn from_parts(
        catalogue: Catalogue,
        kev: KevTable,
        ports: PortClasses,
        files: &[(String, &str)],
    ) -> Result<RuleSet, LoadError> {
        let env = cel_env();
        let mut rules: Vec<Rule> = Vec::new();
        let mut ids = BTreeSet::new();
        for (file, text) in files {
            for r in parse_rules(file, text, &env, &catalogue)? {
                if !ids.insert(r.id.clone()) {
                    return Err(LoadError::Item {
                        file: file.clone(),
                        kind: "rule",
                        id: r.id,
                        problem: "id defined twice".into(),
                    });
                }
                rules.push(r);
            }
        }
        Ok(RuleSet {
            rules,
            catalogue,
            kev,
            eol: EolTable::default(),
            ports,
            env,
            sources: Vec::new(),
        })
    }

    /// Adds the rule files (`*.toml`) of a user's directory. A rule whose id matches
    /// a loaded rule replaces it; new ids are added.
    pub fn with_user_dir(mut self, dir: &Path) -> Result<RuleSet, LoadError> {
        let io = |file: &Path, e: std::io::Error| LoadError::Io {
            file: file.display().to_string(),
            message: e.to_string(),
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut seen = BTreeSet::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            let file = path.display().to_string();
            for r in parse_rules(&file, &text, &self.env, &self.catalogue)? {
                if !seen.insert(r.id.clone()) {
                    return Err(LoadError::Item {
                        file,
                        kind: "rule",
                        id: r.id,
                        problem: "id defined twice in the user's rules".into(),
                    });
                }
                match self.rules.iter_mut().find(|x| x.id == r.id) {
                    Some(slot) => *slot = r,
                    None => self.rules.push(r),
                }
            }
        }
        Ok(self)
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A rule by id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The controls catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The known-exploited version table.
    pub fn kev(&self) -> &KevTable {
        &self.kev
    }

    /// The end-of-support table.
    pub fn eol(&self) -> &EolTable {
        &self.eol
    }

    /// The data tables used, each with its file and date (reports name them).
    pub fn data_sources(&self) -> &[clinicscan_model::DataSource] {
        &self.sources
    }
}
