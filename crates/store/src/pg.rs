//! The shared backend: PostgreSQL (the `postgres` crate, TLS through rustls).
//!
//! Tables live in their own schema, `clinicscan`, so the store can share a database the
//! organisation already runs. Migrations are numbered and recorded in
//! `clinicscan.schema_version`; the first client to see an old or missing schema applies
//! them under a transaction-scoped advisory lock, so two hundred sites starting at the same
//! minute migrate once, and the others take the fast path (one catalogue query).
//!
//! A scan is one transaction, as in SQLite: either all of it or none of it is visible. The
//! insert is `ON CONFLICT (scan_key) DO NOTHING`: a retry after an acknowledgement was lost
//! finds the scan already there and stores nothing twice. The documents are kept as `text`,
//! not `jsonb`: `jsonb` refuses a `\u0000` escape, which a hostile device's banner can put
//! into an Observation, and such a scan must still be recorded (cast to `jsonb` in a query
//! to search them).

use std::collections::BTreeMap;
use std::error::Error as _;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, Observation};

use crate::location::{PgUrl, SslMode};
use crate::record::{ScanRow, decode_assessment, decode_scan, decode_seen};
use crate::{HostSeen, Recorded, ScanId, ScanSummary, Store, StoreError, StoredScan};

/// The numbered migrations; `clinicscan.schema_version` holds the numbers applied.
const MIGRATIONS: &[&str] = &[
    // 1: the same three tables as the SQLite store (at its version 2).
    "CREATE TABLE clinicscan.scans (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        scan_key TEXT NOT NULL UNIQUE,
        recorded TIMESTAMPTZ NOT NULL,
        started TIMESTAMPTZ NOT NULL,
        scope TEXT NOT NULL,
        site TEXT,
        site_id TEXT,
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
        assessment TEXT NOT NULL
    );
    CREATE INDEX scans_scope ON clinicscan.scans (scope, id);
    CREATE INDEX scans_site ON clinicscan.scans (site_id, vantage_zones, started);
    CREATE TABLE clinicscan.observations (
        scan_id BIGINT NOT NULL REFERENCES clinicscan.scans (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        observation_id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (scan_id, seq)
    );
    CREATE TABLE clinicscan.scan_hosts (
        scan_id BIGINT NOT NULL REFERENCES clinicscan.scans (id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        mac TEXT,
        PRIMARY KEY (scan_id, address)
    );
    CREATE INDEX scan_hosts_address ON clinicscan.scan_hosts (address);",
];

/// The advisory lock key that serialises migrations ("clinicsc" in ASCII).
const MIGRATION_LOCK: i64 = 0x636c_696e_6963_7363;

const SUMMARY_SELECT: &str = "SELECT id, recorded, started, site, vantage_zones, scope,
    tool_version, hosts_up, findings, critical, high, medium, low, info, controls_failed,
    site_id, assessment FROM clinicscan.scans";
const ASSESSMENT_COLUMN: usize = 16;

/// A connection to a PostgreSQL history.
pub struct PgStore {
    client: postgres::Client,
    url: PgUrl,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.url).finish()
    }
}

