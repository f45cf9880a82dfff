//! The scan history of clinicscan: one storage trait, two backends.
//!
//! - [`Store`]: what the rest of clinicscan asks of a history — record a scan (idempotently,
//!   keyed by its Observations' ids), list scans, show one whole, find the previous scan of
//!   the same scope, first/last sightings of every host, and the newest scan of every site
//!   and vantage zone for the fleet view. Both backends pass one shared test suite
//!   (`tests/suite.rs`).
//! - [`SqliteStore`]: the default, one file on the scanning machine (bundled SQLite, WAL,
//!   `synchronous=FULL`).
//! - [`PgStore`]: PostgreSQL for a group of sites that writes into one database the
//!   organisation already runs (`--db postgres://…`), over TLS verified with rustls
//!   (`sslmode=verify-full` by default, client certificates), in its own `clinicscan` schema.
//! - [`Location`]: what `--db` / `CLINICSCAN_DB` names — a path or a libpq-style URL, parsed
//!   strictly; the password never appears in an error or a log line.
//! - [`ScanOutbox`] and [`record_or_keep`]: bounded retries when a shared store is briefly
//!   unreachable, and a local outbox for a scan it still could not take, sent first by the
//!   next run. Recording is idempotent, so a scan is never lost and never stored twice.
//! - [`FleetReport`]: the newest posture of every site of a shared store, stale sites and
//!   the findings most sites share (pure: computed from stored scans, rendered by report).
//!
//! Why a crate of its own: the history is the only part of clinicscan that talks to a
//! database, and it is the part a fleet swaps out. Keeping it apart from the renderers lets
//! `report` stay free of database drivers' async runtimes and keeps one place where the
//! two backends must agree. It knows the model types and nothing above them: diffs and
//! reports are computed from what it returns, by `report`.
//!
//! Both backends keep the same crash safety: one transaction per scan, so a kill at any
//! moment leaves either the whole scan or none of it, and earlier scans are never touched.
//! Schemas are versioned with numbered migrations that run on first use; a database written
//! by a newer clinicscan is refused rather than misread.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod fleet;
mod location;
mod outbox;
mod pg;
mod pg_tls;
mod private;
mod record;
mod sqlite;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, HostState, Observation};
use serde::Serialize;

pub use error::StoreError;
pub use fleet::{CommonFinding, FLEET_SCHEMA, FleetReport, SitePosture};
pub use location::{Location, PgUrl, SslMode, default_db_path, mask_url};
pub use outbox::{Delivery, Retry, ScanOutbox, record_or_keep};
pub use pg::PgStore;
pub use record::scan_started;
pub use sqlite::{SYSTEM_DB_PATH, SqliteStore};

/// The id of a stored scan (increasing in the order scans were recorded).
pub type ScanId = i64;

/// One line of [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// The id.
    pub id: ScanId,
    /// When it was recorded.
    pub recorded: DateTime<Utc>,
    /// When the scan started.
    pub started: DateTime<Utc>,
    /// Site name, if any.
    pub site: Option<String>,
    /// Site id (`[site] id` of the site file), if any.
    pub site_id: Option<String>,
    /// Zones the scan ran from, comma-separated (may be empty).
    pub vantage_zones: String,
    /// The scope key: scans with the same scope are compared with each other.
    pub scope: String,
    /// Tool version.
    pub tool_version: String,
    /// Hosts up.
    pub hosts_up: u32,
    /// Findings in total.
    pub findings: u32,
    /// Findings by severity, most severe first: critical, high, medium, low, info.
    pub by_severity: [u32; 5],
    /// Controls failed.
    pub controls_failed: u32,
}

/// One stored scan, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScan {
    /// Its summary.
    pub summary: ScanSummary,
    /// The Observations.
    pub observations: Vec<Observation>,
    /// The Assessment.
    pub assessment: Assessment,
}

/// When the history first and last saw a host (by address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSeen {
    /// The start of the first recorded scan that found the host up.
    pub first_seen: DateTime<Utc>,
    /// The start of the last recorded scan that found the host up.
    pub last_seen: DateTime<Utc>,
}

/// What [`Store::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The scan's id in the store.
    pub id: ScanId,
    /// False when the store already held this scan (same Observation ids): nothing was
    /// written, `id` is the earlier record's.
    pub new: bool,
}

