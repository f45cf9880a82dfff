//! Data tables rules read through `ctx`: known-exploited version ranges
//! (`rules/data/kev.toml`) and port classes (`rules/data/ports.toml`).

use clinicscan_model::Transport;
use serde::{Deserialize, Serialize};

use crate::catalogue::Verification;
use crate::error::{LoadError, toml_message};
use crate::site::{PortRange, parse_port_range};
use crate::version::{compare_versions, looks_like_version};

/// One affected version range.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffectedRange {
    /// A whole release branch is affected ("6.0": every 6.0.x), with no fix in it.
    pub branch: Option<String>,
    /// First affected version (inclusive).
    #[serde(default)]
    pub introduced: String,
    /// First fixed version (exclusive end), when the branch has a fix.
    pub fixed: Option<String>,
    /// Last affected version (inclusive end), when no fixed version is given.
    pub last_affected: Option<String>,
}

impl AffectedRange {
    fn contains(&self, v: &str) -> bool {
        use std::cmp::Ordering::*;
        if let Some(b) = &self.branch {
            return crate::version::in_branch(v, b);
        }
        if compare_versions(v, &self.introduced) == Less {
            return false;
        }
        match (&self.fixed, &self.last_affected) {
            (Some(f), _) => compare_versions(v, f) == Less,
            (None, Some(l)) => compare_versions(v, l) != Greater,
            (None, None) => true,
        }
    }
}

/// One known-exploited vulnerability and the versions it affects.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KevEntry {
    /// CVE id.
    pub cve: String,
    /// Vendor as products report it (matched case-insensitively as a substring).
    pub vendor: String,
    /// Other names the vendor's products report (e.g. "Pulse Secure" for Ivanti).
    #[serde(default)]
    pub vendor_aliases: Vec<String>,
    /// Product name fragments (case-insensitive substrings of the reported product).
    pub products: Vec<String>,
    /// Short name of the flaw.
    pub summary: String,
    /// Listed in the CISA KEV catalogue.
    pub kev: bool,
    /// Date added to KEV, when listed.
    pub kev_added: Option<String>,
    /// Affected ranges.
    pub affected: Vec<AffectedRange>,
    /// Public advisories.
    pub sources: Vec<String>,
    /// How well the ranges were verified.
    pub verification: Verification,
    /// Caveats (e.g. "5.x: no fix in branch").
    pub note: Option<String>,
}

/// A KEV entry that matched a product version, as rules see it in `ctx.kev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KevMatch {
    /// CVE id.
    pub cve: String,
    /// Product as reported.
    pub product: String,
    /// Version as reported.
    pub version: String,
    /// The fixed version of the matching range, if any.
    pub fixed: Option<String>,
    /// Listed in CISA KEV.
    pub kev: bool,
    /// Short name of the flaw.
    pub summary: String,
    /// First source.
    pub source: String,
    /// Verification tag of the ranges.
    pub verification: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KevFile {
    #[serde(default)]
    entry: Vec<KevEntry>,
}

/// The known-exploited version table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KevTable {
    entries: Vec<KevEntry>,
}

