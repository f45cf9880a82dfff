//! Plain data for clinicscan.
//!
//! - [`Observation`]: what one scan saw on the network (hosts, ports, protocol facts).
//! - [`Assessment`]: what the rules and the site file make of it (findings, control verdicts).
//! - [`PrecheckReport`]: one host held against a vendor pre-check profile.
//! - [`ChecklistForm`]: an inspection checklist's items and what answers each.
//! - [`CarriedFinding`]: an earlier finding a later run could not check again, with the
//!   reason ([`NotRechecked`]): kept, never counted as resolved.
//!
//! The Observation and the Assessment are versioned JSON contracts with checked-in JSON
//! Schemas under `schemas/`; the pre-check result is plain serde data.
//! No I/O, no async: every other crate depends on this one and on nothing above it.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod assessment;
mod checklist;
mod facts;
mod observation;
mod precheck;
mod recheck;
mod schema;

pub use assessment::{
    ASSESSMENT_SCHEMA, ASSESSMENT_SCHEMA_V1, Assessment, CellState, Certainty, Check,
    ControlResult, ControlStatus, Coverage, CoverageCell, DataSource, Evidence, Finding, Lang,
    Missing, MissingKind, ObservationRef, Reached, Severity, SeverityCounts, Subject, Text,
    VantageState, VantageStatus, ZonePair,
};
pub use checklist::{
    Answerer, Audience, ChecklistForm, FormColumns, FormItem, FormSection, Verification, Wording,
};
pub use facts::{
    CertificateFacts, CipherSuite, DicomFacts, FtpFacts, HttpFacts, IkeFacts, IkeVendorId, KeyType,
    MssqlFacts, MysqlFacts, NtlmInfo, OpenVpnFacts, PostgresFacts, PptpFacts, RdpFacts,
    ServiceFacts, SmbFacts, SnmpEngine, SnmpFacts, SshFacts, SuiteWeakness, TelnetFacts, TlsFacts,
    TlsVersion, TlsVersionResult, UpnpFacts, VncFacts, VncSecurityType, WeakAlgorithm, WebProduct,
};
pub use observation::{
    EgressAttempt, EgressCheck, EgressKind, EgressOutcome, EgressPurpose, Host, HostName,
    HostReason, HostState, HostStatus, NameSource, Notice, NoticeKind, OBSERVATION_SCHEMA,
    Observation, PortReason, PortState, PortSummary, ProbeError, ProbeErrorKind, ScanKind,
    ScanMeta, ScanOptions, ScanStats, Service, Software, ToolInfo, Transport, Vantage,
};
pub use precheck::{ExpectationResult, Outcome, PortCheck, PrecheckReport};
pub use recheck::{CarriedFinding, NotRechecked};
pub use schema::{assessment_schema, observation_schema};
