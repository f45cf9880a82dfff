//! Email: SMTP over rustls (lettre, blocking), with an outbox so a failed send loses nothing.
//!
//! - STARTTLS (default, port 587) or implicit TLS (port 465); plain SMTP only to a loopback
//!   host. Certificates are always verified against the system roots plus an optional
//!   `tls_ca_file`; there is no switch to turn verification off.
//! - The password comes from `CLINICSCAN_SMTP_PASSWORD`, or from a file
//!   (`CLINICSCAN_SMTP_PASSWORD_FILE` or `password_file` in the site file). It is never
//!   printed: [`Secret`]'s `Debug` hides it and error texts are scrubbed of it.
//! - [`deliver`] first writes the new message to the outbox directory (atomically: temp
//!   file, fsync, rename), then sends every queued message, oldest first, and removes each
//!   one only after the server accepted it. A kill mid-send can at worst send a message
//!   twice; it never loses one.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, Severity};
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::{Deserialize, Serialize};

use crate::diff::ScanDiff;
use crate::render::{Change, ChangeItems, Format, ReportInput, View, counts_line, fmt_time};
use crate::strings::S;

/// A password. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (default port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (default port 465).
    Tls,
    /// No TLS (default port 25): allowed only to a loopback host (a local relay).
    Plain,
}

/// When to send email after a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmailOn {
    /// After every scan.
    Always,
    /// When there is at least one finding above `info` (reported, or carried as not
    /// re-checked).
    #[default]
    Findings,
    /// When something changed since the previous scan of the same scope (or there is none),
    /// a finding that newly could not be checked again included.
    Changes,
}

/// Whether to send email for this scan.
pub fn should_email(on: EmailOn, assessment: &Assessment, diff: Option<&ScanDiff>) -> bool {
    match on {
        EmailOn::Always => true,
        // A finding this run could not check again is still a finding.
        EmailOn::Findings => assessment
            .findings
            .iter()
            .chain(assessment.not_rechecked.iter().map(|c| &c.finding))
            .any(|f| f.severity > Severity::Info),
        EmailOn::Changes => diff.is_none_or(ScanDiff::has_changes),
    }
}

/// SMTP settings: the site file's `[email]` table, overlaid with `CLINICSCAN_SMTP_*`
/// variables by [`EmailSettings::resolve`].
///
/// There is deliberately no `password` key: a password lives in the environment or in a
/// file, never in the site file or on a command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    /// SMTP server host name (or address).
    pub host: String,
    /// Port; by default 587 (STARTTLS), 465 (TLS) or 25 (plain).
    pub port: Option<u16>,
    /// Connection security.
    pub security: Security,
    /// User name for SMTP AUTH, if the server needs it.
    pub username: Option<String>,
    /// A file holding the password (first line).
    pub password_file: Option<PathBuf>,
    /// Sender address, e.g. `clinicscan <scan@clinic.example>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Extra CA certificates (PEM) to trust for the server, e.g. a site's own CA.
    pub tls_ca_file: Option<PathBuf>,
    /// Connect/command timeout in seconds (default 30).
    pub timeout_secs: Option<u64>,
    /// The password (from the environment or `password_file`, filled by `resolve`).
    #[serde(skip)]
    pub password: Option<Secret>,
}

