//! The controls catalogue: guideline controls and checklist items, keyed by edition.
//!
//! Data lives in `rules/controls/*.toml`, one file per edition (a guideline edition or a
//! checklist year), so a later edition is a data change. Every control carries its source
//! reference and the verification tag of the reference material ([V]/[D]/[S]/[U]/[I]),
//! shown to the user as part of the source text.

use std::collections::BTreeSet;

use clinicscan_model::Text;
use serde::Deserialize;

use crate::error::{LoadError, toml_message};

/// How far a network scan can evidence a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanEvidence {
    /// A scan can show a failure or consistency with the control.
    Evidence,
    /// A scan shows part of the picture; the rest is organisational.
    Partial,
    /// Organisational: a scan cannot assess it.
    None,
}

/// How well the reference material verified a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Verification {
    /// Seen in official text.
    V,
    /// Seen only in a draft.
    D,
    /// Secondary source only.
    S,
    /// Unverified.
    U,
    /// The reference's own inference.
    I,
}

impl Verification {
    fn as_str(self) -> &'static str {
        match self {
            Verification::V => "V",
            Verification::D => "D",
            Verification::S => "S",
            Verification::U => "U",
            Verification::I => "I",
        }
    }
}

/// One control or checklist item.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// Catalogue id, e.g. "GL6-SO-8.1", "CL-R7-2-13".
    pub id: String,
    /// Edition key, e.g. "guideline-6.0", "checklist-R7".
    pub edition: String,
    /// Title in both languages.
    pub title: Text,
    /// Source reference (document, section, page).
    pub source: String,
    /// Verification tag of the source.
    pub verification: Verification,
    /// How far a scan can evidence it.
    pub scan: ScanEvidence,
}

impl Control {
    /// The source with its verification tag, as shown to users: `"… [D]"`.
    pub fn source_with_tag(&self) -> String {
        format!("{} [{}]", self.source, self.verification.as_str())
    }
}

/// One edition (a guideline edition or a checklist year).
#[derive(Debug, Clone, PartialEq)]
pub struct Edition {
    /// Key, e.g. "checklist-R7".
    pub key: String,
    /// Title of the document.
    pub title: Text,
    /// Assessed unless the caller picks editions explicitly.
    pub default: bool,
    /// The date the edition's file was last reviewed.
    pub updated: Option<String>,
    /// The file it came from.
    pub file: String,
}

/// Every control of every edition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    editions: Vec<Edition>,
    controls: Vec<Control>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEdition {
    key: String,
    title: Text,
    #[serde(default = "yes")]
    default: bool,
    updated: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileControl {
    id: String,
    title: Text,
    source: String,
    tag: Verification,
    scan: ScanEvidence,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlsFile {
    edition: FileEdition,
    #[serde(default)]
    control: Vec<FileControl>,
}

impl Catalogue {
    /// Parses catalogue files given as (file name, contents).
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalogue, LoadError> {
        let mut cat = Catalogue::default();
        let mut ids = BTreeSet::new();
        for (file, text) in files {
            let parsed: ControlsFile = toml::from_str(text).map_err(|e| LoadError::Syntax {
                file: file.to_string(),
                message: toml_message(&e, text),
            })?;
            let updated = crate::data::check_updated(parsed.edition.updated.as_deref(), file)?;
            if cat.editions.iter().any(|e| e.key == parsed.edition.key) {
                return Err(LoadError::Item {
                    file: file.to_string(),
                    kind: "edition",
                    id: parsed.edition.key,
                    problem: "defined twice".into(),
                });
            }
            for c in parsed.control {
                let item = |problem: &str| LoadError::Item {
                    file: file.to_string(),
                    kind: "control",
                    id: c.id.clone(),
                    problem: problem.to_string(),
                };
                if c.title.ja.trim().is_empty() || c.title.en.trim().is_empty() {
                    return Err(item("title needs both ja and en"));
                }
                if !ids.insert(c.id.clone()) {
                    return Err(item("id defined twice"));
                }
                cat.controls.push(Control {
                    id: c.id,
                    edition: parsed.edition.key.clone(),
                    title: c.title,
                    source: c.source,
                    verification: c.tag,
                    scan: c.scan,
                });
            }
            cat.editions.push(Edition {
                key: parsed.edition.key,
                title: parsed.edition.title,
                default: parsed.edition.default,
                updated: Some(updated),
                file: file.to_string(),
            });
        }
        Ok(cat)
    }

    /// The catalogue shipped in `rules/controls/`.
    pub fn shipped() -> Result<Catalogue, LoadError> {
        Catalogue::from_tree(&crate::data::DataTree::shipped())
    }

    /// The catalogue of a data tree (`controls/*.toml`).
    pub fn from_tree(tree: &crate::data::DataTree) -> Result<Catalogue, LoadError> {
        Catalogue::from_files(
            tree.under("controls/")
                .into_iter()
                .map(|f| (f.name.as_str(), f.text.as_ref())),
        )
    }

    /// All editions, in file order.
    pub fn editions(&self) -> &[Edition] {
        &self.editions
    }

    /// All controls, in file order.
    pub fn controls(&self) -> &[Control] {
        &self.controls
    }

    /// A control by id.
    pub fn get(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }
}