impl PgStore {
    /// Connects (TLS per the URL's `sslmode`) and migrates the schema if needed.
    pub fn connect(url: &PgUrl) -> Result<PgStore, StoreError> {
        let mut config = postgres::Config::new();
        config
            .host(&url.host)
            .port(url.port)
            .connect_timeout(url.connect_timeout)
            .application_name(&url.application_name);
        // libpq's default user is the operating system's.
        let user = url
            .user
            .clone()
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .ok_or_else(|| {
                StoreError::Location(format!("{}: no user name in the URL", url.masked()))
            })?;
        config.user(&user);
        if let Some(p) = &url.password {
            config.password(p);
        }
        if let Some(d) = &url.dbname {
            config.dbname(d);
        }
        let client = match url.sslmode {
            SslMode::Disable => {
                config.ssl_mode(postgres::config::SslMode::Disable);
                config.connect(postgres::NoTls)
            }
            _ => {
                config.ssl_mode(postgres::config::SslMode::Require);
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(
                    crate::pg_tls::client_config(url)?,
                );
                config.connect(tls)
            }
        }
        .map_err(|e| pg_error(url, &e))?;
        let mut store = PgStore {
            client,
            url: url.clone(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self) -> impl Fn(postgres::Error) -> StoreError + '_ {
        move |e| pg_error(&self.url, &e)
    }

    /// The applied schema version, `None` when there is no clinicscan schema yet.
    fn version(&mut self) -> Result<Option<i64>, StoreError> {
        let url = self.url.clone();
        let e = |err| pg_error(&url, &err);
        let exists: bool = self
            .client
            .query_one(
                "SELECT to_regclass('clinicscan.schema_version') IS NOT NULL",
                &[],
            )
            .map_err(e)?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let v: i64 = self
            .client
            .query_one(
                "SELECT coalesce(max(version), 0)::bigint FROM clinicscan.schema_version",
                &[],
            )
            .map_err(e)?
            .get(0);
        Ok(Some(v))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as i64;
        let url = self.url.clone();
        let too_new = |found| StoreError::TooNew {
            location: url.masked(),
            found,
            known,
        };
        match self.version()? {
            Some(v) if v == known => return Ok(()),
            Some(v) if v > known => return Err(too_new(v)),
            _ => {}
        }
        let e = |err| pg_error(&url, &err);
        let mut tx = self.client.transaction().map_err(e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(e)?;
        tx.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS clinicscan;
             CREATE TABLE IF NOT EXISTS clinicscan.schema_version (
                version INTEGER NOT NULL,
                applied TIMESTAMPTZ NOT NULL DEFAULT now()
             );",
        )
        .map_err(e)?;
        let v: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0)::bigint FROM clinicscan.schema_version",
                &[],
            )
            .map_err(e)?
            .get(0);
        if v > known {
            return Err(too_new(v));
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.batch_execute(migration).map_err(e)?;
            let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO clinicscan.schema_version (version) VALUES ($1)",
                &[&n],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    fn summaries(
        &mut self,
        filter: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<(ScanSummary, String)>, StoreError> {
        let rows = self
            .client
            .query(&format!("{SUMMARY_SELECT} {filter}"), params)
            .map_err(self.err())?;
        rows.iter()
            .map(|r| summary_row(r).map_err(self.err()))
            .collect()
    }
}

/// A PostgreSQL error as text without the password, and whether a retry may succeed.
fn pg_error(url: &PgUrl, e: &postgres::Error) -> StoreError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    StoreError::Postgres {
        location: url.masked(),
        message: url.scrub(message),
        code: e.code().map(|c| c.code().to_string()),
        transient: is_transient(e),
    }
}

/// Connection lost or refused, server starting or stopping, too many clients, a
/// serialisation conflict: worth another try. Authentication, TLS certificates, SQL
/// errors: not.
fn is_transient(e: &postgres::Error) -> bool {
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || matches!(c, "53300" | "57P01" | "57P02" | "57P03" | "40001" | "40P01");
    }
    if e.is_closed() {
        return true;
    }
    let mut source = e.source();
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return false;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let tls = io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
            return !tls;
        }
        source = s.source();
    }
    false
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn uncount(r: &postgres::Row, i: usize) -> Result<u32, postgres::Error> {
    Ok(u32::try_from(r.try_get::<_, i32>(i)?).unwrap_or(0))
}

fn summary_row(r: &postgres::Row) -> Result<(ScanSummary, String), postgres::Error> {
    Ok((
        ScanSummary {
            id: r.try_get(0)?,
            recorded: r.try_get::<_, DateTime<Utc>>(1)?,
            started: r.try_get::<_, DateTime<Utc>>(2)?,
            site: r.try_get(3)?,
            vantage_zones: r.try_get(4)?,
            scope: r.try_get(5)?,
            tool_version: r.try_get(6)?,
            hosts_up: uncount(r, 7)?,
            findings: uncount(r, 8)?,
            by_severity: [
                uncount(r, 9)?,
                uncount(r, 10)?,
                uncount(r, 11)?,
                uncount(r, 12)?,
                uncount(r, 13)?,
            ],
            controls_failed: uncount(r, 14)?,
            site_id: r.try_get(15)?,
        },
        r.try_get(ASSESSMENT_COLUMN)?,
    ))
}

