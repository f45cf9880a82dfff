//! `clinicscan history` and `clinicscan inventory`: read the scan history; and where the
//! history is (`--db`), shared by every command.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clinicscan_policy::Catalogue;
use clinicscan_report::{HostSeen, ReportInput, ScanDiff, ScanSide};
use clinicscan_store::{Location, ScanId, Store};

use crate::args::{DataArg, Format, HistoryAction, HistoryArgs, InventoryArgs};
use crate::scan::{ChecklistSource, Globals, emit};
use crate::{common, exit};

/// Where the history is, and the local directory for what stays on this machine (the run
/// lock, the email outbox, scans kept for a shared store that was unreachable).
pub struct Db {
    pub location: Location,
    pub state_dir: PathBuf,
}

impl Db {
    /// `--db` / `CLINICSCAN_DB`, else the default SQLite file for this user.
    pub fn resolve(arg: Option<String>) -> Result<Db> {
        let location = match arg {
            Some(s) => Location::parse(&s)?,
            None => Location::Sqlite(clinicscan_store::default_db_path(false).context(
                "no place for the history database: set HOME or XDG_DATA_HOME, or give --db PATH",
            )?),
        };
        let state_dir = match &location {
            Location::Sqlite(p) => match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            },
            // A shared store keeps this machine's own files in the default data directory.
            Location::Postgres(_) => clinicscan_store::default_db_path(false)
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .context(
                    "no local directory for the outbox and the run lock: set HOME or XDG_DATA_HOME",
                )?,
        };
        Ok(Db {
            location,
            state_dir,
        })
    }

    /// Opens an existing history: a missing SQLite file is an error, not a new database.
    pub fn open_existing(&self) -> Result<Box<dyn Store>> {
        if let Location::Sqlite(p) = &self.location
            && !p.exists()
        {
            bail!(
                "no history database at {} (run a scan first, or give --db)",
                p.display()
            );
        }
        Ok(clinicscan_store::open(&self.location)?)
    }

    /// The run lock of scheduled runs.
    pub fn lock_path(&self) -> PathBuf {
        match &self.location {
            Location::Sqlite(p) => p.with_extension("lock"),
            Location::Postgres(_) => self.state_dir.join("clinicscan.lock"),
        }
    }
}

/// What changed from one stored scan to another. Two sites are never compared.
pub fn diff(store: &mut dyn Store, older: ScanId, newer: ScanId) -> Result<ScanDiff> {
    let a = store.show(older)?;
    let b = store.show(newer)?;
    if a.summary.site_id != b.summary.site_id {
        bail!(
            "scan {older} is of site {} and scan {newer} of site {}: scans of two sites are never compared",
            a.summary.site_id.as_deref().unwrap_or("(none)"),
            b.summary.site_id.as_deref().unwrap_or("(none)")
        );
    }
    Ok(ScanDiff::between(
        ScanSide {
            scan_id: Some(older),
            assessment: &a.assessment,
            observations: &a.observations,
        },
        ScanSide {
            scan_id: Some(newer),
            assessment: &b.assessment,
            observations: &b.observations,
        },
    ))
}

/// First/last sightings of one site's hosts, for the report.
pub fn host_seen(
    store: &mut dyn Store,
    site_id: Option<&str>,
) -> Result<BTreeMap<IpAddr, HostSeen>> {
    Ok(store
        .host_seen(site_id)?
        .into_iter()
        .map(|(a, s)| {
            (
                a,
                HostSeen {
                    first_seen: s.first_seen,
                    last_seen: s.last_seen,
                },
            )
        })
        .collect())
}

pub fn run(g: &Globals, args: HistoryArgs) -> Result<u8> {
    let db = Db::resolve(args.db.db)?;
    let mut store = db.open_existing()?;
    let site = args.site_id.as_deref();
    match args.action {
        HistoryAction::List { limit } => {
            let scans: Vec<_> = store.list(site)?.into_iter().take(limit as usize).collect();
            common::write_output(
                None,
                &clinicscan_report::render_history_list(&scans, g.lang),
            )?;
            Ok(exit::CLEAN)
        }
        HistoryAction::Show { id, output } => {
            let id = resolve(store.as_mut(), site, &id)?;
            let stored = store.show(id)?;
            let prev = store.latest_before(id)?;
            let diff = match prev {
                Some(prev) => Some(diff(store.as_mut(), prev, id)?),
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
            // The checklist formats fill the form of the data in use, and the scan before
            // fills its first round.
            let checklist_formats = matches!(format, Format::Checklist | Format::ChecklistXlsx);
            let (rules, previous) = if checklist_formats {
                let rules = common::load_rules(&DataArg::default(), &[])?;
                let previous = match prev {
                    Some(p) => Some(store.show(p)?.assessment),
                    None => None,
                };
                (Some(rules), previous)
            } else {
                (None, None)
            };
            let empty = Catalogue::default();
            let checklist = ChecklistSource {
                catalogue: rules.as_ref().map_or(&empty, |r| r.catalogue()),
                previous: previous.as_ref(),
            };
            emit(format, g.color, &input, output.output.as_deref(), checklist)?;
            Ok(exit::CLEAN)
        }
        HistoryAction::Diff { a, b, format } => {
            let (a, b) = (
                resolve(store.as_mut(), site, &a)?,
                resolve(store.as_mut(), site, &b)?,
            );
            let diff = diff(store.as_mut(), a, b)?;
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

fn resolve(store: &mut dyn Store, site: Option<&str>, id: &str) -> Result<ScanId> {
    if id == "latest" {
        return match store.latest(site)? {
            Some(id) => Ok(id),
            None if site.is_some() && store.is_shared() => {
                bail!("no scan of this site in the history (give --site-id)")
            }
            None => bail!("the history is empty"),
        };
    }
    match id.parse() {
        Ok(n) => Ok(n),
        Err(_) => bail!("{id:?} is not a scan id (a number or \"latest\")"),
    }
}

pub fn inventory(g: &Globals, args: InventoryArgs) -> Result<u8> {
    let db = Db::resolve(args.db.db)?;
    let mut store = db.open_existing()?;
    let site = crate::common::load_site(&args.site)?;
    let site_id = args
        .site_id
        .clone()
        .or_else(|| site.as_ref().and_then(|s| s.id.clone()));
    if store.is_shared() && site_id.is_none() {
        bail!(
            "the history {} holds many sites: name one with --site-id ID or a --site file with [site] id",
            store.location()
        );
    }
    // A local history also holds scans from before site ids: its inventory covers them
    // unless a site is named on the command line.
    let filter = if store.is_shared() {
        site_id.as_deref()
    } else {
        args.site_id.as_deref()
    };
    let Some(latest) = store.latest(filter)? else {
        bail!("the history is empty");
    };
    let stored = store.show(latest)?;
    // Every host ever seen (its last sighting), not only the latest scan's.
    let observations = store.last_seen_hosts(filter)?;
    let seen = host_seen(store.as_mut(), filter)?;
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
