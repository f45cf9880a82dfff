//! `clinicscan rules`: list and check the rule catalogue.

use anyhow::Result;
use clinicscan_model::Lang;

use crate::args::{RulesAction, RulesArgs};
use crate::scan::Globals;
use crate::{common, exit};

pub fn run(g: &Globals, args: RulesArgs) -> Result<u8> {
    let rules = common::load_rules(&args.data, &args.rules)?;
    let mut out = String::new();
    match args.action {
        RulesAction::Check => {
            out.push_str(&format!(
                "{} rules, {} controls: ok\n",
                rules.rules().len(),
                rules.catalogue().controls().len()
            ));
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
                    "{:<22} {:<9} {}\n",
                    c.id,
                    format!("{:?}", c.scan).to_lowercase(),
                    title
                ));
            }
        }
    }
    common::write_output(None, &out)?;
    Ok(exit::CLEAN)
}
