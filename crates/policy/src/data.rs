//! The data clinicscan reads at run time, and the tables rules read through `ctx`:
//! known-exploited version ranges (`rules/data/kev.toml`), end-of-support dates
//! (`rules/data/eol.toml`) and port classes (`rules/data/ports.toml`).
//!
//! [`DataTree`] is the `rules/` tree: the copy built into clinicscan, with a data directory
//! laid over it file by file (`--data DIR`, `CLINICSCAN_DATA`), so a clinic updates the
//! KEV or end-of-life table, the catalogue or a rule without a rebuild. Every data table
//! states the date it was last reviewed (`updated = "YYYY-MM-DD"`), which reports name.

use std::borrow::Cow;
use std::path::Path;

use chrono::NaiveDate;
use clinicscan_model::{DataSource, Text, Transport};
use serde::{Deserialize, Serialize};

use crate::catalogue::Verification;
use crate::error::{LoadError, toml_message};
use crate::site::{PortRange, parse_port_range};
use crate::version::{compare_versions, looks_like_version};

/// One file of the `rules/` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Path under the tree's root, with `/`: "data/kev.toml", "controls/ons.toml".
    pub rel: String,
    /// How errors and reports name it: "rules/data/kev.toml" for the built-in copy, else
    /// the file's path.
    pub name: String,
    /// The contents.
    pub text: Cow<'static, str>,
}

/// The `rules/` tree: rules, controls catalogue, data tables and pre-check profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataTree {
    files: Vec<DataFile>,
}

impl DataTree {
    /// The copy built into clinicscan.
    pub fn shipped() -> DataTree {
        DataTree {
            files: crate::shipped::SHIPPED
                .iter()
                .map(|(rel, text)| DataFile {
                    rel: (*rel).to_string(),
                    name: format!("rules/{rel}"),
                    text: Cow::Borrowed(*text),
                })
                .collect(),
        }
    }

    /// The built-in copy with `dir` (when given) laid over it.
    pub fn load(dir: Option<&Path>) -> Result<DataTree, LoadError> {
        let tree = DataTree::shipped();
        match dir {
            Some(d) => tree.overlay(d),
            None => Ok(tree),
        }
    }

    /// Lays a directory of the same layout over this tree: each `*.toml` file at its top or
    /// in one of [`LAYOUT_DIRS`] replaces the file of the same relative path, or is added.
    /// Anything else in the directory is not data and is left alone.
    pub fn overlay(mut self, dir: &Path) -> Result<DataTree, LoadError> {
        let mut found = Vec::new();
        toml_files(dir, "", &mut found)?;
        for sub in LAYOUT_DIRS {
            let path = dir.join(sub);
            if path.is_dir() {
                toml_files(&path, &format!("{sub}/"), &mut found)?;
            }
        }
        if found.is_empty() {
            // Laying nothing over the built-in copy is almost always a wrong path.
            return Err(LoadError::Io {
                file: dir.display().to_string(),
                message:
                    "not a clinicscan data directory (it holds no *.toml file of the rules/ layout)"
                        .into(),
            });
        }
        found.sort();
        for (rel, path) in found {
            let text = std::fs::read_to_string(&path).map_err(|e| LoadError::Io {
                file: path.display().to_string(),
                message: e.to_string(),
            })?;
            let file = DataFile {
                rel: rel.clone(),
                name: path.display().to_string(),
                text: Cow::Owned(text),
            };
            match self.files.iter_mut().find(|f| f.rel == rel) {
                Some(slot) => *slot = file,
                None => self.files.push(file),
            }
        }
        self.files.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(self)
    }

    /// One file by its relative path.
    pub fn get(&self, rel: &str) -> Option<&DataFile> {
        self.files.iter().find(|f| f.rel == rel)
    }

