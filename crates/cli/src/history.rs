//! `clinicscan history` and `clinicscan inventory`: read the scan history.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{Result, bail};
use clinicscan_report::{History, ReportInput, ScanId};

use crate::args::{Format, HistoryAction, HistoryArgs, InventoryArgs};
use crate::scan::{Globals, db_path, emit};
use crate::{common, exit};

pub fn run(g: &Globals, args: HistoryArgs) -> Result<u8> {
    let path = db_path(args.db.db)?;
    if !path.exists() {
        bail!(
            "no history database at {} (run a scan first, or give --db)",
            path.display()
        );
    }
    let history = History::open(&path)?;
    match args.action {
        HistoryAction::List { limit } => {
            let scans: Vec<_> = history.list()?.into_iter().take(limit as usize).collect();
            common::write_output(
                None,
                &clinicscan_report::render_history_list(&scans, g.lang),
            )?;
            Ok(exit::CLEAN)
        }
        HistoryAction::Show { id, output } => {
            let id = resolve(&history, &id)?;
            let stored = history.show(id)?;
            let diff = match history.latest_before(id)? {
                Some(prev) => Some(history.diff(prev, id)?),
                None => None,
            };
            let input = ReportInput {
                assessment: &stored.assessment,
                observations: &stored.observations,
                diff: diff.as_ref(),
                seen: None,
                lang: g.lang,
            };
            let format = common::format(output.format, output.output.as_deref());
            emit(format, g.color, &input, output.output.as_deref())?;
            Ok(exit::CLEAN)
        }
        HistoryAction::Diff { a, b, format } => {
            let (a, b) = (resolve(&history, &a)?, resolve(&history, &b)?);
            let diff = history.diff(a, b)?;
            let text = match format {
                Some(Format::Json) => serde_json::to_string_pretty(&diff)? + "\n",
                _ => clinicscan_report::render_diff(&diff, g.lang),
            };
            common::write_output(None, &text)?;
            Ok(if diff.has_changes() {
                exit::FINDINGS
            } else {
                exit::CLEAN
            })
        }
    }
}

fn resolve(history: &History, id: &str) -> Result<ScanId> {
    if id == "latest" {
        return match history.latest()? {
            Some(id) => Ok(id),
            None => bail!("the history is empty"),
        };
    }
    match id.parse() {
        Ok(n) => Ok(n),
        Err(_) => bail!("{id:?} is not a scan id (a number or \"latest\")"),
    }
}

pub fn inventory(g: &Globals, args: InventoryArgs) -> Result<u8> {
    let path = db_path(args.db.db)?;
    if !path.exists() {
        bail!(
            "no history database at {} (run a scan first, or give --db)",
            path.display()
        );
    }
    let history = History::open(&path)?;
    let Some(latest) = history.latest()? else {
        bail!("the history is empty");
    };
    let stored = history.show(latest)?;
    // Every host ever seen (its last sighting), not only the latest scan's.
    let observations = history.last_seen_hosts()?;
    let seen = history.host_seen()?;
    let site = crate::common::load_site(&args.site)?;
    let zones: BTreeMap<IpAddr, String> = observations
        .iter()
        .flat_map(|o| o.hosts.iter().map(|h| h.address))
        .filter_map(|a| {
            site.as_ref()
                .and_then(|s| s.zone_of(a))
                .map(|z| (a, z.name.clone()))
        })
        .collect();
    let input = ReportInput {
        assessment: &stored.assessment,
        observations: &observations,
        diff: None,
        seen: Some(&seen),
        lang: g.lang,
    };
    let text = clinicscan_report::render_inventory(&input, &zones)?;
    common::write_output(args.output.as_deref(), &text)?;
    Ok(exit::CLEAN)
}
