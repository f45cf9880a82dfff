//! What the user typed: the one clap definition behind `--help`, the man page and the shell
//! completions. Resolving it into a configuration happens in the command modules.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Audits a clinic or hospital LAN against the MHLW guideline 6.0 and the cybersecurity
/// checklist.
///
/// 医療機関のLANを走査し、安全管理ガイドライン第6.0版とチェックリストの観点で評価します。
///
/// Only scan networks you are responsible for. By default only private, loopback,
/// link-local and ULA addresses may be scanned.
#[derive(Debug, Parser)]
#[command(
    name = "clinicscan",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// No output on the terminal unless something is wrong (for cron and systemd timers).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Language of reports and messages [default: from the locale, else ja].
    #[arg(long, value_enum, global = true)]
    pub lang: Option<LangArg>,

    /// When to use colours on the terminal.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Log lines on stderr as text for people, or as JSON lines (for journald or a SIEM).
    /// RUST_LOG (e.g. `clinicscan=debug`) overrides the level of -v.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan targets, assess the result and report it (the main job).
    Scan(Box<ScanArgs>),
    /// Assess saved observations (or an nmap XML result) again, without touching the network.
    Assess(AssessArgs),
    /// Hold one host against a vendor hand-over profile (e.g. an オン資 terminal).
    Precheck(PrecheckArgs),
    /// Past scans in the history database: list, show, diff.
    History(HistoryArgs),
    /// A site audit from every vantage zone: the newest scan from each zone of the site
    /// file, assessed together (one zone × zone matrix), naming the zones never scanned or
    /// scanned too long ago.
    Report(SiteReportArgs),
    /// Export the asset inventory (台帳) of every host seen, as CSV for Excel.
    Inventory(InventoryArgs),
    /// Every site of a shared history at a glance: newest posture, stale sites, shared
    /// findings (exit 1 when a site is stale).
    Fleet(FleetArgs),
    /// List or check the rule catalogue.
    Rules(RulesArgs),
    /// Check the installation: which site file, data and history it uses, whether raw
    /// sockets are allowed, whether the mail server and the history database answer.
    Doctor(DoctorArgs),
    /// Print shell completions or the man pages (generated from this definition), for
    /// installing from source.
    Generate(GenerateArgs),
}

/// Language of user-facing output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    /// 日本語
    Ja,
    /// English
    En,
}

/// Format of the log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Text for people.
    Human,
    /// One JSON object a line.
    Json,
}

/// Colour on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people (the default on a terminal).
    Table,
    /// The Assessment as JSON (schema clinicscan/assessment/v2).
    Json,
    /// The raw Observation as JSON (schema clinicscan/observation/v1), for `assess` later.
    Observation,
    /// One self-contained HTML file.
    Html,
    /// CSV, one finding a row.
    Csv,
    /// Markdown.
    Markdown,
    /// SIEM events, one JSON object a line: one per finding and per control result, with
    /// Elastic Common Schema field names.
    Jsonl,
    /// The inspection checklist (チェックリスト) of the assessment's edition, pre-filled from
    /// its verdicts, as one printable HTML file (A4, one page per section, with the
    /// evidence appendix). `precheck -f checklist`: the vendor's form with the evidence.
    Checklist,
    /// The same checklist as an Excel workbook (.xlsx): the form's sheet and the evidence
    /// sheet. Binary: give -o FILE.xlsx.
    ChecklistXlsx,
}

/// Severity threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// Info and above.
    Info,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
    /// Never fail on findings.
    Never,
}

/// When to send email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmailOnArg {
    /// After every run.
    Always,
    /// When there is at least one finding above info.
    Findings,
    /// When findings changed since the last scan.
    Changes,
}

/// Where to report and how.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Report format [default: table on a terminal, json otherwise; from -o's extension].
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,

    /// Exit with 1 when a finding at or above this severity exists, and with 2 when a rule
    /// could not be evaluated (its controls are not verified); `never` exits 0 for both.
    #[arg(long, value_enum, default_value_t = SeverityArg::High, value_name = "SEVERITY")]
    pub fail_on: SeverityArg,
}

/// Rules and site.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub site: SiteArg,

    #[command(flatten)]
    pub data: DataArg,

    /// An extra rules directory (overrides shipped rules with the same id).
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
}

/// The site file.
#[derive(Debug, Args, Default)]
pub struct SiteArg {
    /// The site file: zones, allowed flows, rate profiles, known assets, email settings
    /// [default: $CLINICSCAN_SITE, else $XDG_CONFIG_HOME/clinicscan/site.toml
    /// (~/.config/clinicscan/site.toml), else /etc/clinicscan/site.toml, if it exists].
    #[arg(long, value_name = "FILE")]
    pub site: Option<PathBuf>,
}

/// The data directory.
#[derive(Debug, Args, Default)]
pub struct DataArg {
    /// Rules, controls catalogue, known-exploited and end-of-life data, as a directory laid
    /// out like the shipped one [default: $CLINICSCAN_DATA, else /usr/share/clinicscan if
    /// installed, else the copy built into clinicscan].
    #[arg(long, value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,
}