impl Store for PgStore {
    fn location(&self) -> String {
        self.url.masked()
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn record(
        &mut self,
        observations: &[Observation],
        assessment: &Assessment,
    ) -> Result<Recorded, StoreError> {
        let row = ScanRow::new(observations, assessment)?;
        let url = self.url.clone();
        let e = |err| pg_error(&url, &err);
        let mut tx = self.client.transaction().map_err(e)?;
        let [critical, high, medium, low, info] = row.by_severity.map(count);
        let inserted = tx
            .query_opt(
                "INSERT INTO clinicscan.scans (scan_key, recorded, started, scope, site, site_id,
                    vantage_zones, tool_version, hosts_up, findings, critical, high, medium, low,
                    info, controls_failed, assessment)
                 VALUES ($1, now(), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (scan_key) DO NOTHING
                 RETURNING id",
                &[
                    &row.key,
                    &row.started,
                    &row.scope,
                    &row.site,
                    &row.site_id,
                    &row.vantage_zones,
                    &row.tool_version,
                    &count(row.hosts_up),
                    &count(row.findings),
                    &critical,
                    &high,
                    &medium,
                    &low,
                    &info,
                    &count(row.controls_failed),
                    &row.assessment_json,
                ],
            )
            .map_err(e)?;
        let Some(inserted) = inserted else {
            let id: ScanId = tx
                .query_one(
                    "SELECT id FROM clinicscan.scans WHERE scan_key = $1",
                    &[&row.key],
                )
                .map_err(e)?
                .get(0);
            tx.commit().map_err(e)?;
            return Ok(Recorded { id, new: false });
        };
        let id: ScanId = inserted.get(0);
        let ins = tx
            .prepare(
                "INSERT INTO clinicscan.observations (scan_id, seq, observation_id, doc)
                 VALUES ($1, $2, $3, $4)",
            )
            .map_err(e)?;
        for (seq, (obs_id, json)) in row.observations.iter().enumerate() {
            let seq = i32::try_from(seq).unwrap_or(i32::MAX);
            tx.execute(&ins, &[&id, &seq, obs_id, json]).map_err(e)?;
        }
        let ins = tx
            .prepare(
                "INSERT INTO clinicscan.scan_hosts (scan_id, address, mac) VALUES ($1, $2, $3)",
            )
            .map_err(e)?;
        for (addr, mac) in &row.hosts {
            tx.execute(&ins, &[&id, &addr.to_string(), mac])
                .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(Recorded { id, new: true })
    }

    fn list(&mut self, site_id: Option<&str>) -> Result<Vec<ScanSummary>, StoreError> {
        let rows = self.summaries(
            "WHERE ($1::text IS NULL OR site_id = $1) ORDER BY id",
            &[&site_id],
        )?;
        Ok(rows.into_iter().map(|(s, _)| s).collect())
    }

    fn latest(&mut self, site_id: Option<&str>) -> Result<Option<ScanId>, StoreError> {
        let row = self
            .client
            .query_one(
                "SELECT max(id) FROM clinicscan.scans WHERE ($1::text IS NULL OR site_id = $1)",
                &[&site_id],
            )
            .map_err(self.err())?;
        Ok(row.get(0))
    }

    fn latest_before(&mut self, id: ScanId) -> Result<Option<ScanId>, StoreError> {
        let scope = self
            .client
            .query_opt("SELECT scope FROM clinicscan.scans WHERE id = $1", &[&id])
            .map_err(self.err())?
            .ok_or(StoreError::NoSuchScan(id))?;
        let scope: String = scope.get(0);
        let row = self
            .client
            .query_one(
                "SELECT max(id) FROM clinicscan.scans WHERE scope = $1 AND id < $2",
                &[&scope, &id],
            )
            .map_err(self.err())?;
        Ok(row.get(0))
    }

    fn show(&mut self, id: ScanId) -> Result<StoredScan, StoreError> {
        let (summary, assessment_json) = self
            .summaries("WHERE id = $1", &[&id])?
            .into_iter()
            .next()
            .ok_or(StoreError::NoSuchScan(id))?;
        let docs: Vec<String> = self
            .client
            .query(
                "SELECT doc FROM clinicscan.observations WHERE scan_id = $1 ORDER BY seq",
                &[&id],
            )
            .map_err(self.err())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        decode_scan(id, summary, &assessment_json, &docs)
    }

    fn host_seen(
        &mut self,
        site_id: Option<&str>,
    ) -> Result<BTreeMap<IpAddr, HostSeen>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT h.address, min(s.started), max(s.started)
                 FROM clinicscan.scan_hosts h JOIN clinicscan.scans s ON s.id = h.scan_id
                 WHERE ($1::text IS NULL OR s.site_id = $1)
                 GROUP BY h.address",
                &[&site_id],
            )
            .map_err(self.err())?;
        Ok(decode_seen(rows.iter().map(|r| {
            (r.get(0), r.get::<_, DateTime<Utc>>(1), r.get(2))
        })))
    }

    fn last_sightings(
        &mut self,
        site_id: Option<&str>,
    ) -> Result<Vec<(IpAddr, ScanId)>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT h.address, max(h.scan_id)
                 FROM clinicscan.scan_hosts h JOIN clinicscan.scans s ON s.id = h.scan_id
                 WHERE ($1::text IS NULL OR s.site_id = $1)
                 GROUP BY h.address",
                &[&site_id],
            )
            .map_err(self.err())?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get::<_, String>(0).parse().ok()?, r.get(1))))
            .collect())
    }

    fn newest_per_site_zone(&mut self) -> Result<Vec<(ScanSummary, Assessment)>, StoreError> {
        let rows = self.summaries_distinct()?;
        rows.into_iter()
            .map(|(s, json)| Ok((s.clone(), decode_assessment(s.id, &json)?)))
            .collect()
    }
}

impl PgStore {
    fn summaries_distinct(&mut self) -> Result<Vec<(ScanSummary, String)>, StoreError> {
        let select =
            SUMMARY_SELECT.replacen("SELECT", "SELECT DISTINCT ON (site_id, vantage_zones)", 1);
        let rows = self
            .client
            .query(
                &format!(
                    "{select} WHERE site_id IS NOT NULL
                     ORDER BY site_id, vantage_zones, started DESC, id DESC"
                ),
                &[],
            )
            .map_err(self.err())?;
        rows.iter()
            .map(|r| summary_row(r).map_err(self.err()))
            .collect()
    }
}
