//! The `clinicscan` binary: parses, wires the crates together, maps errors to exit codes.
//! Nothing else lives here.

#![forbid(unsafe_code)]

mod args;
mod assess;
mod common;
mod doctor;
mod fleet;
mod history;
mod locations;
mod precheck;
mod rules;
mod scan;
mod site_report;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command, GenerateWhat, LogFormat};

/// Exit codes, documented in `--help` and the operator guide.
mod exit {
    /// Nothing at or above --fail-on.
    pub const CLEAN: u8 = 0;
    /// Findings at or above --fail-on (a failed pre-check; changes for `history diff`).
    pub const FINDINGS: u8 = 1;
    /// An error: bad input, unreadable file, nothing could be scanned.
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // A closed pipe (`clinicscan ... | head`) is not an error.
            if is_broken_pipe(&err) {
                return ExitCode::from(exit::CLEAN);
            }
            let _ = writeln!(io::stderr(), "clinicscan: error: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let globals = scan::Globals {
        quiet: cli.quiet,
        verbose: cli.verbose,
        lang: common::lang(cli.lang),
        color: common::use_color(cli.color),
    };
    match cli.command {
        Command::Scan(a) => scan::run(&globals, *a),
        Command::Assess(a) => assess::run(&globals, a),
        Command::Precheck(a) => precheck::run(&globals, a),
        Command::History(a) => history::run(&globals, a),
        Command::Report(a) => site_report::run(&globals, a),
        Command::Inventory(a) => history::inventory(&globals, a),
        Command::Fleet(a) => fleet::run(&globals, a),
        Command::Rules(a) => rules::run(&globals, a),
        Command::Doctor(a) => doctor::run(&globals, a),
        Command::Generate(g) => {
            generate(g.what)?;
            Ok(exit::CLEAN)
        }
    }
}

fn generate(what: GenerateWhat) -> Result<()> {
    let mut cmd = Cli::command();
    match what {
        GenerateWhat::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            // One page per command: clinicscan.1, clinicscan-scan.1, clinicscan-history-list.1...
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            return Ok(());
        }
        GenerateWhat::Man { dir: None } => {
            let mut out = io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush()?;
        }
        GenerateWhat::Completions { shell } => {
            let mut out = io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "clinicscan", &mut out);
            out.flush()?;
        }
    }
    Ok(())
}

/// Log lines on stderr: `-q` errors only, neither warnings, `-v` clinicscan's info events
/// (what a run did), `-vv` debug, `-vvv` trace; RUST_LOG replaces the level entirely.
/// Dependencies stay at warn unless RUST_LOG asks for them.
fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    // -v wins over -q for the log: `-q -v` prints no report but logs what the run did
    // (the systemd unit's journal).
    let level = match (cli.quiet, cli.verbose) {
        (true, 0) => "error",
        (false, 0) => "warn",
        (_, 1) => "warn,clinicscan=info",
        (_, 2) => "warn,clinicscan=debug",
        _ => "info,clinicscan=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    let _ = match cli.log_format {
        LogFormat::Human => builder
            .with_target(cli.verbose > 1)
            .with_ansi(common::use_color_on_stderr(cli.color))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