impl EmailSettings {
    /// Overlays the environment on the site file's table and loads the password.
    ///
    /// Variables: `CLINICSCAN_SMTP_HOST`, `_PORT`, `_SECURITY` (starttls|tls|plain),
    /// `_USERNAME`, `_PASSWORD`, `_PASSWORD_FILE`, `_FROM`, `_TO` (comma-separated),
    /// `_TLS_CA_FILE`. A variable wins over the table. Returns `None` when no host is
    /// configured at all (email is off).
    pub fn resolve(
        table: Option<EmailSettings>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<EmailSettings>, EmailError> {
        let var = |k: &str| env(&format!("CLINICSCAN_SMTP_{k}")).filter(|v| !v.is_empty());
        let mut s = table.unwrap_or_default();
        if let Some(v) = var("HOST") {
            s.host = v;
        }
        if let Some(v) = var("PORT") {
            s.port = Some(v.parse().map_err(|_| {
                EmailError::Config(format!("CLINICSCAN_SMTP_PORT is not a port number: {v:?}"))
            })?);
        }
        if let Some(v) = var("SECURITY") {
            s.security = match v.to_ascii_lowercase().as_str() {
                "starttls" => Security::Starttls,
                "tls" => Security::Tls,
                "plain" => Security::Plain,
                _ => {
                    return Err(EmailError::Config(format!(
                        "CLINICSCAN_SMTP_SECURITY must be starttls, tls or plain, not {v:?}"
                    )));
                }
            };
        }
        if let Some(v) = var("USERNAME") {
            s.username = Some(v);
        }
        if let Some(v) = var("PASSWORD_FILE") {
            s.password_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("FROM") {
            s.from = v;
        }
        if let Some(v) = var("TO") {
            s.to = v
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = var("TLS_CA_FILE") {
            s.tls_ca_file = Some(PathBuf::from(v));
        }
        if s.host.is_empty() {
            return Ok(None);
        }
        if let Some(v) = var("PASSWORD") {
            s.password = Some(Secret(v));
        } else if let Some(file) = &s.password_file {
            let text = fs::read_to_string(file).map_err(|e| {
                EmailError::Config(format!(
                    "cannot read the SMTP password file {}: {e}",
                    file.display()
                ))
            })?;
            let first = text.lines().next().unwrap_or("").to_string();
            s.password = Some(Secret(first));
        }
        s.check()?;
        Ok(Some(s))
    }

    /// Checks the settings without connecting.
    pub fn check(&self) -> Result<(), EmailError> {
        if self.host.is_empty() {
            return Err(EmailError::Config("no SMTP host".into()));
        }
        if self.from.is_empty() {
            return Err(EmailError::Config("no sender address (from)".into()));
        }
        if self.to.is_empty() {
            return Err(EmailError::Config("no recipient (to)".into()));
        }
        if self.security == Security::Plain && !is_loopback(&self.host) {
            return Err(EmailError::PlainNotLoopback {
                host: self.host.clone(),
            });
        }
        if self.username.is_some() && self.password.is_none() {
            return Err(EmailError::Config(
                "an SMTP username is set but no password: set CLINICSCAN_SMTP_PASSWORD or CLINICSCAN_SMTP_PASSWORD_FILE".into(),
            ));
        }
        Ok(())
    }

    fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::Plain => 25,
        })
    }

    /// Replaces every occurrence of the password in a text (error messages from below).
    fn scrub(&self, text: String) -> String {
        match &self.password {
            Some(Secret(p)) if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text,
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// Sending email failed in a way the caller must fix (settings, outbox directory).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The settings are incomplete or invalid.
    #[error("email settings: {0}")]
    Config(String),
    /// Plain SMTP to a host that is not loopback.
    #[error(
        "refusing plain (unencrypted) SMTP to {host}: plain is allowed only to a loopback relay; use security = \"starttls\" or \"tls\""
    )]
    PlainNotLoopback {
        /// The host.
        host: String,
    },
    /// An address does not parse.
    #[error("invalid email address {address:?}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The TLS settings could not be built (CA file unreadable or invalid).
    #[error("SMTP TLS settings: {0}")]
    Tls(String),
    /// The outbox directory could not be used.
    #[error("email outbox {path}: {source}")]
    Outbox {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The content of one email (bodies and attachment), before addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// File name of the attached report.
    pub attachment_name: String,
    /// The attached HTML report.
    pub attachment: String,
}

/// What [`deliver`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// This run's message went out.
    pub new_sent: bool,
    /// Messages queued by earlier runs that went out now.
    pub retried_sent: usize,
    /// Messages still in the outbox (this run's included when it failed).
    pub kept: usize,
    /// Messages the server refused permanently several times (too large, bad recipient),
    /// moved to `rejected/` in the outbox so they no longer block the others.
    pub set_aside: usize,
    /// The last send error, scrubbed of the password.
    pub last_error: Option<String>,
}