/// A scan history. Implemented by [`SqliteStore`] and [`PgStore`]; open either from a
/// [`Location`] with [`open`].
///
/// `site_id` filters: `None` means every scan, `Some(id)` only that site's.
pub trait Store: Send + std::fmt::Debug {
    /// Where the store is, for messages (a URL's password masked).
    fn location(&self) -> String;

    /// Whether several sites write here (PostgreSQL), so every scan needs a site id.
    fn is_shared(&self) -> bool;

    /// Stores one scan (its Observations and Assessment) in one transaction. Idempotent:
    /// a scan whose Observation ids are already stored is not stored again.
    fn record(
        &mut self,
        observations: &[Observation],
        assessment: &Assessment,
    ) -> Result<Recorded, StoreError>;

    /// Every stored scan (of one site), oldest first.
    fn list(&mut self, site_id: Option<&str>) -> Result<Vec<ScanSummary>, StoreError>;

    /// The newest scan (of one site), if any.
    fn latest(&mut self, site_id: Option<&str>) -> Result<Option<ScanId>, StoreError>;

    /// The newest scan recorded before `id` with the same scope (site id, site, vantage
    /// zones and targets), if any: the one to compare `id` with. Two sites never share a
    /// scope.
    fn latest_before(&mut self, id: ScanId) -> Result<Option<ScanId>, StoreError>;

    /// The newest stored scan of the scope a scan not yet recorded would have (its site id,
    /// site, vantage zones and targets): the previous scan a new one is checked against
    /// before it is recorded (which findings it could check again).
    fn latest_of_scope(
        &mut self,
        observations: &[Observation],
        assessment: &Assessment,
    ) -> Result<Option<ScanId>, StoreError> {
        let scope = record::scope_of(assessment, observations);
        let site = assessment.site_id.as_deref().filter(|_| self.is_shared());
        Ok(self
            .list(site)?
            .into_iter()
            .filter(|s| s.scope == scope)
            .map(|s| s.id)
            .max())
    }

    /// One scan, whole.
    fn show(&mut self, id: ScanId) -> Result<StoredScan, StoreError>;

    /// When each host address was first and last seen up, over every stored scan (of one
    /// site).
    fn host_seen(
        &mut self,
        site_id: Option<&str>,
    ) -> Result<BTreeMap<IpAddr, HostSeen>, StoreError>;

    /// For each host address ever seen up (at one site), the newest scan that saw it.
    fn last_sightings(
        &mut self,
        site_id: Option<&str>,
    ) -> Result<Vec<(IpAddr, ScanId)>, StoreError>;

    /// For every site with a site id, the newest scan of each vantage-zone set, with its
    /// Assessment: the input of [`FleetReport::build`].
    fn newest_per_site_zone(&mut self) -> Result<Vec<(ScanSummary, Assessment)>, StoreError>;

    /// Every host ever seen up (at one site), as it was when last seen: for each scan that
    /// was the last to see some host, that scan's Observations reduced to those hosts
    /// (oldest scan first). With [`Store::host_seen`], the input of the asset inventory
    /// (台帳) of every host the history knows, not only those of the latest scan.
    fn last_seen_hosts(&mut self, site_id: Option<&str>) -> Result<Vec<Observation>, StoreError> {
        let mut by_scan: BTreeMap<ScanId, BTreeSet<IpAddr>> = BTreeMap::new();
        for (addr, id) in self.last_sightings(site_id)? {
            by_scan.entry(id).or_default().insert(addr);
        }
        let mut out = Vec::new();
        let mut taken = BTreeSet::new();
        for (id, addrs) in by_scan {
            for mut o in self.show(id)?.observations {
                o.hosts.retain(|h| {
                    h.status.state == HostState::Up
                        && addrs.contains(&h.address)
                        && taken.insert(h.address)
                });
                if !o.hosts.is_empty() {
                    out.push(o);
                }
            }
        }
        Ok(out)
    }
}

/// Opens (creating and migrating on first use) the store at `location`.
pub fn open(location: &Location) -> Result<Box<dyn Store>, StoreError> {
    Ok(match location {
        Location::Sqlite(path) => Box::new(SqliteStore::open(path)?),
        Location::Postgres(url) => Box::new(PgStore::connect(url)?),
    })
}
