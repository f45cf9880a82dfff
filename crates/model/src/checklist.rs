//! The inspection checklist as a form: its sections and items in the official order, and for
//! each item the controls whose verdicts answer it, what a scan cannot see, what the item
//! asks in plain words and who usually answers it.
//!
//! The form is data (`rules/controls/<edition>.toml`, `[[form]]`), loaded by the policy
//! crate with its catalogue and rendered by the report crate, so next year's form is a data
//! change. Every number, wording and column carries how the reference material knows it.

use serde::{Deserialize, Serialize};

use crate::assessment::Text;

/// How well the reference material verified a source, a wording or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The tag's letter: "V", "D", "S", "U" or "I".
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::V => "V",
            Verification::D => "D",
            Verification::S => "S",
            Verification::U => "U",
            Verification::I => "I",
        }
    }
}

/// Who fills in a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// The medical institution (医療機関確認用): answered from an Assessment.
    MedicalInstitution,
    /// The vendor (事業者確認用): answered from a vendor pre-check.
    Vendor,
}

/// Who usually answers an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answerer {
    /// The vendor or maintenance company (事業者).
    Vendor,
    /// The director, who manages the clinic (院長).
    Director,
    /// The security manager for medical information systems (医療情報システム安全管理責任者).
    SecurityManager,
}

impl Answerer {
    /// Who, in words.
    pub fn label(self) -> Text {
        match self {
            Answerer::Vendor => Text::new("事業者(販売・保守事業者)", "the vendor (事業者)"),
            Answerer::Director => Text::new("院長(管理者)", "the director (院長)"),
            Answerer::SecurityManager => Text::new(
                "医療情報システム安全管理責任者",
                "the security manager (安全管理責任者)",
            ),
        }
    }
}

/// How the reference knows an item's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wording {
    /// The reference quotes the item's text.
    Quoted,
    /// The reference quotes only its beginning; the rest is completed from its description.
    Partial,
    /// The reference only describes the item: the text shown is a summary, not the wording.
    Described,
    /// The reference has no text for the item: none is shown.
    Unknown,
}

/// The columns the form has for each item, and how the reference knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormColumns {
    /// Rounds of answers (1回目, 2回目): 1 or 2.
    pub rounds: u8,
    /// How the reference knows the rounds.
    pub rounds_tag: Verification,
    /// How it knows the confirmation-date column (確認日).
    pub date_tag: Verification,
    /// How it knows the target-date column for いいえ (目標日).
    pub target_date_tag: Verification,
}

/// One item of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormItem {
    /// The number as printed ("2-⑬"); empty when the reference does not know it.
    pub number: String,
    /// How the reference knows the number.
    pub number_tag: Verification,
    /// The catalogue control this item is, when it is one.
    pub control: Option<String>,
    /// The item's text (the control's title unless the form words it otherwise); `None`
    /// when the reference has none.
    pub text: Option<Text>,
    /// What the item applies to, as the form says in brackets ("医療情報システム全般").
    pub target: Option<Text>,
    /// How the reference knows the text.
    pub wording: Wording,
    /// The tag of the wording's source.
    pub wording_tag: Verification,
    /// What the item is about in clinicscan's own words, for an item without known text.
    pub topic: Option<Text>,
    /// The controls whose verdicts answer the part a scan can see; empty for an
    /// organisational item.
    pub evidence: Vec<String>,
    /// What of the item a scan cannot see, when some of it is organisational.
    pub organisational: Option<Text>,
    /// What the item asks, in one plain sentence.
    pub asks: Text,
    /// Who usually answers it.
    pub answered_by: Vec<Answerer>,
}

/// One section of a form ("2 医療情報システムの管理・運用").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormSection {
    /// Its number ("2").
    pub number: String,
    /// Its heading.
    pub title: Text,
    /// Its items, in the form's order.
    pub items: Vec<FormItem>,
}

/// A checklist form of one edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistForm {
    /// Key, unique in the catalogue ("R7-medical").
    pub key: String,
    /// The catalogue edition it belongs to ("checklist-R7").
    pub edition: String,
    /// The date the edition's file was last reviewed (YYYY-MM-DD).
    pub updated: Option<String>,
    /// Who fills it in.
    pub audience: Audience,
    /// The form's title.
    pub title: Text,
    /// The edition it follows, as the report names it ("令和7年度版 医療機関確認用 …").
    pub edition_label: Text,
    /// Its answer columns.
    pub columns: FormColumns,
    /// Notes the report prints under the title (what is unverified about the form itself).
    pub notes: Vec<Text>,
    /// Sections in order.
    pub sections: Vec<FormSection>,
}

impl ChecklistForm {
    /// Every item, in the form's order.
    pub fn items(&self) -> impl Iterator<Item = &FormItem> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }
}
