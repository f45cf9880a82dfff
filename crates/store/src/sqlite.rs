//! The embedded backend: one SQLite file (rusqlite, bundled SQLite).
//!
//! Every scan is stored whole (the Observation JSON, the Assessment JSON) with summary
//! columns for listing. Writes happen in one transaction with WAL and `synchronous=FULL`,
//! so a kill at any moment leaves either the whole scan or none of it, and earlier scans are
//! never touched. The schema is versioned with `PRAGMA user_version` and numbered migrations.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, Observation};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::record::{ScanRow, decode_assessment, decode_scan, decode_seen};
use crate::{HostSeen, Recorded, ScanId, ScanSummary, Store, StoreError, StoredScan};

/// The database path when running as a system service.
pub const SYSTEM_DB_PATH: &str = "/var/lib/clinicscan/history.sqlite";

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
    // 2: site ids for a fleet, and the idempotency key (the Observations' ids). Scans
    // recorded before keep a NULL key: they are never matched, never rejected.
    "ALTER TABLE scans ADD COLUMN site_id TEXT;
    ALTER TABLE scans ADD COLUMN scan_key TEXT;
    CREATE UNIQUE INDEX scans_key ON scans(scan_key);
    CREATE INDEX scans_site ON scans(site_id, started);",
];

/// An open SQLite history.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) and migrates the database.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private::create_dir(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        // A new database is created owner-only; SQLite gives its -wal and -shm files the
        // same mode.
        crate::private::touch(&path).map_err(|source| StoreError::Io {
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
            return Err(StoreError::TooNew {
                location: path.display().to_string(),
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
        Ok(SqliteStore { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `PRAGMA integrity_check`; `Ok(())` when SQLite answers "ok", else its messages.
    pub fn integrity_check(&self) -> Result<Result<(), String>, StoreError> {
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

    fn summaries(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<ScanSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{SUMMARY_SELECT} {filter}"))
            .map_err(self.sql())?;
        stmt.query_map(args, summary_row)
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())
    }
}

impl Store for SqliteStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn record(
        &mut self,
        observations: &[Observation],
        assessment: &Assessment,
    ) -> Result<Recorded, StoreError> {
        let row = ScanRow::new(observations, assessment)?;
        let path = self.path.clone();
        let sql = move |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let existing: Option<ScanId> = tx
            .query_row(
                "SELECT id FROM scans WHERE scan_key = ?1",
                [&row.key],
                |r| r.get(0),
            )
            .optional()
            .map_err(&sql)?;
        if let Some(id) = existing {
            return Ok(Recorded { id, new: false });
        }
        let [critical, high, medium, low, info] = row.by_severity;
        tx.execute(
            "INSERT INTO scans (recorded, started, scope, site, vantage_zones, tool_version,
                hosts_up, findings, critical, high, medium, low, info, controls_failed,
                assessment_json, site_id, scan_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                Utc::now().to_rfc3339(),
                row.started.to_rfc3339(),
                row.scope,
                row.site,
                row.vantage_zones,
                row.tool_version,
                row.hosts_up,
                row.findings,
                critical,
                high,
                medium,
                low,
                info,
                row.controls_failed,
                row.assessment_json,
                row.site_id,
                row.key,
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
            for (seq, (obs_id, json)) in row.observations.iter().enumerate() {
                ins.execute(params![id, seq as i64, obs_id, json])
                    .map_err(&sql)?;
            }
            let mut ins = tx
                .prepare("INSERT INTO scan_hosts (scan_id, address, mac) VALUES (?1, ?2, ?3)")
                .map_err(&sql)?;
            for (addr, mac) in &row.hosts {
                ins.execute(params![id, addr.to_string(), mac])
                    .map_err(&sql)?;
            }
        }
        tx.commit().map_err(&sql)?;
        Ok(Recorded { id, new: true })
    }

    fn list(&mut self, site_id: Option<&str>) -> Result<Vec<ScanSummary>, StoreError> {
        match site_id {
            Some(site) => self.summaries("WHERE site_id = ?1 ORDER BY id", [site]),
            None => self.summaries("ORDER BY id", []),
        }
    }

    fn latest(&mut self, site_id: Option<&str>) -> Result<Option<ScanId>, StoreError> {
        match site_id {
            Some(site) => self.conn.query_row(
                "SELECT max(id) FROM scans WHERE site_id = ?1",
                [site],
                |r| r.get(0),
            ),
            None => self
                .conn
                .query_row("SELECT max(id) FROM scans", [], |r| r.get(0)),
        }
        .map_err(self.sql())
    }

    fn latest_before(&mut self, id: ScanId) -> Result<Option<ScanId>, StoreError> {
        let scope: Option<String> = self
            .conn
            .query_row("SELECT scope FROM scans WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(self.sql())?;
        let scope = scope.ok_or(StoreError::NoSuchScan(id))?;
        self.conn
            .query_row(
                "SELECT max(id) FROM scans WHERE scope = ?1 AND id < ?2",
                params![scope, id],
                |r| r.get(0),
            )
            .map_err(self.sql())
    }

    fn show(&mut self, id: ScanId) -> Result<StoredScan, StoreError> {
        let row = self
            .conn
            .query_row(&format!("{SUMMARY_SELECT} WHERE id = ?1"), [id], |r| {
                Ok((summary_row(r)?, r.get::<_, String>(ASSESSMENT_COLUMN)?))
            })
            .optional()
            .map_err(self.sql())?;
        let (summary, assessment_json) = row.ok_or(StoreError::NoSuchScan(id))?;
        let mut stmt = self
            .conn
            .prepare("SELECT json FROM observations WHERE scan_id = ?1 ORDER BY seq")
            .map_err(self.sql())?;
        let jsons = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        decode_scan(id, summary, &assessment_json, &jsons)
    }

    fn host_seen(
        &mut self,
        site_id: Option<&str>,
    ) -> Result<BTreeMap<IpAddr, HostSeen>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT h.address, min(s.started), max(s.started)
                 FROM scan_hosts h JOIN scans s ON s.id = h.scan_id
                 WHERE ?1 IS NULL OR s.site_id = ?1
                 GROUP BY h.address",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([site_id], |r| {
                Ok((r.get::<_, String>(0)?, time_col(r, 1)?, time_col(r, 2)?))
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        Ok(decode_seen(rows))
    }

    fn last_sightings(
        &mut self,
        site_id: Option<&str>,
    ) -> Result<Vec<(IpAddr, ScanId)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT h.address, max(h.scan_id)
                 FROM scan_hosts h JOIN scans s ON s.id = h.scan_id
                 WHERE ?1 IS NULL OR s.site_id = ?1
                 GROUP BY h.address",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([site_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, ScanId>(1)?))
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        Ok(rows
            .into_iter()
            .filter_map(|(a, id)| Some((a.parse().ok()?, id)))
            .collect())
    }

    fn newest_per_site_zone(&mut self) -> Result<Vec<(ScanSummary, Assessment)>, StoreError> {
        // RFC 3339 UTC times as written here sort as text in time order.
        let mut stmt = self
            .conn
            .prepare(&format!(
                "{SUMMARY_SELECT} s WHERE site_id IS NOT NULL AND id = (
                    SELECT t.id FROM scans t
                    WHERE t.site_id = s.site_id AND t.vantage_zones = s.vantage_zones
                    ORDER BY t.started DESC, t.id DESC LIMIT 1)
                 ORDER BY site_id, vantage_zones"
            ))
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((summary_row(r)?, r.get::<_, String>(ASSESSMENT_COLUMN)?))
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        rows.into_iter()
            .map(|(s, json)| Ok((s.clone(), decode_assessment(s.id, &json)?)))
            .collect()
    }
}

const SUMMARY_SELECT: &str = "SELECT id, recorded, started, site, vantage_zones, scope,
    tool_version, hosts_up, findings, critical, high, medium, low, info, controls_failed,
    site_id, assessment_json FROM scans";
const ASSESSMENT_COLUMN: usize = 16;

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
        site_id: r.get(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        match SqliteStore::open(&path) {
            Err(StoreError::TooNew { found, known, .. }) => {
                assert_eq!((found, known), (99, MIGRATIONS.len() as i64))
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn a_version_1_database_is_migrated_and_keeps_its_scans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO scans (recorded, started, scope, site, vantage_zones, tool_version,
                    hosts_up, findings, critical, high, medium, low, info, controls_failed,
                    assessment_json)
                 VALUES ('2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', '{}', 'old',
                    'general', '0.1.0', 1, 0, 0, 0, 0, 0, 0, 0, '{}')",
                [],
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let list = store.list(None).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].site.as_deref(), Some("old"));
        assert_eq!(list[0].site_id, None);
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }
}
