//! The controls catalogue: guideline controls and checklist items, keyed by edition.
//!
//! Data lives in `rules/controls/*.toml`, one file per edition (a guideline edition or a
//! checklist year), so a later edition is a data change. Every control carries its source
//! reference and the verification tag of the reference material ([V]/[D]/[S]/[U]/[I]),
//! shown to the user as part of the source text.
//!
//! A checklist edition's file also holds its forms (`[[form]]`: 医療機関確認用, 事業者確認用):
//! sections and items in the official order, each item naming the controls whose verdicts
//! answer it, what of it is organisational, what it asks and who answers it. The report
//! renders a form from an Assessment; a new fiscal year's form is a new file.

use std::collections::BTreeSet;

use clinicscan_model::{
    Answerer, Audience, ChecklistForm, FormColumns, FormItem, FormSection, Text, Wording,
};
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

// The tag is plain data shared with the checklist form, which the report renders.
pub use clinicscan_model::Verification;

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
    forms: Vec<ChecklistForm>,
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
    #[serde(default)]
    form: Vec<FileForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    key: String,
    audience: Audience,
    title: Text,
    edition_label: Text,
    columns: FormColumns,
    #[serde(default)]
    notes: Vec<Text>,
    #[serde(default)]
    section: Vec<FileSection>,
    #[serde(default)]
    item: Vec<FileItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSection {
    number: String,
    title: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileItem {
    section: String,
    #[serde(default)]
    number: String,
    number_tag: Verification,
    control: Option<String>,
    text: Option<Text>,
    target: Option<Text>,
    wording: Wording,
    wording_tag: Verification,
    topic: Option<Text>,
    #[serde(default)]
    evidence: Vec<String>,
    organisational: Option<Text>,
    asks: Text,
    answered_by: Vec<Answerer>,
}

fn both(t: &Text) -> bool {
    !t.ja.trim().is_empty() && !t.en.trim().is_empty()
}

impl Catalogue {
    /// Parses catalogue files given as (file name, contents).
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalogue, LoadError> {
        let mut cat = Catalogue::default();
        let mut ids = BTreeSet::new();
        let mut pending = Vec::new();
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
            for f in parsed.form {
                pending.push((
                    file.to_string(),
                    parsed.edition.key.clone(),
                    updated.clone(),
                    f,
                ));
            }
            cat.editions.push(Edition {
                key: parsed.edition.key,
                title: parsed.edition.title,
                default: parsed.edition.default,
                updated: Some(updated),
                file: file.to_string(),
            });
        }
        // Forms name controls of any edition (a guideline control can answer an item), so
        // they are checked once every file is in.
        for (file, edition, updated, f) in pending {
            let form = cat.form_of(&file, edition, updated, f)?;
            cat.forms.push(form);
        }
        Ok(cat)
    }

    /// Checks one form against the catalogue and resolves its items' texts.
    fn form_of(
        &self,
        file: &str,
        edition: String,
        updated: String,
        f: FileForm,
    ) -> Result<ChecklistForm, LoadError> {
        let bad = |kind: &'static str, id: &str, problem: String| LoadError::Item {
            file: file.to_string(),
            kind,
            id: id.to_string(),
            problem,
        };
        if self.forms.iter().any(|x| x.key == f.key) {
            return Err(bad("form", &f.key, "defined twice".into()));
        }
        if !(1..=2).contains(&f.columns.rounds) {
            return Err(bad("form", &f.key, "columns.rounds must be 1 or 2".into()));
        }
        if !both(&f.title) || !both(&f.edition_label) || !f.notes.iter().all(both) {
            return Err(bad(
                "form",
                &f.key,
                "title, edition_label and notes need both ja and en".into(),
            ));
        }
        let mut sections: Vec<FormSection> = Vec::new();
        for s in f.section {
            if sections.iter().any(|x| x.number == s.number) || !both(&s.title) {
                return Err(bad(
                    "form section",
                    &s.number,
                    "defined twice, or a title without both ja and en".into(),
                ));
            }
            sections.push(FormSection {
                number: s.number,
                title: s.title,
                items: Vec::new(),
            });
        }
        let mut numbers = BTreeSet::new();
        for i in f.item {
            let id = if i.number.is_empty() {
                i.control.clone().unwrap_or_else(|| "(unnumbered)".into())
            } else {
                i.number.clone()
            };
            let item = |problem: &str| bad("form item", &id, problem.to_string());
            if !i.number.is_empty() && !numbers.insert(i.number.clone()) {
                return Err(item("number defined twice"));
            }
            let control = match &i.control {
                Some(c) => Some(
                    self.get(c)
                        .ok_or_else(|| item(&format!("unknown control {c:?}")))?,
                ),
                None => None,
            };
            for e in &i.evidence {
                match self.get(e) {
                    None => return Err(item(&format!("unknown evidence control {e:?}"))),
                    Some(c) if c.scan == ScanEvidence::None => {
                        return Err(item(&format!(
                            "evidence control {e:?} is organisational (scan = \"none\"): it cannot answer an item"
                        )));
                    }
                    Some(_) => {}
                }
            }
            let text = match (i.wording, i.text, control) {
                (Wording::Unknown, Some(_), _) => {
                    return Err(item(
                        "wording = \"unknown\" with a text: an unknown wording shows none",
                    ));
                }
                (Wording::Unknown, None, _) => None,
                (_, Some(t), _) => Some(t),
                (_, None, Some(c)) => Some(c.title.clone()),
                (_, None, None) => {
                    return Err(item("a known wording needs `text` or a `control`"));
                }
            };
            if i.wording == Wording::Unknown && !i.topic.as_ref().is_some_and(both) {
                return Err(item(
                    "an item without known wording needs a `topic` in both languages",
                ));
            }
            let texts = [Some(&i.asks), text.as_ref(), i.target.as_ref()];
            if !texts.into_iter().flatten().all(both) || !i.organisational.as_ref().is_none_or(both)
            {
                return Err(item("every text needs both ja and en"));
            }
            if i.answered_by.is_empty() {
                return Err(item("answered_by names nobody"));
            }
            let section = sections
                .iter_mut()
                .find(|s| s.number == i.section)
                .ok_or_else(|| item(&format!("unknown section {:?}", i.section)))?;
            section.items.push(FormItem {
                number: i.number,
                number_tag: i.number_tag,
                control: i.control,
                text,
                target: i.target,
                wording: i.wording,
                wording_tag: i.wording_tag,
                topic: i.topic,
                evidence: i.evidence,
                organisational: i.organisational,
                asks: i.asks,
                answered_by: i.answered_by,
            });
        }
        Ok(ChecklistForm {
            key: f.key,
            edition,
            updated: Some(updated),
            audience: f.audience,
            title: f.title,
            edition_label: f.edition_label,
            columns: f.columns,
            notes: f.notes,
            sections,
        })
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

    /// Every checklist form, in file order.
    pub fn forms(&self) -> &[ChecklistForm] {
        &self.forms
    }

    /// The form for an audience of the first of `editions` that has one (an Assessment's
    /// editions, in the order it lists them), else of any default edition.
    pub fn form_for(&self, audience: Audience, editions: &[String]) -> Option<&ChecklistForm> {
        let of = |edition: &str| {
            self.forms
                .iter()
                .find(|f| f.audience == audience && f.edition == edition)
        };
        editions.iter().find_map(|e| of(e)).or_else(|| {
            self.editions
                .iter()
                .filter(|e| e.default)
                .find_map(|e| of(&e.key))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDITION: &str = r#"
[edition]
key = "cl"
updated = "2026-12-01"
title = { ja = "t", en = "t" }

[[control]]
id = "C-SCAN"
title = { ja = "スキャン", en = "scan" }
source = "s"
tag = "D"
scan = "evidence"

[[control]]
id = "C-ORG"
title = { ja = "組織", en = "org" }
source = "s"
tag = "D"
scan = "none"

[[form]]
key = "f"
audience = "medical-institution"
title = { ja = "様式", en = "form" }
edition_label = { ja = "版", en = "edition" }
columns = { rounds = 2, rounds_tag = "U", date_tag = "D", target_date_tag = "D" }

[[form.section]]
number = "1"
title = { ja = "節", en = "section" }
"#;

    fn with_item(item: &str) -> Result<Catalogue, LoadError> {
        with_item_in("1", item)
    }

    fn with_item_in(section: &str, item: &str) -> Result<Catalogue, LoadError> {
        let text = format!("{EDITION}\n[[form.item]]\nsection = \"{section}\"\n{item}\n");
        Catalogue::from_files([("cl.toml", text.as_str())])
    }

    fn problem(r: Result<Catalogue, LoadError>) -> String {
        match r {
            Err(LoadError::Item { problem, .. }) => problem,
            other => panic!("expected an item error, got {other:?}"),
        }
    }

    const ASKS: &str = r#"asks = { ja = "問い", en = "asks" }
answered_by = ["director"]"#;

    #[test]
    fn an_item_takes_its_controls_title_unless_worded_otherwise() {
        let cat = with_item(&format!(
            "number = \"1-①\"\nnumber_tag = \"D\"\ncontrol = \"C-SCAN\"\nwording = \"quoted\"\nwording_tag = \"D\"\nevidence = [\"C-SCAN\"]\n{ASKS}"
        ))
        .expect("loads");
        let form = &cat.forms()[0];
        assert_eq!(
            (form.edition.as_str(), form.updated.as_deref()),
            ("cl", Some("2026-12-01"))
        );
        let item = form.items().next().expect("one item");
        assert_eq!(item.text.as_ref().map(|t| t.ja.as_str()), Some("スキャン"));
        assert_eq!(item.evidence, ["C-SCAN"]);
    }

    #[test]
    fn forms_that_could_mislead_do_not_load() {
        // An organisational control cannot answer an item: it has no verdict to give.
        let p = problem(with_item(&format!(
            "number_tag = \"D\"\ncontrol = \"C-ORG\"\nwording = \"quoted\"\nwording_tag = \"D\"\nevidence = [\"C-ORG\"]\n{ASKS}"
        )));
        assert!(p.contains("organisational"), "{p}");
        let p = problem(with_item(&format!(
            "number_tag = \"D\"\ncontrol = \"C-SCAN\"\nwording = \"quoted\"\nwording_tag = \"D\"\nevidence = [\"C-NONE\"]\n{ASKS}"
        )));
        assert!(p.contains("unknown evidence control"), "{p}");
        // An unknown wording shows no text: a text there would be an invented one.
        let p = problem(with_item(&format!(
            "number_tag = \"U\"\nwording = \"unknown\"\nwording_tag = \"U\"\ntext = {{ ja = \"作文\", en = \"made up\" }}\ntopic = {{ ja = \"話題\", en = \"topic\" }}\n{ASKS}"
        )));
        assert!(p.contains("unknown wording"), "{p}");
        let p = problem(with_item(&format!(
            "number_tag = \"U\"\nwording = \"unknown\"\nwording_tag = \"U\"\n{ASKS}"
        )));
        assert!(p.contains("topic"), "{p}");
        let p = problem(with_item(
            "number_tag = \"D\"\ncontrol = \"C-SCAN\"\nwording = \"quoted\"\nwording_tag = \"D\"\nasks = { ja = \"問い\", en = \"asks\" }\nanswered_by = []",
        ));
        assert!(p.contains("nobody"), "{p}");
        let p = problem(with_item_in(
            "9",
            &format!(
                "number_tag = \"D\"\ncontrol = \"C-SCAN\"\nwording = \"quoted\"\nwording_tag = \"D\"\n{ASKS}"
            ),
        ));
        assert!(p.contains("unknown section"), "{p}");
    }

    /// The shipped R7 form: the official order, every item's control in the catalogue,
    /// the items a scan cannot see without evidence, and the vendor form's items without
    /// any text the reference does not have.
    #[test]
    fn the_shipped_r7_forms() {
        let cat = Catalogue::shipped().expect("shipped catalogue");
        let form = cat
            .form_for(Audience::MedicalInstitution, &["checklist-R7".to_string()])
            .expect("R7 medical form");
        assert_eq!(form.key, "R7-medical");
        let numbers: Vec<&str> = form.items().map(|i| i.number.as_str()).collect();
        assert_eq!(
            numbers,
            [
                "1-①", "", "2-①", "2-②", "2-③", "2-④", "2-⑤", "2-⑥", "2-⑦", "2-⑧", "2-⑨", "2-⑩",
                "2-⑪", "2-⑫", "2-⑬", "3-①", "3-②", "3-③"
            ]
        );
        for item in form.items() {
            let control = cat
                .get(item.control.as_deref().expect("every R7 item is a control"))
                .expect("in the catalogue");
            // An item has evidence exactly when its control is one a scan can speak to.
            assert_eq!(
                item.evidence.is_empty(),
                control.scan == ScanEvidence::None,
                "{}",
                control.id
            );
            // A partial control has an organisational part the form must name.
            if control.scan == ScanEvidence::Partial {
                assert!(item.organisational.is_some(), "{}", control.id);
            }
        }
        let vendor = cat.form_for(Audience::Vendor, &[]).expect("R7 vendor form");
        assert!(
            vendor
                .items()
                .all(|i| i.text.is_none() && i.topic.is_some())
        );
        assert!(vendor.items().all(|i| i.wording == Wording::Unknown));
    }
}
