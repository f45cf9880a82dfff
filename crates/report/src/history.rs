//! The scan history: one SQLite file (rusqlite, bundled SQLite).
//!
//! Every scan is stored whole (the Observation JSON, the Assessment JSON) with summary
//! columns for listing. Writes happen in one transaction with WAL and `synchronous=FULL`,
//! so a kill at any moment leaves either the whole scan or none of it, and earlier scans are
//! never touched. The schema is versioned with `PRAGMA user_version` and numbered migrations.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, ControlStatus, HostState, Observation};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::diff::{ScanDiff, ScanSide, scan_started};
use crate::render::HostSeen;

/// The database path when running as a system service.
pub const SYSTEM_DB_PATH: &str = "/var/lib/clinicscan/history.sqlite";

/// The id of a stored scan (increasing in the order scans were recorded).
pub type ScanId = i64;

/// The numbered migrations; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: scans, their observations and the hosts they saw.
    "CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        recorded TEXT NOT NULL,
        started TEXT NOT NULL,
        scope TEXT NOT NULL,
        site TEXT,
        vantage_zones TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        hosts_up INTEGER NOT NULL,
        findings INTEGER NOT NULL,
        critical INTEGER NOT NULL,
        high INTEGER NOT NULL,
        medium INTEGER NOT NULL,
        low INTEGER NOT NULL,
        info INTEGER NOT NULL,
        controls_failed INTEGER NOT NULL,
        assessment_json TEXT NOT NULL
    );
    CREATE INDEX scans_scope ON scans(scope, id);
    CREATE TABLE observations (
        scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        observation_id TEXT NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (scan_id, seq)
    );
    CREATE TABLE scan_hosts (
        scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        mac TEXT,
        PRIMARY KEY (scan_id, address)
    );
    CREATE INDEX scan_hosts_address ON scan_hosts(address);",
];

/// A history operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// SQLite failed.
    #[error("history database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database file or its directory could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database was written by a newer clinicscan.
    #[error(
        "history database {path} has schema version {found}; this clinicscan knows up to {known}: upgrade clinicscan"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// No scan has this id.
    #[error("no scan {0} in the history")]
    NoSuchScan(ScanId),
    /// A stored document does not parse.
    #[error("scan {id} in the history is unreadable: {source}")]
    Corrupt {
        /// The scan.
        id: ScanId,
        /// The cause.
        source: serde_json::Error,
    },
    /// A document could not be serialised for storage.
    #[error("cannot serialise the scan: {0}")]
    Serialise(serde_json::Error),
}

/// One line of [`History::list`].
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