    /// The files directly under `prefix` ("" for the top level, "controls/", "profiles/").
    pub fn under(&self, prefix: &str) -> Vec<&DataFile> {
        self.files
            .iter()
            .filter(|f| {
                f.rel
                    .strip_prefix(prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .collect()
    }

    /// A file that must exist.
    pub(crate) fn require(&self, rel: &str) -> Result<&DataFile, LoadError> {
        self.get(rel).ok_or_else(|| LoadError::Io {
            file: format!("rules/{rel}"),
            message: "missing from the data".into(),
        })
    }
}

/// The subdirectories of the rules layout; a data directory's other directories (a site
/// file's, a history database's) are not read as data.
const LAYOUT_DIRS: [&str; 3] = ["controls", "data", "profiles"];

/// The `*.toml` files directly in `dir`, with their path relative to the layout's top.
fn toml_files(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Io {
        file: dir.display().to_string(),
        message: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            let name = entry.file_name().to_string_lossy().into_owned();
            out.push((format!("{prefix}{name}"), path));
        }
    }
    Ok(())
}

/// Checks a data file's `updated` date: present and `YYYY-MM-DD`.
pub(crate) fn check_updated(updated: Option<&str>, file: &str) -> Result<String, LoadError> {
    let bad = |message: String| LoadError::Syntax {
        file: file.to_string(),
        message,
    };
    let d = updated.ok_or_else(|| {
        bad(
            "`updated = \"YYYY-MM-DD\"` is missing: reports name the date of every data table"
                .into(),
        )
    })?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map_err(|_| bad(format!("updated {d:?} is not a date (YYYY-MM-DD)")))?;
    Ok(d.to_string())
}

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
    /// Exclusive end of a range with no fix in it (older trains: migrate).
    pub before: Option<String>,
    /// The version the vendor recommends moving to, when its advisory names one rather
    /// than (or besides) the first fixed build.
    pub recommended: Option<String>,
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
        match (&self.fixed, &self.last_affected, &self.before) {
            (Some(f), _, _) => compare_versions(v, f) == Less,
            (None, Some(l), _) => compare_versions(v, l) != Greater,
            (None, None, Some(b)) => compare_versions(v, b) == Less,
            (None, None, None) => true,
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
    /// The last affected version of the matching range, when it has no fixed version.
    pub last_affected: Option<String>,
    /// The version the vendor recommends.
    pub recommended: Option<String>,
    /// The whole branch is affected with no fix in it.
    pub branch: Option<String>,
    /// The range ends before this version with no fix in it.
    pub before: Option<String>,
    /// First source.
    pub source: String,
    /// Verification tag of the ranges: V and S match as facts, U only as a guess.
    pub verification: String,
}

impl KevMatch {
    /// "CVE-2022-42475 (fixed in 7.2.3)" and its Japanese, saying what the data knows of
    /// the fix: the fixed build, the vendor's recommended version, or that the branch has
    /// none.
    pub fn summary(&self) -> Text {
        let cve = &self.cve;
        match (
            &self.fixed,
            &self.recommended,
            &self.last_affected,
            &self.branch,
        ) {
            (Some(f), _, _, _) => Text::new(
                format!("{cve}(修正版 {f})"),
                format!("{cve} (fixed in {f})"),
            ),
            (None, Some(r), Some(l), _) => Text::new(
                format!("{cve}({l} まで影響、ベンダー推奨 {r} 以降)"),
                format!("{cve} (affected through {l}; the vendor recommends {r} or later)"),
            ),
            (None, Some(r), None, _) => Text::new(
                format!("{cve}(ベンダー推奨 {r} 以降)"),
                format!("{cve} (the vendor recommends {r} or later)"),
            ),
            (None, None, Some(l), _) => Text::new(
                format!("{cve}({l} まで影響、修正版は勧告を確認)"),
                format!("{cve} (affected through {l}; see the advisory for the fixed version)"),
            ),
            (None, None, None, Some(b)) => Text::new(
                format!("{cve}({b} 系に修正版なし:サポート中の系列へ移行)"),
                format!("{cve} (no fix in the {b} branch: move to a supported branch)"),
            ),
            (None, None, None, None) if self.before.is_some() => {
                let b = self.before.as_deref().unwrap_or_default();
                Text::new(
                    format!("{cve}({b} より前の系列に修正版なし:サポート中の系列へ移行)"),
                    format!("{cve} (no fix in releases before {b}: move to a supported train)"),
                )
            }
            (None, None, None, None) => Text::new(
                format!("{cve}(修正版は勧告を確認)"),
                format!("{cve} (see the advisory for the fixed version)"),
            ),
        }
    }
}

/// Joins the summaries of several matches, in each language.
pub(crate) fn join_summaries(texts: impl IntoIterator<Item = Text>) -> Text {
    let (ja, en): (Vec<String>, Vec<String>) = texts.into_iter().map(|t| (t.ja, t.en)).unzip();
    Text::new(ja.join("、"), en.join(", "))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KevFile {
    updated: Option<String>,
    #[serde(default)]
    entry: Vec<KevEntry>,
}

/// The known-exploited version table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KevTable {
    entries: Vec<KevEntry>,
    updated: Option<String>,
}

impl KevTable {
    /// Parses a table; it must state its date (`updated`).
    pub fn parse(text: &str, file: &str) -> Result<KevTable, LoadError> {
        let parsed: KevFile = toml::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            message: toml_message(&e, text),
        })?;
        let updated = check_updated(parsed.updated.as_deref(), file)?;
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
                let ends = [&r.fixed, &r.last_affected, &r.before]
                    .iter()
                    .filter(|e| e.is_some())
                    .count();
                if ends > 1 {
                    return Err(bad(
                        "a range ends with one of `fixed`, `last_affected`, `before`",
                    ));
                }
            }
        }
        Ok(KevTable {
            entries: parsed.entry,
            updated: Some(updated),
        })
    }

    /// All entries.
    pub fn entries(&self) -> &[KevEntry] {
        &self.entries
    }

    /// The date the table was last reviewed.
    pub fn updated(&self) -> Option<&str> {
        self.updated.as_deref()
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
                    last_affected: range.last_affected.clone(),
                    recommended: range.recommended.clone(),
                    branch: range.branch.clone(),
                    before: range.before.clone(),
                    kev: e.kev,
                    summary: e.summary.clone(),
                    source: e.sources.first().cloned().unwrap_or_default(),
                    verification: format!("{:?}", e.verification),
                })
            })
            .collect()
    }
}

