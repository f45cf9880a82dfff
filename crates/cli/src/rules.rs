//! `clinicscan rules`: list and check the rule catalogue.

use anyhow::Result;
use clinicscan_model::Lang;
use clinicscan_policy::{DataTree, Profile};

use crate::args::{RulesAction, RulesArgs};
use crate::scan::Globals;
use crate::{common, exit};

pub fn run(g: &Globals, args: RulesArgs) -> Result<u8> {
    let mut dirs = args.rules.clone();
    if let RulesAction::Check { dirs: more } = &args.action {
        dirs.extend(more.iter().cloned());
    }
    let rules = common::load_rules(&args.data, &dirs)?;
    let mut out = String::new();
    match args.action {
        RulesAction::Check { .. } => {
            let tree = DataTree::load(common::data_dir(&args.data).as_deref())?;
            let profiles = Profile::all_in(&tree)?;
            for p in &profiles {
                p.check_controls(rules.catalogue())?;
            }
            out.push_str(&format!(
                "{} rules, {} controls, {} pre-check profiles: ok\n",
                rules.rules().len(),
                rules.catalogue().controls().len(),
                profiles.len()
            ));
            for d in rules.data_sources() {
                out.push_str(&format!(
                    "  {:<28} {}  {}\n",
                    d.name,
                    d.updated.as_deref().unwrap_or("-"),
                    d.file
                ));
            }
        }
        RulesAction::List => {
            for r in rules.rules() {
                let title = match g.lang {
                    Lang::Ja => &r.title.ja,
                    Lang::En => &r.title.en,
                };
                out.push_str(&format!(
                    "{:<34} {:<8} {}  [{}]\n",
                    r.id,
                    r.severity.as_str(),
                    title,
                    r.controls.join(", ")
                ));
            }
        }
        RulesAction::Controls => {
            for c in rules.catalogue().controls() {
                let title = match g.lang {
                    Lang::Ja => &c.title.ja,
                    Lang::En => &c.title.en,
                };
                out.push_str(&format!(
                    "{:<22} {:<9} {}  {}\n",
                    c.id,
                    format!("{:?}", c.scan).to_lowercase(),
                    title,
                    c.source_with_tag()
                ));
            }
        }
    }
    common::write_output(None, &out)?;
    Ok(exit::CLEAN)
}
