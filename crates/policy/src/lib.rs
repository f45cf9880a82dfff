//! Policy for clinicscan: what the rules and the site file make of Observations.
//!
//! Pure evaluation, never a socket: `Observation`s (from a scan, a saved JSON file or
//! `clinicscan-import`) + a [`Site`] + a [`RuleSet`] → an [`clinicscan_model::Assessment`]
//! with findings and a verdict for every control of the catalogue.
//!
//! ```no_run
//! use clinicscan_policy::{RuleSet, Site, assess};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rules = RuleSet::shipped()?;                        // rules/ embedded at build time
//! let site = Site::from_file("site.toml".as_ref())?;
//! let obs: clinicscan_model::Observation =
//!     serde_json::from_str(&std::fs::read_to_string("scan.json")?)?;
//! let assessment = assess(&[obs], Some(&site), &rules);
//! # Ok(()) }
//! ```
//!
//! - Rules are TOML with CEL conditions (`rules/*.toml`, `docs/rules.md`); every path a
//!   rule names is checked against the Observation schema when it loads; a user's
//!   directory adds or overrides rules by id ([`RuleSet::with_user_dir`]); the site file
//!   disables rules. The whole `rules/` tree (rules, catalogue, KEV and end-of-life tables,
//!   profiles) is built in and a data directory can be laid over it
//!   ([`RuleSet::load_with_data`], [`DataTree`]).
//! - A control's verdict carries its evidence: fail with the findings (facts, never
//!   guesses), pass only when every rule that concerns the assessment checked what it
//!   declares (`checks`) from the vantage and over the zone pairs it needs, not verified
//!   with what is missing. The Assessment's `coverage` is the zone × zone matrix.
//! - Controls are data keyed by edition ([`Catalogue`]); organisational controls are
//!   reported as not assessable by scan, never dropped.
//! - Several Observations from different vantage zones combine: findings carry the
//!   vantage zone; the Assessment's coverage says which zone pairs were probed.
//! - The site says how it may be scanned ([`Site::scan_plan`]: default targets, the clinic's
//!   public addresses, the egress attempts to make from the vantage, addresses never
//!   touched, each zone's pace) and where a scan ran from ([`Site::vantage_zone_of`]), as
//!   plain data the CLI hands to the engine.
//! - A site audit combines the newest Observation from each vantage zone
//!   ([`audit_selection`]) and says which zones were never scanned or are too old.
//! - [`precheck`] holds one host against a vendor profile ([`Profile`]).
//! - [`carry_forward`] decides which findings of the previous scan this run could check
//!   again: the others are carried as "not re-checked" with the reason, never resolved;
//!   [`apply_not_rechecked`] puts them into the Assessment and its control verdicts.
//!
//! # Wiring (for the CLI)
//!
//! | command | calls |
//! |---|---|
//! | `clinicscan assess scan.json… [--site S] [--rules DIR] [--data DIR]` | [`Site::from_file`], [`RuleSet::load_with_data`] then [`RuleSet::with_user_dir`], [`assess`] (or [`assess_with`] to choose editions / pin the time) |
//! | `clinicscan assess --nmap-xml scan.xml` | `clinicscan_import::import_nmap_xml` then as above |
//! | `clinicscan scan …` then assessment | the engine gets [`Site::scan_plan`]; the Observation records [`Site::vantage_zone_of`]; then [`assess`] |
//! | `clinicscan scan --db …` (a history) | after [`assess`]: the previous scan of the same scope from the store, [`carry_forward`], [`apply_not_rechecked`], then record |
//! | `clinicscan report --site S` | the history's scans of the site, [`audit_selection`], [`assess`], the statuses into `Assessment::vantages` |
//! | `clinicscan precheck --profile NAME HOST` | [`Profile::all_in`] of the data tree (or [`Profile::from_file`]), [`Profile::ports`] into the scan, [`precheck`]; the report crate renders the [`PrecheckReport`] |
//! | `clinicscan rules check DIR…` | [`RuleSet::load_with_data`], [`RuleSet::with_user_dir`], [`Profile::check_controls`] |
//!
//! Errors: [`LoadError`] (rules, catalogue, data, profiles: file, item, problem, CEL
//! position, path), [`SiteError`] (file, key, problem). Rule failures at run time never
//! error: they are listed in `Assessment::rule_errors` and leave their controls not verified.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audit;
mod catalogue;
mod coverage;
mod data;
mod error;
mod eval;
mod paths;
mod precheck;
mod recheck;
mod rules;
mod shipped;
mod site;
mod verdict;
mod version;

pub use audit::{AuditSelection, audit_selection};
pub use catalogue::{Catalogue, Control, Edition, ScanEvidence, Verification};
pub use coverage::INTERNET;
pub use data::{
    AffectedRange, DataFile, DataTree, EolEntry, EolMatch, EolTable, KevEntry, KevMatch, KevTable,
    PortClasses, VersionSpan,
};
pub use error::{LoadError, Position, SiteError};
pub use eval::{AssessOptions, assess, assess_with};
pub use precheck::{Expectation, ExpectationResult, Outcome, PrecheckReport, Profile, precheck};
pub use recheck::{apply_not_rechecked, carry_forward};
pub use rules::{Checks, Rule, RuleSet, Scope, SiteNeed};
pub use site::{
    Asset, CLOSED_NETWORK_NAMES, ClosedNetwork, ClosedNetworkHost, ClosedNetworkTarget,
    EgressTarget, Flow, PortRange, RateProfile, ScanProfile, Site, SiteScanPlan, Zone, ZoneKind,
    check_site_id,
};
pub use version::compare_versions;