/// What and how to scan.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Targets: addresses, CIDRs (192.168.1.0/24), ranges (192.168.1.10-50), host names.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read targets from FILE, one per line (# comments allowed).
    #[arg(short = 'i', long = "target-file", value_name = "FILE")]
    pub target_file: Vec<PathBuf>,

    /// Never scan these (addresses, CIDRs, ranges, names).
    #[arg(long, value_name = "TARGET", value_delimiter = ',')]
    pub exclude: Vec<String>,

    /// Read exclusions from FILE.
    #[arg(long, value_name = "FILE")]
    pub exclude_file: Vec<PathBuf>,

    /// Ports: "clinic" (default list), "22,80,443", "1-1024", "U:161,T:22", "-" for all.
    #[arg(short = 'p', long, value_name = "PORTS")]
    pub ports: Option<String>,

    /// Scan the N most common TCP ports instead of the clinic list.
    #[arg(long, value_name = "N", conflicts_with = "ports")]
    pub top_ports: Option<u16>,

    /// Half-open SYN scan (needs root or CAP_NET_RAW; falls back to connect with a notice).
    #[arg(long)]
    pub syn: bool,

    /// Treat every target as up (no ARP/ICMP/TCP ping).
    #[arg(long)]
    pub no_discovery: bool,

    /// Only find ports; do not run service probes.
    #[arg(long)]
    pub no_probes: bool,

    /// No reverse-DNS lookups of live hosts (host names given as targets are still resolved).
    #[arg(short = 'n', long)]
    pub no_dns: bool,

    /// Allow targets outside private, loopback, link-local and ULA ranges.
    #[arg(long)]
    pub allow_public: bool,

    /// Global limit of concurrent probes.
    #[arg(long, value_name = "N")]
    pub max_concurrency: Option<u32>,

    /// Limit of concurrent probes per host.
    #[arg(long, value_name = "N")]
    pub max_per_host: Option<u32>,

    /// Global limit of new connections, SYNs and UDP probes per second, over all hosts (as
    /// nmap's --max-rate). Zones' rate profiles in the site file still apply per host.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rate: Option<u32>,

    /// SNMP community to try besides "public" (repeatable).
    #[arg(long = "snmp-community", value_name = "NAME")]
    pub snmp_communities: Vec<String>,
}

/// `clinicscan scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// The zone this scan runs from (overrides the site file's derivation from the address).
    #[arg(long, value_name = "ZONE")]
    pub vantage_zone: Option<String>,

    /// Also write the raw Observation (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub save_observation: Option<PathBuf>,

    #[command(flatten)]
    pub history: HistoryDbArgs,

    /// Do not record this scan in the history database.
    #[arg(long)]
    pub no_history: bool,

    /// Email the result (settings from the site file's [email] or CLINICSCAN_SMTP_*).
    #[arg(long)]
    pub email: bool,

    /// When to email.
    #[arg(long, value_enum, default_value_t = EmailOnArg::Changes, requires = "email")]
    pub email_on: EmailOnArg,

    /// Lock file that keeps two scheduled runs from overlapping.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,

    #[command(flatten)]
    pub syslog: SyslogArgs,
}

/// Where to send the SIEM events by syslog.
#[derive(Debug, Args)]
pub struct SyslogArgs {
    /// Send the events (one per finding and per control result) to a syslog collector:
    /// tls://HOST[:6514] (RFC 5425), udp://HOST[:514] (RFC 5426), or tcp://127.0.0.1:PORT
    /// (a local relay).
    #[arg(long = "syslog", value_name = "URL", env = "CLINICSCAN_SYSLOG")]
    pub target: Option<String>,

    /// Extra CA certificate (PEM) to verify a TLS collector with, besides the system's.
    #[arg(long = "syslog-ca", value_name = "FILE", requires = "target")]
    pub ca: Option<PathBuf>,

    /// Client certificate (PEM) for a TLS collector that asks for one.
    #[arg(long = "syslog-cert", value_name = "FILE", requires_all = ["target", "key"])]
    pub cert: Option<PathBuf>,

    /// The client certificate's private key (PEM).
    #[arg(long = "syslog-key", value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

/// The history database location.
#[derive(Debug, Args)]
pub struct HistoryDbArgs {
    /// History database: a file (SQLite), or postgres://USER@HOST/DB?sslmode=verify-full&…
    /// shared by a group of sites [default: $STATE_DIRECTORY/history.sqlite in a systemd
    /// unit, else $XDG_DATA_HOME/clinicscan/history.sqlite].
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "CLINICSCAN_DB",
        hide_env_values = true,
        global = true
    )]
    pub db: Option<String>,
}

/// `clinicscan assess`.
#[derive(Debug, Args)]
pub struct AssessArgs {
    /// Saved Observation JSON files (from several vantage points: one reachability matrix).
    #[arg(value_name = "OBSERVATION")]
    pub observations: Vec<PathBuf>,

