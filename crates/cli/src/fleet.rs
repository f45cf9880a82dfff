//! `clinicscan fleet`: every site of a shared history at a glance.

use anyhow::{Result, bail};
use clinicscan_report::FleetFormat;
use clinicscan_store::FleetReport;

use crate::args::{FleetArgs, Format};
use crate::history::Db;
use crate::scan::Globals;
use crate::{common, exit};

pub fn run(g: &Globals, args: FleetArgs) -> Result<u8> {
    let format = common::format(args.format, args.output.as_deref());
    let render = match format {
        Format::Table => Some(FleetFormat::Text),
        Format::Html => Some(FleetFormat::Html),
        Format::Json => None,
        other => bail!("the fleet view is table, json or html, not {other:?}"),
    };
    let db = Db::resolve(args.db.db)?;
    let mut store = db.open_existing()?;
    let newest = store.newest_per_site_zone()?;
    let report = FleetReport::build(chrono::Utc::now(), args.stale_days, &newest);
    let text = match render {
        Some(f) => clinicscan_report::render_fleet(&report, f, g.lang, args.top),
        None => serde_json::to_string_pretty(&report)? + "\n",
    };
    common::write_output(args.output.as_deref(), &text)?;
    // A site that stopped scanning is what a monitoring check must see.
    Ok(if report.stale_sites.is_empty() {
        exit::CLEAN
    } else {
        exit::FINDINGS
    })
}