/// A range of NTLM versions ("major.minor.build"): from (inclusive) to before (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpan {
    /// First version in the span.
    pub from: String,
    /// First version after it.
    pub before: String,
}

/// One operating system (or group of editions sharing a version) and when its support
/// ended.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EolEntry {
    /// What it is, as the report names it, e.g. "Windows 10 (not LTSC)".
    pub product: String,
    /// The NTLM versions (as SMB and RDP announce them) it runs.
    #[serde(default)]
    pub ntlm: Vec<VersionSpan>,
    /// NTLM versions inside `ntlm` that other, still supported editions share.
    #[serde(default)]
    pub ntlm_except: Vec<String>,
    /// Substrings of the SMB1 native OS string that name it.
    #[serde(default)]
    pub native_os: Vec<String>,
    /// Substrings that exclude a native OS string all the same (e.g. "LTSC").
    #[serde(default)]
    pub native_os_except: Vec<String>,
    /// The last day of support (extended support included).
    pub end_of_support: NaiveDate,
    /// Public sources of the date.
    pub sources: Vec<String>,
    /// How well the date was verified.
    pub verification: Verification,
    /// Caveats.
    pub note: Option<String>,
}

/// An end-of-support entry that matched what a service reported, as rules see it in
/// `ctx.eol`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EolMatch {
    /// The product.
    pub product: String,
    /// Its last day of support.
    pub end_of_support: String,
    /// Support had ended when the scan started.
    pub ended: bool,
    /// What matched: "ntlm" (the NTLM version) or "smb-native-os".
    pub basis: String,
    /// The value that matched.
    pub value: String,
    /// Verification tag of the date.
    pub verification: String,
}

