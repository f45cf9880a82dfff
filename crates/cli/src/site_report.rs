//! `clinicscan report`: one site audit from every vantage zone of the site. The newest
//! scan from each zone in the history is assessed together (one zone × zone matrix); the
//! report names the zones never scanned and those whose newest scan is too old.

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clinicscan_model::{Observation, VantageState};
use clinicscan_report::ReportInput;

use crate::args::SiteReportArgs;
use crate::common;
use crate::history::Db;
use crate::scan::{Globals, emit};

pub fn run(g: &Globals, args: SiteReportArgs) -> Result<u8> {
    let (rules, site) = common::load_policy(&args.policy)?;
    let Some(site) = site else {
        bail!("a site audit needs the site file: give --site FILE (or set CLINICSCAN_SITE)");
    };
    let max_age = args.max_age.as_deref().map(parse_age).transpose()?;
    let db = Db::resolve(args.db.db)?;
    let mut store = db.open_existing()?;
    if store.is_shared() && site.id.is_none() {
        bail!(
            "the history {} holds many sites: give the site file a [site] id",
            store.location()
        );
    }
    // A local history holds one clinic's scans, also those from before site ids.
    let filter = if store.is_shared() {
        site.id.as_deref()
    } else {
        None
    };
    let mut candidates: Vec<Observation> = Vec::new();
    for summary in store.list(filter)? {
        let stored = store
            .show(summary.id)
            .with_context(|| format!("cannot read scan {} of the history", summary.id))?;
        candidates.extend(stored.observations);
    }
    let selection = clinicscan_policy::audit_selection(&site, candidates, Utc::now(), max_age);
    let mut assessment = clinicscan_policy::assess(&selection.observations, Some(&site), &rules);
    assessment.vantages = selection.vantages;
    for v in &assessment.vantages {
        match v.state {
            VantageState::NeverScanned if v.expected => {
                tracing::warn!(zone = %v.zone, "never scanned from this zone");
            }
            VantageState::Stale => {
                tracing::warn!(zone = %v.zone, age_days = ?v.age_days, "the newest scan from this zone is too old");
            }
            _ => {}
        }
    }
    common::log_assessment(&assessment);
    let input = ReportInput {
        assessment: &assessment,
        observations: &selection.observations,
        diff: None,
        seen: None,
        lang: g.lang,
    };
    let format = common::format(args.output.format, args.output.output.as_deref());
    let checklist = crate::scan::ChecklistSource {
        catalogue: rules.catalogue(),
        previous: None,
    };
    emit(
        format,
        g.color,
        &input,
        args.output.output.as_deref(),
        checklist,
    )?;
    Ok(common::assessment_exit(&assessment, args.output.fail_on))
}

/// `30d`, `2w`, `30` (days): the maximum age in whole days.
pub fn parse_age(text: &str) -> Result<u32> {
    let t = text.trim();
    let (digits, factor) = match t.char_indices().last() {
        Some((i, 'd')) => (&t[..i], 1),
        Some((i, 'w')) => (&t[..i], 7),
        _ => (t, 1),
    };
    let n: u32 = digits
        .parse()
        .with_context(|| format!("{text:?} is not an age: write days as 30d (or weeks as 4w)"))?;
    n.checked_mul(factor)
        .with_context(|| format!("{text:?} is too long an age"))
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages_in_days_or_weeks() {
        assert_eq!(parse_age("30d").ok(), Some(30));
        assert_eq!(parse_age("4w").ok(), Some(28));
        assert_eq!(parse_age("7").ok(), Some(7));
        assert!(parse_age("30m").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("-3d").is_err());
    }
}
