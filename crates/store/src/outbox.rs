//! Nothing lost when a shared store is briefly unreachable: bounded retries, then a local
//! outbox (the email outbox's pattern).
//!
//! [`record_or_keep`] tries the store a bounded number of times with growing, jittered
//! pauses (two hundred sites finishing at the same minute must not retry in lockstep). Each
//! try first sends what earlier runs kept, oldest first, then this run's scan. When the
//! store still cannot take it, the scan is written to the outbox directory (temporary file,
//! fsync, rename, fsync of the directory) and the run says so; the next run sends it.
//! A file leaves the outbox only after the store committed it, and recording is idempotent
//! (keyed by the Observations' ids), so a kill between the commit and the removal sends it
//! again without storing it twice.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, Observation};
use serde::{Deserialize, Serialize};

use crate::record::scan_key;
use crate::{Location, Recorded, Store, StoreError};

/// How often and how patiently to try the store before keeping a scan in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all (at least one).
    pub attempts: u32,
    /// The pause after the first failure; it doubles after each further one.
    pub first_delay: Duration,
    /// The longest pause.
    pub max_delay: Duration,
}

impl Default for Retry {
    /// Five tries over about fifteen seconds: a database restart or a failover fits in it,
    /// a scheduled run does not hang for minutes on a dead server.
    fn default() -> Retry {
        Retry {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl Retry {
    /// The pause before try `attempt` (1-based, after a failure): exponential, capped,
    /// and drawn between half and all of it so many clients spread out.
    fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .first_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let full = exp.min(self.max_delay);
        let mut h = RandomState::new().build_hasher();
        h.write_u32(attempt);
        let frac = (h.finish() % 1000) as u32;
        full / 2 + full / 2 * frac / 1000
    }
}

/// What [`record_or_keep`] did with the scan.
#[derive(Debug)]
pub enum Delivery {
    /// The store took it (and everything the outbox held).
    Recorded {
        /// The open store, for the diff and the report.
        store: Box<dyn Store>,
        /// The scan's id.
        recorded: Recorded,
        /// Scans of earlier runs sent from the outbox first.
        flushed: usize,
    },
    /// The store could not take it: the scan is in the outbox.
    Kept {
        /// The file it is kept in.
        path: PathBuf,
        /// Scans now waiting in the outbox, this one included.
        pending: usize,
        /// The last failure.
        error: StoreError,
    },
}

/// Records a scan at `location`, retrying per `retry`, after sending what the outbox holds;
/// keeps it in the outbox when the store cannot take it. An `Err` means the scan could not
/// even be kept (the outbox directory failed).
pub fn record_or_keep(
    location: &Location,
    outbox: &ScanOutbox,
    retry: &Retry,
    observations: &[Observation],
    assessment: &Assessment,
) -> Result<Delivery, StoreError> {
    let mut attempt = 0;
    let error = loop {
        if attempt > 0 {
            std::thread::sleep(retry.delay(attempt));
        }
        attempt += 1;
        let tried = crate::open(location).and_then(|mut store| {
            let flushed = outbox.flush(store.as_mut())?;
            let recorded = store.record(observations, assessment)?;
            Ok((store, recorded, flushed))
        });
        match tried {
            Ok((store, recorded, flushed)) => {
                return Ok(Delivery::Recorded {
                    store,
                    recorded,
                    flushed,
                });
            }
            Err(e) if e.is_transient() && attempt < retry.attempts => continue,
            Err(e) => break e,
        }
    };
    let path = outbox.keep(observations, assessment, &error.to_string())?;
    Ok(Delivery::Kept {
        path,
        pending: outbox.len()?,
        error,
    })
}

/// A directory of scans waiting for the store.
#[derive(Debug, Clone)]
pub struct ScanOutbox {
    dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    version: u32,
    created: DateTime<Utc>,
    key: String,
    last_error: String,
    observations: Vec<Observation>,
    assessment: Assessment,
}

impl ScanOutbox {
    /// An outbox in `dir` (created, owner-only, on first use).
    pub fn new(dir: impl Into<PathBuf>) -> ScanOutbox {
        ScanOutbox { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Kept scans, oldest first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, StoreError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut v: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(Self::io(&self.dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.starts_with('.'))
            })
            .collect();
        v.sort();
        Ok(v)
    }

    /// Number of kept scans.
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.pending()?.len())
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Writes a scan to the outbox, atomically and durably.
    pub fn keep(
        &self,
        observations: &[Observation],
        assessment: &Assessment,
        last_error: &str,
    ) -> Result<PathBuf, StoreError> {
        crate::private::create_dir(&self.dir).map_err(Self::io(&self.dir))?;
        let created = Utc::now();
        let key = scan_key(observations, assessment);
        let kept = Kept {
            version: 1,
            created,
            key: key.clone(),
            last_error: last_error.to_string(),
            observations: observations.to_vec(),
            assessment: assessment.clone(),
        };
        let json = serde_json::to_vec(&kept).map_err(StoreError::Serialise)?;
        // Time first, so names sort oldest first; the key's hash keeps two scans of the
        // same instant apart and one scan kept twice under one name.
        let mut h = std::hash::DefaultHasher::new();
        h.write(key.as_bytes());
        let name = format!(
            "{}-{:016x}.json",
            created.format("%Y%m%dT%H%M%S%.9fZ"),
            h.finish()
        );
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut f = crate::private::create_file(&tmp).map_err(Self::io(&tmp))?;
        f.write_all(&json).map_err(Self::io(&tmp))?;
        f.sync_all().map_err(Self::io(&tmp))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(Self::io(&path))?;
        self.sync_dir();
        Ok(path)
    }

    fn sync_dir(&self) {
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
    }

    /// Sends every kept scan to `store`, oldest first, removing each after the store took
    /// it. Stops at the first store error (returned: the caller retries or keeps). A file
    /// that does not parse is moved to `unreadable/` for the operator, never deleted.
    pub fn flush(&self, store: &mut dyn Store) -> Result<usize, StoreError> {
        let mut sent = 0;
        for path in self.pending()? {
            let text = fs::read_to_string(&path).map_err(Self::io(&path))?;
            let kept = match serde_json::from_str::<Kept>(&text) {
                Ok(k) => k,
                Err(_) => {
                    let aside = self.dir.join("unreadable");
                    crate::private::create_dir(&aside).map_err(Self::io(&aside))?;
                    let to = aside.join(path.file_name().unwrap_or_default());
                    fs::rename(&path, &to).map_err(Self::io(&to))?;
                    continue;
                }
            };
            store.record(&kept.observations, &kept.assessment)?;
            fs::remove_file(&path).map_err(Self::io(&path))?;
            self.sync_dir();
            sent += 1;
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_spread() {
        let r = Retry {
            attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for attempt in 1..10 {
            let full = (Duration::from_millis(100) * (1 << (attempt - 1))).min(r.max_delay);
            let d = r.delay(attempt);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} of {full:?}"
            );
        }
        let draws: std::collections::BTreeSet<Duration> = (0..20).map(|_| r.delay(4)).collect();
        assert!(draws.len() > 1, "no jitter");
    }
}
