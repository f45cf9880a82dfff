//! The `clinicscan` binary: parses, wires the crates together, maps errors to exit codes.
//! Nothing else lives here.

#![forbid(unsafe_code)]

mod args;
mod assess;
mod common;
mod fleet;
mod history;
mod precheck;
mod rules;
mod scan;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command, GenerateWhat};

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
        lang: common::lang(cli.lang),
        color: common::use_color(cli.color),
    };
    match cli.command {
        Command::Scan(a) => scan::run(&globals, *a),
        Command::Assess(a) => assess::run(&globals, a),
        Command::Precheck(a) => precheck::run(&globals, a),
        Command::History(a) => history::run(&globals, a),
        Command::Inventory(a) => history::inventory(&globals, a),
        Command::Fleet(a) => fleet::run(&globals, a),
        Command::Rules(a) => rules::run(&globals, a),
        Command::Generate(g) => {
            generate(g.what)?;
            Ok(exit::CLEAN)
        }
    }
}

fn generate(what: GenerateWhat) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = io::stdout().lock();
    match what {
        GenerateWhat::Man => clap_mangen::Man::new(cmd).render(&mut out)?,
        GenerateWhat::Completions { shell } => {
            clap_complete::generate(shell, &mut cmd, "clinicscan", &mut out)
        }
    }
    out.flush()?;
    Ok(())
}

fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("CLINICSCAN_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_target(false)
        .try_init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