/// The outbox: a directory of messages waiting to be sent.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Queued {
    version: u32,
    created: DateTime<Utc>,
    from: String,
    to: Vec<String>,
    subject: String,
    attempts: u32,
    last_error: Option<String>,
    /// The whole RFC 5322 message (lettre encodes every part to 7-bit).
    message: String,
}

impl Outbox {
    /// An outbox in `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Outbox {
        Outbox { dir: dir.into() }
    }

    /// The outbox beside a history database: `<dir of db>/outbox`.
    pub fn beside(db_path: &Path) -> Outbox {
        let dir = db_path.parent().unwrap_or(Path::new(".")).join("outbox");
        Outbox { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, path: &Path) -> impl Fn(std::io::Error) -> EmailError {
        let path = path.to_path_buf();
        move |source| EmailError::Outbox {
            path: path.clone(),
            source,
        }
    }

    /// Queued messages, oldest first.
    fn queued(&self) -> Result<Vec<PathBuf>, EmailError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut v: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(self.err(&self.dir))?
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

    /// Number of messages waiting.
    pub fn len(&self) -> Result<usize, EmailError> {
        Ok(self.queued()?.len())
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> Result<bool, EmailError> {
        Ok(self.len()? == 0)
    }

    /// Writes `q` to `path` atomically and durably.
    fn write(&self, path: &Path, q: &Queued) -> Result<(), EmailError> {
        crate::private::create_dir(&self.dir).map_err(self.err(&self.dir))?;
        let json =
            serde_json::to_vec_pretty(q).map_err(|e| self.err(path)(std::io::Error::other(e)))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("msg");
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut f = crate::private::create_file(&tmp).map_err(self.err(&tmp))?;
        f.write_all(&json).map_err(self.err(&tmp))?;
        f.sync_all().map_err(self.err(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(self.err(path))?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Moves a refused message to `rejected/`, with its last error.
    fn set_aside(&self, path: &Path, q: &Queued) -> Result<(), EmailError> {
        let dir = self.dir.join("rejected");
        crate::private::create_dir(&dir).map_err(self.err(&dir))?;
        let name = path.file_name().unwrap_or_default();
        let aside = Outbox { dir: dir.clone() };
        aside.write(&dir.join(name), q)?;
        fs::remove_file(path).map_err(self.err(path))
    }

    /// Removes temporary files left by a run that died while writing (older than an hour,
    /// so a concurrent writer's file is never touched).
    fn sweep_temp_files(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let is_temp = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp"));
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
            if is_temp && old {
                let _ = fs::remove_file(&p);
            }
        }
    }

    fn enqueue(&self, q: &Queued) -> Result<PathBuf, EmailError> {
        let stamp = q.created.format("%Y%m%dT%H%M%S%.6fZ");
        let mut n = 0u32;
        loop {
            let path = self
                .dir
                .join(format!("{stamp}-{}-{n}.json", std::process::id()));
            if !path.exists() {
                self.write(&path, q)?;
                return Ok(path);
            }
            n += 1;
        }
    }
}

fn mailbox(s: &str) -> Result<Mailbox, EmailError> {
    s.parse::<Mailbox>().map_err(|e| EmailError::Address {
        address: s.to_string(),
        reason: e.to_string(),
    })
}

fn transport(settings: &EmailSettings) -> Result<SmtpTransport, EmailError> {
    settings.check()?;
    let tls_params = || -> Result<TlsParameters, EmailError> {
        let mut b = TlsParameters::builder(
            settings
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        );
        if let Some(ca) = &settings.tls_ca_file {
            let pem = fs::read(ca).map_err(|e| {
                EmailError::Tls(format!("cannot read tls_ca_file {}: {e}", ca.display()))
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                EmailError::Tls(format!("tls_ca_file {} is not PEM: {e}", ca.display()))
            })?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| EmailError::Tls(e.to_string()))
    };
    let mut b = SmtpTransport::builder_dangerous(settings.host.as_str())
        .port(settings.port())
        .timeout(Some(Duration::from_secs(
            settings.timeout_secs.unwrap_or(30),
        )));
    b = match settings.security {
        Security::Plain => b.tls(Tls::None),
        Security::Starttls => b.tls(Tls::Required(tls_params()?)),
        Security::Tls => b.tls(Tls::Wrapper(tls_params()?)),
    };
    if let (Some(user), Some(Secret(pass))) = (&settings.username, &settings.password) {
        b = b.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(b.build())
}

/// One line of the email body.
enum Line {
    Para(String),
    Heading(String),
    Item(String),
}

/// Composes the email for a scan: subject with counts, short text and HTML bodies (what
/// changed, what is most urgent), and the HTML report as attachment.
pub fn compose(input: &ReportInput<'_>) -> OutgoingEmail {
    let v = View::of(input);
    let lang = v.lang;
    let t = |s: S| s.get(lang);
    let a = v.assessment;
    let started = v.started;

    let mut subject = format!("{} ", t(S::EmailSubjectPrefix));
    if let Some(site) = &a.site {
        let _ = write!(subject, "{} ", one_line(site));
    }
    let _ = write!(
        subject,
        "{} {} ({})",
        t(S::EmailFindingsWord),
        a.findings.len(),
        counts_line(a, lang)
    );
    if let Some(c) = &v.changes {
        let _ = write!(
            subject,
            " — {} {} / {} {}",
            t(S::NewFindings),
            c.diff.new_findings.len(),
            t(S::ResolvedFindings),
            c.diff.resolved_findings.len()
        );
        // Never folded into "resolved": the reader must see what could not be checked.
        if !c.diff.not_rechecked_findings.is_empty() {
            let _ = write!(
                subject,
                " / {} {}",
                t(S::NotRechecked),
                c.diff.not_rechecked_findings.len()
            );
        }
    }

    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::Para(t(S::EmailIntro).to_string()));
    if let Some(site) = &a.site {
        lines.push(Line::Item(format!("{}: {}", t(S::Site), one_line(site))));
    }
    lines.push(Line::Item(format!(
        "{}: {}",
        t(S::ScanStarted),
        fmt_time(started)
    )));
    lines.push(Line::Item(format!(
        "{}: {}",
        t(S::Findings),
        counts_line(a, lang)
    )));
    // A rule that could not be evaluated leaves its controls not verified: never silent.
    for e in &a.rule_errors {
        lines.push(Line::Item(format!(
            "{}: {}",
            t(S::RecordRuleError),
            one_line(e)
        )));
    }
    match &v.changes {
        Some(changes) => {
            lines.push(Line::Heading(format!(
                "{} ({})",
                t(S::ChangesSinceLast),
                changes.counts_joined(" / ")
            )));
            if !changes.diff.has_changes() {
                lines.push(Line::Para(t(S::NoChanges).to_string()));
            }
            for section in &changes.sections {
                let label = section.label;
                match (&section.items, section.kind) {
                    // A mail lists the first ten; the attached report has them all.
                    (ChangeItems::Findings(findings), Change::New) => {
                        for f in findings.iter().take(10) {
                            lines.push(Line::Item(format!(
                                "{} [{}] {} ({})",
                                t(S::NewMarkPlain),
                                f.severity,
                                one_line(f.title),
                                f.target
                            )));
                        }
                    }
                    (ChangeItems::Findings(findings), Change::Resolved) => {
                        for f in findings.iter().take(10) {
                            lines.push(Line::Item(format!(
                                "{label}: {} ({})",
                                one_line(f.title),
                                f.target
                            )));
                        }
                    }
                    (ChangeItems::Findings(_), _) => {}
                    (ChangeItems::NotRechecked(rows), _) => {
                        for c in rows.iter().take(10) {
                            lines.push(Line::Item(format!(
                                "{label} [{}] {} ({}): {} ({})",
                                c.row.severity,
                                one_line(c.row.title),
                                c.row.target,
                                one_line(&c.reason),
                                c.confirmed(lang)
                            )));
                        }
                        if !rows.is_empty() {
                            lines.push(Line::Para(t(S::NotRecheckedNote).to_string()));
                        }
                    }
                    (ChangeItems::Hosts(hosts), _) => {
                        for h in *hosts {
                            lines.push(Line::Item(format!("{label} {h}")));
                        }
                    }
                    (ChangeItems::Services(services), _) => {
                        for s in services {
                            let name = s
                                .name
                                .map(|n| format!(" {}", one_line(n)))
                                .unwrap_or_default();
                            lines.push(Line::Item(format!("{label} {}{name}", s.at)));
                        }
                    }
                }
            }
        }
        None => lines.push(Line::Para(t(S::EmailNoPrevious).to_string())),
    }
    let urgent: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.finding.severity > Severity::Info)
        .collect();
    if !urgent.is_empty() {
        lines.push(Line::Heading(t(S::EmailTopFindings).to_string()));
        for f in urgent.iter().take(5) {
            lines.push(Line::Item(format!(
                "[{}] {} ({})",
                f.severity,
                one_line(f.title),
                f.target
            )));
        }
        if urgent.len() > 5 {
            lines.push(Line::Para(
                t(S::EmailMore).replace("{n}", &(urgent.len() - 5).to_string()),
            ));
        }
    }
    lines.push(Line::Para(t(S::EmailAttachment).to_string()));

    let esc = crate::render::esc_html;
    let mut text = String::new();
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
<body style=\"font-family:sans-serif;line-height:1.6;color:#1d2433\">",
    );
    let mut in_list = false;
    for line in &lines {
        let is_item = matches!(line, Line::Item(_));
        if in_list && !is_item {
            html.push_str("</ul>");
        }
        if !in_list && is_item {
            html.push_str("<ul>");
        }
        in_list = is_item;
        match line {
            Line::Para(p) => {
                let _ = writeln!(text, "\n{p}");
                let _ = write!(html, "<p>{}</p>", esc(p));
            }
            Line::Heading(h) => {
                let _ = writeln!(text, "\n■ {h}");
                let _ = write!(
                    html,
                    "<h3 style=\"font-size:15px;margin:16px 0 4px\">{}</h3>",
                    esc(h)
                );
            }
            Line::Item(i) => {
                let _ = writeln!(text, "・{i}");
                let _ = write!(html, "<li>{}</li>", esc(i));
            }
        }
    }
    if in_list {
        html.push_str("</ul>");
    }
    let mut text = text.trim_start().to_string();
    let _ = write!(text, "\n-- \n{}\n", t(S::EmailFooter));
    let _ = write!(
        html,
        "<hr><p style=\"color:#666;font-size:small\">{}</p></body></html>",
        esc(t(S::EmailFooter))
    );

    let attachment = crate::render::render(Format::Html, input).unwrap_or_default();
    OutgoingEmail {
        subject,
        text,
        html,
        attachment_name: format!("clinicscan-report-{}.html", file_stamp(started)),
        attachment,
    }
}

/// "20261120-1000": the scan start in JST, for file names.
fn file_stamp(t: DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(9 * 3600) {
        Some(jst) => t.with_timezone(&jst).format("%Y%m%d-%H%M").to_string(),
        None => t.format("%Y%m%d-%H%M").to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn build_message(settings: &EmailSettings, mail: &OutgoingEmail) -> Result<Message, EmailError> {
    let mut b = Message::builder()
        .from(mailbox(&settings.from)?)
        .subject(mail.subject.clone())
        .date_now()
        .message_id(None)
        .user_agent(format!("clinicscan {}", env!("CARGO_PKG_VERSION")));
    for to in &settings.to {
        b = b.to(mailbox(to)?);
    }
    let body = MultiPart::mixed()
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(mail.text.clone()))
                .singlepart(SinglePart::html(mail.html.clone())),
        )
        .singlepart(
            Attachment::new(mail.attachment_name.clone())
                .body(mail.attachment.clone(), ContentType::TEXT_HTML),
        );
    b.multipart(body)
        .map_err(|e| EmailError::Config(format!("cannot build the message: {e}")))
}

/// Queues `mail` (if any) in the outbox, then sends everything queued, oldest first.
///
/// Send failures are not errors: the message stays queued and the report says so. Errors
/// are for what the operator must fix: settings, addresses, the outbox directory.
pub fn deliver(
    settings: &EmailSettings,
    outbox: &Outbox,
    mail: Option<&OutgoingEmail>,
) -> Result<DeliveryReport, EmailError> {
    let transport = transport(settings)?;
    let mut new_path = None;
    if let Some(mail) = mail {
        let msg = build_message(settings, mail)?;
        let raw = String::from_utf8(msg.formatted())
            .map_err(|e| EmailError::Config(format!("message is not 7-bit: {e}")))?;
        let q = Queued {
            version: 1,
            created: Utc::now(),
            from: settings.from.clone(),
            to: settings.to.clone(),
            subject: mail.subject.clone(),
            attempts: 0,
            last_error: None,
            message: raw,
        };
        let path = outbox.enqueue(&q)?;
        tracing::info!(subject = %q.subject, recipients = q.to.len(), outbox = %path.display(), "email queued");
        new_path = Some(path);
    }

    let mut report = DeliveryReport::default();
    outbox.sweep_temp_files();
    let queued = outbox.queued()?;
    let mut stop = false;
    for path in queued {
        if stop {
            // The server is unreachable or refuses us: do not wait out a timeout per message.
            report.kept += 1;
            continue;
        }
        let is_new = new_path.as_deref() == Some(path.as_path());
        let text = fs::read_to_string(&path).map_err(outbox.err(&path))?;
        let Ok(mut q) = serde_json::from_str::<Queued>(&text) else {
            // Not ours or damaged: keep it for the operator, do not send garbage.
            report.kept += 1;
            continue;
        };
        let result = match envelope(&q) {
            Ok(env) => transport
                .send_raw(&env, q.message.as_bytes())
                .map(|_| ())
                .map_err(|e| (message_refused(&e), settings.scrub(e.to_string()))),
            Err(e) => Err((true, e)),
        };
        match result {
            Ok(()) => {
                fs::remove_file(&path).map_err(outbox.err(&path))?;
                tracing::info!(subject = %q.subject, server = %settings.host, earlier_run = !is_new, "email sent");
                if is_new {
                    report.new_sent = true;
                } else {
                    report.retried_sent += 1;
                }
            }
            Err((refused, e)) => {
                tracing::warn!(subject = %q.subject, server = %settings.host, error = %e, refused, "email not sent; kept in the outbox");
                q.attempts += 1;
                q.last_error = Some(e.clone());
                report.last_error = Some(e);
                if refused && q.attempts >= REFUSALS_BEFORE_SET_ASIDE {
                    // Refused for what it is (too large, bad recipient): set it aside so
                    // it does not block the messages behind it. Kept on disk, not lost.
                    outbox.set_aside(&path, &q)?;
                    report.set_aside += 1;
                } else {
                    outbox.write(&path, &q)?;
                    report.kept += 1;
                    stop = !refused;
                }
            }
        }
    }
    Ok(report)
}

/// Connects to the configured server as a send would (TLS or STARTTLS with the server's
/// certificate verified, EHLO, and AUTH when a user name is set), then says goodbye
/// without sending anything. Connects to that server only, within `timeout`.
///
/// `Err` is the reason, with the password scrubbed: settings that do not build a
/// connection, or the server being unreachable or refusing.
pub fn test_connection(settings: &EmailSettings, timeout: Duration) -> Result<(), String> {
    let mut bounded = settings.clone();
    bounded.timeout_secs = Some(
        settings
            .timeout_secs
            .unwrap_or(timeout.as_secs())
            .min(timeout.as_secs().max(1)),
    );
    let transport = transport(&bounded).map_err(|e| e.to_string())?;
    match transport.test_connection() {
        Ok(true) => Ok(()),
        Ok(false) => Err("the server did not answer NOOP".into()),
        Err(e) => Err(settings.scrub(e.to_string())),
    }
}

/// How often the server may refuse one message permanently before it is set aside.
const REFUSALS_BEFORE_SET_ASIDE: u32 = 3;

/// Whether the server refused this message permanently (5xx) for the message itself, as
/// opposed to the connection, TLS or authentication failing (which concern every message).
fn message_refused(e: &lettre::transport::smtp::Error) -> bool {
    let auth = e
        .status()
        .is_some_and(|c| matches!(c.to_string().as_str(), "530" | "534" | "535" | "538"));
    e.is_permanent() && !auth
}

fn envelope(q: &Queued) -> Result<Envelope, String> {
    let from = mailbox(&q.from).map_err(|e| e.to_string())?.email;
    let to =
        q.to.iter()
            .map(|t| mailbox(t).map(|m| m.email).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> EmailSettings {
        EmailSettings {
            host: "smtp.example.jp".into(),
            from: "scan@clinic.example".into(),
            to: vec!["it@clinic.example".into()],
            ..EmailSettings::default()
        }
    }

    #[test]
    fn plain_is_refused_unless_loopback() {
        let mut s = base();
        s.security = Security::Plain;
        let e = s.check().unwrap_err();
        assert!(
            matches!(e, EmailError::PlainNotLoopback { ref host } if host == "smtp.example.jp")
        );
        assert!(e.to_string().contains("loopback"), "{e}");
        for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.53"] {
            s.host = h.into();
            assert!(s.check().is_ok(), "{h}");
        }
        s.host = "10.0.0.1".into();
        assert!(s.check().is_err());
    }

    #[test]
    fn env_overrides_table_and_password_stays_hidden() {
        let sentinel = "S3ntinel-PW-do-not-leak";
        let env = |k: &str| match k {
            "CLINICSCAN_SMTP_HOST" => Some("mail.example.jp".to_string()),
            "CLINICSCAN_SMTP_TO" => Some("a@example.jp, b@example.jp".to_string()),
            "CLINICSCAN_SMTP_USERNAME" => Some("scan".to_string()),
            "CLINICSCAN_SMTP_PASSWORD" => Some(sentinel.to_string()),
            "CLINICSCAN_SMTP_SECURITY" => Some("TLS".to_string()),
            _ => None,
        };
        let s = EmailSettings::resolve(Some(base()), env).unwrap().unwrap();
        assert_eq!(s.host, "mail.example.jp");
        assert_eq!(s.to, vec!["a@example.jp", "b@example.jp"]);
        assert_eq!(s.security, Security::Tls);
        assert_eq!(s.port(), 465);
        assert_eq!(s.password, Some(Secret::new(sentinel)));
        assert!(!format!("{s:?}").contains(sentinel));
        assert_eq!(s.scrub(format!("x {sentinel} y")), "x *** y");
    }

    #[test]
    fn password_comes_from_a_file_and_username_needs_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        fs::write(&f, "filepw\n").unwrap();
        let mut t = base();
        t.username = Some("u".into());
        t.password_file = Some(f);
        let s = EmailSettings::resolve(Some(t.clone()), |_| None)
            .unwrap()
            .unwrap();
        assert_eq!(s.password, Some(Secret::new("filepw")));
        t.password_file = None;
        let e = EmailSettings::resolve(Some(t), |_| None).unwrap_err();
        assert!(e.to_string().contains("no password"), "{e}");
        assert_eq!(EmailSettings::resolve(None, |_| None).unwrap(), None);
    }

    #[test]
    fn site_file_table_has_no_password_key() {
        let r: Result<EmailSettings, _> =
            serde_json::from_str(r#"{"host":"h","from":"a@b.c","to":["x@y.z"],"password":"p"}"#);
        assert!(r.is_err());
        let ok: EmailSettings = serde_json::from_str(
            r#"{"host":"h","from":"a@b.c","to":["x@y.z"],"security":"starttls","tls_ca_file":"/ca.pem"}"#,
        )
        .unwrap();
        assert_eq!(ok.tls_ca_file, Some(PathBuf::from("/ca.pem")));
    }
}
