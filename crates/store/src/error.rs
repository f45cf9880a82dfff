//! The one error type of the store. Texts name where the store is with its password masked;
//! a PostgreSQL error is turned into text at once, scrubbed of the password, and keeps
//! whether it is worth retrying.

use std::path::PathBuf;

use crate::ScanId;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `--db` / `CLINICSCAN_DB` is not a usable path or URL.
    #[error("database location: {0}")]
    Location(String),
    /// SQLite failed.
    #[error("history database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// PostgreSQL failed (connecting, TLS, a statement).
    #[error("history database {location}: {message}")]
    Postgres {
        /// The URL, password masked.
        location: String,
        /// What failed, scrubbed of the password.
        message: String,
        /// The SQLSTATE code, when the server sent one.
        code: Option<String>,
        /// Whether trying again later may succeed (connection lost or refused, server
        /// starting or shutting down, too many clients, serialisation conflict).
        transient: bool,
    },
    /// The TLS settings for PostgreSQL could not be built (a certificate file).
    #[error("history database TLS settings: {0}")]
    Tls(String),
    /// A file or directory could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database was written by a newer clinicscan.
    #[error(
        "history database {location} has schema version {found}; this clinicscan knows up to {known}: upgrade clinicscan"
    )]
    TooNew {
        /// The database.
        location: String,
        /// Its schema version.
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

impl StoreError {
    /// Whether trying again later may succeed: the store was unreachable or busy, not
    /// misconfigured.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Postgres { transient, .. } => *transient,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}