/// An open history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// The default database path.
///
/// `system` (asked for by the user), or running as root without `HOME`:
/// [`SYSTEM_DB_PATH`]. Otherwise `$XDG_DATA_HOME/clinicscan/history.sqlite`, else
/// `$HOME/.local/share/clinicscan/history.sqlite`. `None` when neither variable is set for
/// a non-root user (the caller then asks for `--db`).
pub fn default_db_path(system: bool) -> Option<PathBuf> {
    let is_root = is_root();
    resolve_db_path(system, is_root, |k| std::env::var_os(k))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self is owned by the process's effective uid.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn resolve_db_path(
    system: bool,
    is_root: bool,
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if system {
        return Some(PathBuf::from(SYSTEM_DB_PATH));
    }
    let home = set("HOME");
    if is_root && home.is_none() {
        return Some(PathBuf::from(SYSTEM_DB_PATH));
    }
    let base = set("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".local").join("share")))?;
    Some(base.join("clinicscan").join("history.sqlite"))
}

/// The scope of a scan: scans of the same site, vantage zones and targets are comparable.
fn scope_of(assessment: &Assessment, observations: &[Observation]) -> String {
    let mut zones: Vec<&str> = observations
        .iter()
        .filter_map(|o| o.scan.vantage.zone.as_deref())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    let mut targets: Vec<&str> = observations
        .iter()
        .flat_map(|o| o.scan.options.targets.iter().map(String::as_str))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    serde_json::json!({
        "site": assessment.site,
        "zones": zones,
        "targets": targets,
    })
    .to_string()
}

impl History {
    /// Opens (creating the file and its directory if needed) and migrates the database.
    pub fn open(path: impl AsRef<Path>) -> Result<History, HistoryError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private::create_dir(dir).map_err(|source| HistoryError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sql = |source| HistoryError::Sqlite {
            path: path.clone(),
            source,
        };
        // A new database is created owner-only; SQLite gives its -wal and -shm files the
        // same mode.
        crate::private::touch(&path).map_err(|source| HistoryError::CreateDir {
            path: path.clone(),
            source,
        })?;
        let mut conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;

        let known = MIGRATIONS.len() as i64;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version > known {
            return Err(HistoryError::TooNew {
                path,
                found: version,
                known,
            });
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(migration).map_err(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(History { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
        move |source| HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores one scan (all its Observations and its Assessment) in one transaction.
    pub fn record(
        &mut self,
        observations: &[Observation],
        assessment: &Assessment,
    ) -> Result<ScanId, HistoryError> {
        let assessment_json = serde_json::to_string(assessment).map_err(HistoryError::Serialise)?;
        let observation_json = observations
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(HistoryError::Serialise)?;
        let mut zones: Vec<&str> = observations
            .iter()
            .filter_map(|o| o.scan.vantage.zone.as_deref())
            .collect();
        zones.sort_unstable();
        zones.dedup();
        let mut hosts: BTreeMap<IpAddr, Option<&str>> = BTreeMap::new();
        for h in observations.iter().flat_map(|o| o.hosts.iter()) {
            if h.status.state == HostState::Up {
                let slot = hosts.entry(h.address).or_default();
                if slot.is_none() {
                    *slot = h.mac.as_deref();
                }
            }
        }
        let c = &assessment.counts;
        let failed = assessment
            .controls
            .iter()
            .filter(|c| c.status == ControlStatus::Fail)
            .count() as i64;
        let started = scan_started(assessment, observations);

        let path = self.path.clone();
        let sql = move |source| HistoryError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sql)?;
        tx.execute(
            "INSERT INTO scans (recorded, started, scope, site, vantage_zones, tool_version,
                hosts_up, findings, critical, high, medium, low, info, controls_failed,
                assessment_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                Utc::now().to_rfc3339(),
                started.to_rfc3339(),
                scope_of(assessment, observations),
                assessment.site,
                zones.join(","),
                assessment.tool_version,
                hosts.len() as i64,
                assessment.findings.len() as i64,
                c.critical,
                c.high,
                c.medium,
                c.low,
                c.info,
                failed,
                assessment_json,
            ],
        )
        .map_err(&sql)?;
        let id = tx.last_insert_rowid();
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO observations (scan_id, seq, observation_id, json)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(&sql)?;
            for (seq, (o, json)) in observations.iter().zip(&observation_json).enumerate() {
                ins.execute(params![id, seq as i64, o.scan.id, json])
                    .map_err(&sql)?;
            }
            let mut ins = tx
                .prepare("INSERT INTO scan_hosts (scan_id, address, mac) VALUES (?1, ?2, ?3)")
                .map_err(&sql)?;
            for (addr, mac) in &hosts {
                ins.execute(params![id, addr.to_string(), mac])
                    .map_err(&sql)?;
            }
        }
        tx.commit().map_err(&sql)?;
        Ok(id)
    }

    /// Every stored scan, oldest first.
    pub fn list(&self) -> Result<Vec<ScanSummary>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{SUMMARY_SELECT} ORDER BY id"))
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], summary_row)
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        Ok(rows)
    }

    /// The newest scan, if any.
    pub fn latest(&self) -> Result<Option<ScanId>, HistoryError> {
        self.conn
            .query_row("SELECT max(id) FROM scans", [], |r| r.get(0))
            .map_err(self.sql())
    }

    /// The newest scan recorded before `id` with the same scope (site, vantage zones and
    /// targets), if any: the one to compare `id` with.
    pub fn latest_before(&self, id: ScanId) -> Result<Option<ScanId>, HistoryError> {
        let scope: Option<String> = self
            .conn
            .query_row("SELECT scope FROM scans WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(self.sql())?;
        let scope = scope.ok_or(HistoryError::NoSuchScan(id))?;
        self.conn
            .query_row(
                "SELECT max(id) FROM scans WHERE scope = ?1 AND id < ?2",
                params![scope, id],
                |r| r.get(0),
            )
            .map_err(self.sql())
    }

    /// One scan, whole.
    pub fn show(&self, id: ScanId) -> Result<StoredScan, HistoryError> {
        let row = self
            .conn
            .query_row(&format!("{SUMMARY_SELECT} WHERE id = ?1"), [id], |r| {
                Ok((summary_row(r)?, r.get::<_, String>(15)?))
            })
            .optional()
            .map_err(self.sql())?;
        let (summary, assessment_json) = row.ok_or(HistoryError::NoSuchScan(id))?;
        let assessment: Assessment = serde_json::from_str(&assessment_json)
            .map_err(|source| HistoryError::Corrupt { id, source })?;
        let mut stmt = self
            .conn
            .prepare("SELECT json FROM observations WHERE scan_id = ?1 ORDER BY seq")
            .map_err(self.sql())?;
        let jsons = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        let observations = jsons
            .iter()
            .map(|j| serde_json::from_str(j))
            .collect::<Result<Vec<Observation>, _>>()
            .map_err(|source| HistoryError::Corrupt { id, source })?;
        Ok(StoredScan {
            summary,
            observations,
            assessment,
        })
    }

    /// What changed from scan `older` to scan `newer`.
    pub fn diff(&self, older: ScanId, newer: ScanId) -> Result<ScanDiff, HistoryError> {
        let a = self.show(older)?;
        let b = self.show(newer)?;
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

    /// When each host address was first and last seen up, over every stored scan.
    pub fn host_seen(&self) -> Result<BTreeMap<IpAddr, HostSeen>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT h.address, min(s.started), max(s.started)
                 FROM scan_hosts h JOIN scans s ON s.id = h.scan_id GROUP BY h.address",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        let mut out = BTreeMap::new();
        for (addr, first, last) in rows {
            // Rows this crate did not write are skipped rather than guessed at.
            let (Ok(addr), Ok(first), Ok(last)) = (
                addr.parse::<IpAddr>(),
                DateTime::parse_from_rfc3339(&first),
                DateTime::parse_from_rfc3339(&last),
            ) else {
                continue;
            };
            out.insert(
                addr,
                HostSeen {
                    first_seen: first.with_timezone(&Utc),
                    last_seen: last.with_timezone(&Utc),
                },
            );
        }
        Ok(out)
    }

    /// Every host ever seen up, as it was when last seen: for each scan that was the last
    /// to see some host, that scan's Observations reduced to those hosts (oldest scan
    /// first). With [`History::host_seen`], this is the input of the asset inventory
    /// (台帳) of every host the history knows, not only those of the latest scan.
    pub fn last_seen_hosts(&self) -> Result<Vec<Observation>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT address, max(scan_id) FROM scan_hosts GROUP BY address")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, ScanId>(1)?)))
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        let mut by_scan: BTreeMap<ScanId, std::collections::BTreeSet<IpAddr>> = BTreeMap::new();
        for (addr, id) in rows {
            if let Ok(addr) = addr.parse::<IpAddr>() {
                by_scan.entry(id).or_default().insert(addr);
            }
        }
        let mut out = Vec::new();
        let mut taken = std::collections::BTreeSet::new();
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

    /// Runs `PRAGMA integrity_check`; `Ok(())` when SQLite answers "ok", else its messages.
    pub fn integrity_check(&self) -> Result<Result<(), String>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(self.sql())?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        if lines.len() == 1 && lines[0] == "ok" {
            Ok(Ok(()))
        } else {
            Ok(Err(lines.join("\n")))
        }
    }
}