impl KevTable {
    /// Parses a table.
    pub fn parse(text: &str, file: &str) -> Result<KevTable, LoadError> {
        let parsed: KevFile = toml::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            message: toml_message(&e, text),
        })?;
        for e in &parsed.entry {
            let bad = |p: &str| LoadError::Item {
                file: file.to_string(),
                kind: "kev entry",
                id: e.cve.clone(),
                problem: p.to_string(),
            };
            if e.affected.is_empty() {
                return Err(bad("no affected ranges"));
            }
            if e.products.is_empty() {
                return Err(bad("no products"));
            }
            if e.sources.is_empty() {
                return Err(bad("no sources"));
            }
            for r in &e.affected {
                if r.branch.is_none() && r.introduced.is_empty() {
                    return Err(bad("a range needs `introduced` or `branch`"));
                }
                if let Some(f) = &r.fixed
                    && compare_versions(f, &r.introduced) != std::cmp::Ordering::Greater
                {
                    return Err(bad(&format!(
                        "fixed {f} is not after introduced {}",
                        r.introduced
                    )));
                }
            }
        }
        Ok(KevTable {
            entries: parsed.entry,
        })
    }

    /// All entries.
    pub fn entries(&self) -> &[KevEntry] {
        &self.entries
    }

    /// Entries whose vendor and product match and whose ranges hold the version.
    pub fn lookup(&self, vendor: Option<&str>, product: &str, version: &str) -> Vec<KevMatch> {
        if !looks_like_version(version) {
            return Vec::new();
        }
        let product_l = product.to_ascii_lowercase();
        let vendor_l = vendor.map(str::to_ascii_lowercase);
        self.entries
            .iter()
            .filter(|e| {
                let vendor_ok = std::iter::once(&e.vendor)
                    .chain(e.vendor_aliases.iter())
                    .map(|n| n.to_ascii_lowercase())
                    .any(|ev| match &vendor_l {
                        Some(v) => v.contains(&ev) || ev.contains(v.as_str()),
                        None => product_l.contains(&ev),
                    });
                vendor_ok
                    && e.products
                        .iter()
                        .any(|p| product_l.contains(&p.to_ascii_lowercase()))
            })
            .filter_map(|e| {
                let range = e.affected.iter().find(|r| r.contains(version))?;
                Some(KevMatch {
                    cve: e.cve.clone(),
                    product: product.to_string(),
                    version: version.to_string(),
                    fixed: range.fixed.clone(),
                    kev: e.kev,
                    summary: e.summary.clone(),
                    source: e.sources.first().cloned().unwrap_or_default(),
                    verification: format!("{:?}", e.verification),
                })
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortsFile {
    #[serde(default)]
    class: Vec<RawClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: String,
    ports: Vec<String>,
}

/// Named port classes ("remote-access", "database", ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortClasses {
    classes: Vec<(String, Vec<PortRange>)>,
}

impl PortClasses {
    /// Parses the table.
    pub fn parse(text: &str, file: &str) -> Result<PortClasses, LoadError> {
        let parsed: PortsFile = toml::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            message: toml_message(&e, text),
        })?;
        let mut classes = Vec::new();
        for c in parsed.class {
            let mut ranges = Vec::new();
            for p in &c.ports {
                ranges.push(parse_port_range(p).map_err(|m| LoadError::Item {
                    file: file.to_string(),
                    kind: "port class",
                    id: c.name.clone(),
                    problem: m,
                })?);
            }
            classes.push((c.name, ranges));
        }
        Ok(PortClasses { classes })
    }

    /// Names of the classes holding this port.
    pub fn classes_of(&self, transport: Transport, port: u16) -> Vec<String> {
        self.classes
            .iter()
            .filter(|(_, r)| r.iter().any(|r| r.contains(transport, port)))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"
[[entry]]
cve = "CVE-2022-42475"
vendor = "Fortinet"
products = ["FortiGate", "FortiOS"]
summary = "heap overflow"
kev = true
sources = ["https://example.invalid"]
verification = "S"
affected = [
  { introduced = "7.2.0", fixed = "7.2.3" },
  { introduced = "5.0.0", last_affected = "5.6.14" },
  { branch = "6.0" },
]
"#;

    #[test]
    fn lookup_by_branch() {
        let t = KevTable::parse(TABLE, "t.toml").unwrap();
        let m = t.lookup(Some("Fortinet"), "FortiGate SSL-VPN", "7.2.2");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].fixed.as_deref(), Some("7.2.3"));
        assert!(
            t.lookup(Some("Fortinet"), "FortiGate SSL-VPN", "7.2.3")
                .is_empty()
        );
        assert!(
            t.lookup(Some("Fortinet"), "FortiGate SSL-VPN", "7.0.1")
                .is_empty()
        );
        assert_eq!(t.lookup(Some("Fortinet"), "FortiGate", "6.0.18").len(), 1);
        assert!(t.lookup(Some("Fortinet"), "FortiGate", "6.2.0").is_empty());
        assert_eq!(t.lookup(None, "Fortinet FortiOS", "5.6.3").len(), 1);
        assert!(t.lookup(Some("Cisco"), "FortiGate", "7.2.2").is_empty());
        assert!(
            t.lookup(Some("Fortinet"), "FortiGate", "unknown")
                .is_empty()
        );
    }

    #[test]
    fn reversed_range_is_an_error() {
        let bad = TABLE.replace("fixed = \"7.2.3\"", "fixed = \"7.1.0\"");
        let e = KevTable::parse(&bad, "t.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.toml: kev entry CVE-2022-42475: fixed 7.1.0 is not after introduced 7.2.0"
        );
    }
}
