//! Reports, scan history and email for clinicscan.
//!
//! - [`render`]: an [`Assessment`](clinicscan_model::Assessment) (with its Observations, and
//!   optionally the [`ScanDiff`] against the previous scan) as a terminal table, JSON, one
//!   self-contained HTML file, CSV, Markdown or the asset inventory (台帳), in Japanese or
//!   English. [`render_inventory`] adds the site's zones to the inventory;
//!   [`render_history_list`] and [`render_diff`] show the history as text;
//!   [`render_precheck`] a vendor pre-check.
//! - [`History`]: every scan in SQLite (observations, assessment, summary columns), with
//!   list, show, the previous scan of the same scope, the diff between two scans, and
//!   first/last-seen dates and last records of every host for the inventory.
//! - [`deliver`]: email over SMTP (STARTTLS or implicit TLS via rustls) with an outbox, so
//!   a failed send loses nothing and is retried on the next run.
//! - [`RunLock`]: one scheduled run at a time.
//!
//! This crate never evaluates a rule and never opens a scanner socket; SMTP is its only
//! network use.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod diff;
mod email;
mod history;
mod lock;
mod private;
mod render;
mod strings;

pub use diff::{ScanDiff, ScanPoint, ScanSide, ServiceRef};
pub use email::{
    DeliveryReport, EmailError, EmailOn, EmailSettings, Outbox, OutgoingEmail, Secret, Security,
    compose, deliver, should_email,
};
pub use history::{
    History, HistoryError, SYSTEM_DB_PATH, ScanId, ScanSummary, StoredScan, default_db_path,
};
pub use lock::{LockError, RunLock};
pub use render::{
    Format, HostSeen, RenderError, ReportInput, render, render_diff, render_history_list,
    render_inventory, render_precheck,
};