const SUMMARY_SELECT: &str = "SELECT id, recorded, started, site, vantage_zones, scope,
    tool_version, hosts_up, findings, critical, high, medium, low, info, controls_failed,
    assessment_json FROM scans";

fn time_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = r.get(i)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScanSummary> {
    Ok(ScanSummary {
        id: r.get(0)?,
        recorded: time_col(r, 1)?,
        started: time_col(r, 2)?,
        site: r.get(3)?,
        vantage_zones: r.get(4)?,
        scope: r.get(5)?,
        tool_version: r.get(6)?,
        hosts_up: r.get(7)?,
        findings: r.get(8)?,
        by_severity: [r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?],
        controls_failed: r.get(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn db_path_follows_xdg_then_home_then_system() {
        let p = |system, root, vars: &[(&str, &str)]| resolve_db_path(system, root, env(vars));
        assert_eq!(
            p(
                false,
                false,
                &[("XDG_DATA_HOME", "/x/data"), ("HOME", "/home/a")]
            ),
            Some(PathBuf::from("/x/data/clinicscan/history.sqlite"))
        );
        assert_eq!(
            p(
                false,
                false,
                &[("XDG_DATA_HOME", "relative"), ("HOME", "/home/a")]
            ),
            Some(PathBuf::from(
                "/home/a/.local/share/clinicscan/history.sqlite"
            ))
        );
        assert_eq!(
            p(false, true, &[]),
            Some(PathBuf::from(SYSTEM_DB_PATH)),
            "root without HOME"
        );
        assert_eq!(
            p(false, true, &[("HOME", "/root")]),
            Some(PathBuf::from(
                "/root/.local/share/clinicscan/history.sqlite"
            ))
        );
        assert_eq!(
            p(true, false, &[("HOME", "/home/a")]),
            Some(PathBuf::from(SYSTEM_DB_PATH))
        );
        assert_eq!(p(false, false, &[]), None);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        drop(History::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        match History::open(&path) {
            Err(HistoryError::TooNew { found, known, .. }) => {
                assert_eq!((found, known), (99, MIGRATIONS.len() as i64))
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }
}