impl EolMatch {
    /// "Windows 7 / Server 2008 R2 (support ended 2020-01-14)" and its Japanese.
    pub fn summary(&self) -> Text {
        let (p, d) = (&self.product, &self.end_of_support);
        if self.ended {
            Text::new(
                format!("{p}(サポート終了 {d})"),
                format!("{p} (support ended {d})"),
            )
        } else {
            Text::new(
                format!("{p}(サポート終了予定 {d})"),
                format!("{p} (support ends {d})"),
            )
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EolFile {
    updated: Option<String>,
    #[serde(default)]
    os: Vec<EolEntry>,
}

/// End-of-support dates of operating systems.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EolTable {
    entries: Vec<EolEntry>,
    updated: Option<String>,
}

impl EolTable {
    /// Parses a table; it must state its date (`updated`).
    pub fn parse(text: &str, file: &str) -> Result<EolTable, LoadError> {
        let parsed: EolFile = toml::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            message: toml_message(&e, text),
        })?;
        let updated = check_updated(parsed.updated.as_deref(), file)?;
        for e in &parsed.os {
            let bad = |p: &str| LoadError::Item {
                file: file.to_string(),
                kind: "eol entry",
                id: e.product.clone(),
                problem: p.to_string(),
            };
            if e.ntlm.is_empty() && e.native_os.is_empty() {
                return Err(bad("needs `ntlm` versions or `native_os` names to match"));
            }
            if e.sources.is_empty() {
                return Err(bad("no sources"));
            }
            for s in &e.ntlm {
                if compare_versions(&s.before, &s.from) != std::cmp::Ordering::Greater {
                    return Err(bad(&format!("span {}..{} is empty", s.from, s.before)));
                }
            }
        }
        Ok(EolTable {
            entries: parsed.os,
            updated: Some(updated),
        })
    }

    /// All entries.
    pub fn entries(&self) -> &[EolEntry] {
        &self.entries
    }

    /// The date the table was last reviewed.
    pub fn updated(&self) -> Option<&str> {
        self.updated.as_deref()
    }

    /// The entries an NTLM version or an SMB1 native OS string names, judged on `day`.
    /// An NTLM version with build 0 is never Windows (Samba announces "6.1.0").
    pub fn lookup(&self, ntlm: &[&str], native_os: Option<&str>, day: NaiveDate) -> Vec<EolMatch> {
        let mut out: Vec<EolMatch> = Vec::new();
        let mut push = |e: &EolEntry, basis: &str, value: &str| {
            if out.iter().any(|m| m.product == e.product) {
                return;
            }
            out.push(EolMatch {
                product: e.product.clone(),
                end_of_support: e.end_of_support.to_string(),
                ended: day > e.end_of_support,
                basis: basis.to_string(),
                value: value.to_string(),
                verification: format!("{:?}", e.verification),
            });
        };
        for e in &self.entries {
            for v in ntlm
                .iter()
                .filter(|v| looks_like_version(v) && !v.ends_with(".0"))
            {
                let inside = e.ntlm.iter().any(|s| {
                    compare_versions(v, &s.from) != std::cmp::Ordering::Less
                        && compare_versions(v, &s.before) == std::cmp::Ordering::Less
                });
                let shared = e
                    .ntlm_except
                    .iter()
                    .any(|x| compare_versions(v, x) == std::cmp::Ordering::Equal);
                if inside && !shared {
                    push(e, "ntlm", v);
                }
            }
            if let Some(os) = native_os {
                let lower = os.to_ascii_lowercase();
                let has =
                    |list: &[String]| list.iter().any(|n| lower.contains(&n.to_ascii_lowercase()));
                if has(&e.native_os) && !has(&e.native_os_except) {
                    push(e, "smb-native-os", os);
                }
            }
        }
        out
    }
}

/// The data sources of a tree's tables, for the Assessment.
pub(crate) fn source(name: &str, file: &str, updated: Option<&str>) -> DataSource {
    DataSource {
        name: name.to_string(),
        file: file.to_string(),
        updated: updated.map(str::to_string),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortsFile {
    updated: Option<String>,
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
    updated: Option<String>,
}

impl PortClasses {
    /// Parses the table.
    pub fn parse(text: &str, file: &str) -> Result<PortClasses, LoadError> {
        let parsed: PortsFile = toml::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            message: toml_message(&e, text),
        })?;
        let updated = check_updated(parsed.updated.as_deref(), file)?;
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
        Ok(PortClasses {
            classes,
            updated: Some(updated),
        })
    }

    /// The date the table was last reviewed.
    pub fn updated(&self) -> Option<&str> {
        self.updated.as_deref()
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
updated = "2025-12-01"

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
