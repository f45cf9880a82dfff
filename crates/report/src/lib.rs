//! Reports, scan history and email for clinicscan.
//!
//! - [`render`]: an [`Assessment`](clinicscan_model::Assessment) (with its Observations, and
//!   optionally the [`ScanDiff`] against the previous scan) as a terminal table, JSON, one
//!   self-contained HTML file, CSV, Markdown or the asset inventory (台帳), in Japanese or
//!   English. [`render_inventory`] adds the site's zones to the inventory;
//!   [`render_history_list`] and [`render_diff`] show the history as text;
//!   [`render_precheck`] a vendor pre-check.
//! - [`render_checklist`] / [`render_checklist_xlsx`]: the inspection checklist
//!   (チェックリスト) of the Assessment's edition, pre-filled from its verdicts, as one
//!   printable HTML file or an Excel workbook; [`render_precheck_checklist`]: the vendor's
//!   form with a pre-check's evidence.
//! - The history itself is the `clinicscan-store` crate (SQLite or PostgreSQL); this crate
//!   renders what it returns ([`render_history_list`]) and computes the [`ScanDiff`]
//!   between two stored scans.
//! - [`events`] / [`render_jsonl`]: one SIEM event per finding and per control result with
//!   Elastic Common Schema field names (`schemas/event.v1.json`), and [`send_events`]: the
//!   same events as RFC 5424 syslog over TLS (RFC 5425), UDP or a loopback TCP relay.
//! - [`render_fleet`]: the fleet view of a shared store (text or one HTML page).
//! - [`deliver`]: email over SMTP (STARTTLS or implicit TLS via rustls) with an outbox, so
//!   a failed send loses nothing and is retried on the next run.
//! - [`RunLock`]: one scheduled run at a time.
//!
//! This crate never evaluates a rule and never opens a scanner socket; SMTP and syslog are
//! its only network use.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod diff;
mod email;
mod events;
mod fleet;
mod lock;
mod private;
mod render;
mod strings;
mod syslog;

pub use diff::{ScanDiff, ScanPoint, ScanSide, ServiceRef};
pub use email::{
    DeliveryReport, EmailError, EmailOn, EmailSettings, Outbox, OutgoingEmail, Secret, Security,
    compose, deliver, should_email, test_connection,
};
pub use events::{ECS_VERSION, EVENT_SCHEMA, events, render_jsonl};
pub use fleet::{FleetFormat, render_fleet};
pub use lock::{LockError, RunLock};
pub use render::{
    ChecklistAnswer, ChecklistInput, Format, HostSeen, ItemAnswer, RenderError, ReportInput,
    checklist_answers, render, render_checklist, render_checklist_xlsx, render_diff,
    render_history_list, render_inventory, render_precheck, render_precheck_checklist,
};
pub use syslog::{
    Header as SyslogHeader, SyslogError, SyslogReport, SyslogTarget, SyslogTransport, format_5424,
    frame as syslog_frame, send_events,
};