    /// Import an nmap XML result (nmap -oX) instead of, or besides, observations.
    #[arg(long, value_name = "FILE")]
    pub nmap_xml: Vec<PathBuf>,

    /// The previous scan's Assessment (its JSON report): its answers and date fill the
    /// checklist's first round (-f checklist, checklist-xlsx).
    #[arg(long, value_name = "ASSESSMENT")]
    pub previous: Option<PathBuf>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// `clinicscan precheck`.
#[derive(Debug, Args)]
pub struct PrecheckArgs {
    /// Profile name (oqv-terminal, emr-server, medical-device, network-device) or a file.
    /// Exit 0: every expectation met on a host that answered; 1: one is not met; 2: one
    /// could not be verified (the host never answered, a port was not probed).
    #[arg(long, value_name = "NAME")]
    pub profile: String,

    /// The host to check.
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Check a saved Observation instead of scanning.
    #[arg(long, value_name = "FILE")]
    pub observation: Option<PathBuf>,

    /// Ports to scan [default: the clinic list]; the profile's own ports are always added.
    #[arg(short = 'p', long, value_name = "PORTS")]
    pub ports: Option<String>,

    /// Allow a public address.
    #[arg(long)]
    pub allow_public: bool,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Write the pre-check report to FILE.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Report format.
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,
}

/// `clinicscan history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub db: HistoryDbArgs,

    /// Only this site's scans (a shared history holds many sites).
    #[arg(long, value_name = "ID", global = true)]
    pub site_id: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub action: HistoryAction,
}

/// History actions.
#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// List recorded scans, newest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Show one recorded scan's assessment.
    Show {
        /// Scan id (or "latest").
        id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// What changed between two scans: new, resolved, unchanged findings; hosts and services.
    Diff {
        /// Older scan id.
        a: String,
        /// Newer scan id (or "latest").
        b: String,
        /// Report format.
        #[arg(short = 'f', long, value_enum)]
        format: Option<Format>,
    },
}

/// `clinicscan inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub db: HistoryDbArgs,

    /// The site file, for zone names and the site id in a shared history (found as for
    /// `scan`).
    #[command(flatten)]
    pub site: SiteArg,

    /// The site whose inventory to export (default: the site file's id).
    #[arg(long, value_name = "ID")]
    pub site_id: Option<String>,

    /// Write the CSV here (UTF-8 with BOM, CRLF) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `clinicscan report`.
#[derive(Debug, Args)]
pub struct SiteReportArgs {
    #[command(flatten)]
    pub db: HistoryDbArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Leave out a zone's newest scan when it is older than this (30d, 4w, or days) and
    /// report the zone as stale.
    #[arg(long, value_name = "AGE")]
    pub max_age: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// `clinicscan fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub db: HistoryDbArgs,

    /// A site whose newest scan is older than this many days is listed as stale.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub stale_days: u32,

    /// How many of the findings most sites share to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// table, json or html [default: table on a terminal, json otherwise; from -o's
    /// extension].
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,
}

/// `clinicscan rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// An extra rules directory.
    #[arg(long = "rules", value_name = "DIR", global = true)]
    pub rules: Vec<PathBuf>,

    #[command(flatten)]
    pub data: DataArg,

    /// What to do.
    #[command(subcommand)]
    pub action: RulesAction,
}

/// Rule catalogue actions.
#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// List rules and the controls they evidence.
    List,
    /// Load and compile every rule, the catalogue, the data tables and the pre-check
    /// profiles, with every path a rule names checked against the Observation schema; a
    /// problem names the file, the rule and the path (exit 2).
    Check {
        /// Your own rules directories to check, on top of the shipped rules.
        #[arg(value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// List the controls catalogue with how a scan can evidence each.
    Controls,
}

/// `clinicscan doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub site: SiteArg,

    #[command(flatten)]
    pub data: DataArg,

    #[command(flatten)]
    pub db: HistoryDbArgs,

    /// Do not connect to the mail server or a shared (PostgreSQL) history database.
    #[arg(long)]
    pub offline: bool,
}

/// `clinicscan generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[command(subcommand)]
    pub what: GenerateWhat,
}

/// Generated artefacts.
#[derive(Debug, Subcommand)]
pub enum GenerateWhat {
    /// The man page (roff) on stdout, or with --dir one page per command into DIR
    /// (clinicscan.1, clinicscan-scan.1, ...).
    Man {
        /// Write every page into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Shell completions on stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scan_parses_typical_cron_line() {
        let cli = Cli::try_parse_from([
            "clinicscan",
            "scan",
            "--site",
            "site.toml",
            "--quiet",
            "--email",
            "--email-on",
            "findings",
            "192.168.1.0/24",
        ])
        .unwrap();
        assert!(cli.quiet);
        match cli.command {
            Command::Scan(s) => {
                assert_eq!(s.target.targets, ["192.168.1.0/24"]);
                assert!(s.email);
                assert_eq!(s.email_on, EmailOnArg::Findings);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
