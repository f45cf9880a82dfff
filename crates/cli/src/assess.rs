//! `clinicscan assess`: evaluate saved Observations (or nmap XML) again, offline.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clinicscan_model::{ASSESSMENT_SCHEMA, Assessment, OBSERVATION_SCHEMA, Observation};
use clinicscan_report::ReportInput;

use crate::args::AssessArgs;
use crate::common;
use crate::scan::{ChecklistSource, Globals, emit};

pub fn run(g: &Globals, args: AssessArgs) -> Result<u8> {
    if args.observations.is_empty() && args.nmap_xml.is_empty() {
        bail!("nothing to assess: give Observation JSON files or --nmap-xml FILE");
    }
    let (rules, site) = common::load_policy(&args.policy)?;
    let mut observations = Vec::new();
    for path in &args.observations {
        observations.extend(read_observations(path)?);
    }
    for path in &args.nmap_xml {
        let xml =
            fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let obs = clinicscan_import::import_nmap_xml(&xml)
            .with_context(|| format!("{} is not a usable nmap XML result", path.display()))?;
        observations.push(obs);
    }
    let assessment = clinicscan_policy::assess(&observations, site.as_ref(), &rules);
    common::log_assessment(&assessment);
    let input = ReportInput {
        assessment: &assessment,
        observations: &observations,
        diff: None,
        seen: None,
        lang: g.lang,
    };
    let previous = match &args.previous {
        Some(path) => Some(read_assessment(path)?),
        None => None,
    };
    let format = common::format(args.output.format, args.output.output.as_deref());
    let checklist = ChecklistSource {
        catalogue: rules.catalogue(),
        previous: previous.as_ref(),
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

/// Reads an Assessment (a JSON report of `scan` or `assess`), checking the schema tag.
fn read_assessment(path: &Path) -> Result<Assessment> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let a: Assessment = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a clinicscan assessment ({ASSESSMENT_SCHEMA}): give the JSON report of the earlier scan",
            path.display()
        )
    })?;
    if a.schema != ASSESSMENT_SCHEMA {
        bail!(
            "{} is not a clinicscan assessment (schema {:?}, expected {ASSESSMENT_SCHEMA:?})",
            path.display(),
            a.schema
        );
    }
    Ok(a)
}

/// Reads one Observation, or an array of them, checking the schema tag.
pub fn read_observations(path: &Path) -> Result<Vec<Observation>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    items
        .into_iter()
        .map(|v| {
            let schema = v.get("schema").and_then(|s| s.as_str()).unwrap_or("");
            if schema != OBSERVATION_SCHEMA {
                bail!(
                    "{} is not a clinicscan observation (schema {:?}, expected {:?})",
                    path.display(),
                    schema,
                    OBSERVATION_SCHEMA
                );
            }
            serde_json::from_value(v)
                .with_context(|| format!("{} does not match {OBSERVATION_SCHEMA}", path.display()))
        })
        .collect()
}
