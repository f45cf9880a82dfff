//! Resolving what the user typed into configuration shared by several commands:
//! language, colour, output format and destination, rules and site.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clinicscan_model::{Assessment, Audience, ChecklistForm, Lang, Severity};
use clinicscan_policy::{Catalogue, RuleSet, Site};

use crate::args::{ColorChoice, DataArg, Format, LangArg, PolicyArgs, SeverityArg, SiteArg};
use crate::locations;

/// The language: `--lang`, else the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`), else Japanese.
pub fn lang(arg: Option<LangArg>) -> Lang {
    match arg {
        Some(LangArg::Ja) => Lang::Ja,
        Some(LangArg::En) => Lang::En,
        None => lang_from_locale(|k| std::env::var(k).ok()),
    }
}

fn lang_from_locale(env: impl Fn(&str) -> Option<String>) -> Lang {
    for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Some(v) = env(key).filter(|v| !v.is_empty()) {
            // "C"/"POSIX" say nothing about the reader's language: keep the default.
            if v == "C" || v == "POSIX" || v.starts_with("C.") {
                return Lang::Ja;
            }
            return if v.starts_with("ja") {
                Lang::Ja
            } else {
                Lang::En
            };
        }
    }
    Lang::Ja
}

/// Whether to colour terminal output.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && io::stdout().is_terminal(),
    }
}

/// Whether to colour log lines on stderr.
pub fn use_color_on_stderr(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && io::stderr().is_terminal(),
    }
}

/// The report format: `--format`, else from the output file's extension, else a table on a
/// terminal and JSON in a pipe.
pub fn format(arg: Option<Format>, output: Option<&Path>) -> Format {
    if let Some(f) = arg {
        return f;
    }
    if let Some(ext) = output.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
        match ext.to_ascii_lowercase().as_str() {
            "json" => return Format::Json,
            "html" | "htm" => return Format::Html,
            "csv" => return Format::Csv,
            "md" | "markdown" => return Format::Markdown,
            "jsonl" | "ndjson" => return Format::Jsonl,
            "xlsx" => return Format::ChecklistXlsx,
            "txt" => return Format::Table,
            _ => {}
        }
    }
    if output.is_none() && io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    }
}

/// The report crate's format for a CLI format (`None` for the raw Observation and the
/// events, which have renderers of their own).
pub fn report_format(f: Format, color: bool) -> Option<clinicscan_report::Format> {
    Some(match f {
        Format::Table => clinicscan_report::Format::Terminal { color },
        Format::Json => clinicscan_report::Format::Json,
        Format::Html => clinicscan_report::Format::Html,
        Format::Csv => clinicscan_report::Format::Csv,
        Format::Markdown => clinicscan_report::Format::Markdown,
        Format::Observation | Format::Jsonl | Format::Checklist | Format::ChecklistXlsx => {
            return None;
        }
    })
}

/// Writes a binary document (the checklist workbook) to `path` atomically, or to stdout
/// when it is not a terminal.
pub fn write_output_bytes(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        None if io::stdout().is_terminal() => {
            bail!("the workbook is a binary file: write it with -o FILE.xlsx")
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
        Some(path) => {
            write_atomic(path, bytes).with_context(|| format!("cannot write {}", path.display()))
        }
    }
}

/// The checklist form of the assessment's edition (the first of its editions that has one).
pub fn checklist_form<'a>(
    catalogue: &'a Catalogue,
    assessment: &Assessment,
    audience: Audience,
) -> Result<&'a ChecklistForm> {
    catalogue
        .form_for(audience, &assessment.editions)
        .with_context(|| {
            format!(
                "no checklist form in the catalogue for the editions {}",
                assessment.editions.join(", ")
            )
        })
}

/// Writes `text` to `path` atomically (temporary file in the same directory, fsync, rename),
/// or to stdout when `path` is `None`. An earlier report at `path` is never left half-written.
pub fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
        Some(path) => write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display())),
    }
}

/// Atomic file write: temporary file + fsync + rename. A path that is not a regular file
/// (`/dev/null`, `/dev/stdout`, a FIFO) is written into as it is: renaming over it would
/// replace the device with a file. A symbolic link to a file is followed, so the link stays.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let path = match fs::metadata(path) {
        Ok(m) if m.is_file() => fs::canonicalize(path)?,
        Ok(m) if !m.is_dir() => {
            let mut f = fs::OpenOptions::new().write(true).open(path)?;
            f.write_all(bytes)?;
            return f.flush();
        }
        _ => path.to_path_buf(),
    };
    let path = path.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads the rules (from the data directory, see [`locations::data_dir`]) plus the user's
/// directories, and the site file (see [`locations::site_file`]).
pub fn load_policy(args: &PolicyArgs) -> Result<(RuleSet, Option<Site>)> {
    let rules = load_rules(&args.data, &args.rules)?;
    let site = load_site(&args.site)?;
    Ok((rules, site))
}

/// The rule set of the data directory in use, plus the user's rules directories.
pub fn load_rules(data: &DataArg, user_dirs: &[PathBuf]) -> Result<RuleSet> {
    let dir = locations::data_dir(data.data.as_deref());
    let mut rules = match &dir {
        Some(found) => {
            tracing::debug!(dir = %found.path.display(), from = %found.origin, "data directory");
            RuleSet::load_with_data(Some(&found.path)).with_context(|| {
                format!(
                    "the data directory {} (from {}) does not load",
                    found.path.display(),
                    found.origin
                )
            })?
        }
        None => {
            tracing::debug!("data built into clinicscan");
            RuleSet::shipped().context("the built-in rules do not load")?
        }
    };
    for dir in user_dirs {
        rules = rules
            .with_user_dir(dir)
            .with_context(|| format!("cannot load rules from {}", dir.display()))?;
    }
    Ok(rules)
}

/// The site file in use, if any.
pub fn load_site(arg: &SiteArg) -> Result<Option<Site>> {
    match locations::site_file(arg.site.as_deref()) {
        Some(found) => {
            tracing::debug!(file = %found.path.display(), from = %found.origin, "site file");
            Ok(Some(Site::from_file(&found.path)?))
        }
        None => Ok(None),
    }
}

/// Log lines about an assessment: its size, and every rule that failed to evaluate.
pub fn log_assessment(assessment: &Assessment) {
    tracing::info!(
        findings = assessment.findings.len(),
        rule_errors = assessment.rule_errors.len(),
        "assessed"
    );
    for error in &assessment.rule_errors {
        tracing::warn!(%error, "rule error");
    }
}

/// The data directory in use (see [`locations::data_dir`]); `None`: the built-in copy.
pub fn data_dir(data: &DataArg) -> Option<PathBuf> {
    locations::data_dir(data.data.as_deref()).map(|found| found.path)
}

/// The exit code of an assessment: 2 when a rule could not be evaluated (its controls
/// are not verified), else 1 with a finding at or above the threshold, else 0. `--fail-on
/// never` is always 0. Rule errors are also said on stderr, even when quiet.
pub fn assessment_exit(assessment: &Assessment, fail_on: SeverityArg) -> u8 {
    let threshold = fail_threshold(fail_on);
    if !assessment.rule_errors.is_empty() {
        let mut err = io::stderr().lock();
        for e in &assessment.rule_errors {
            let _ = writeln!(err, "clinicscan: {e}");
        }
        if threshold.is_some() {
            return crate::exit::ERROR;
        }
    }
    if has_findings_at(assessment, threshold) {
        crate::exit::FINDINGS
    } else {
        crate::exit::CLEAN
    }
}

/// The severity threshold for exit code 1.
pub fn fail_threshold(arg: SeverityArg) -> Option<Severity> {
    match arg {
        SeverityArg::Info => Some(Severity::Info),
        SeverityArg::Low => Some(Severity::Low),
        SeverityArg::Medium => Some(Severity::Medium),
        SeverityArg::High => Some(Severity::High),
        SeverityArg::Critical => Some(Severity::Critical),
        SeverityArg::Never => None,
    }
}

/// Whether the assessment has a finding at or above the threshold, counting the findings
/// it could not check again (they are not resolved: a run that could not look at a critical
/// finding must not exit as clean).
pub fn has_findings_at(assessment: &Assessment, threshold: Option<Severity>) -> bool {
    threshold.is_some_and(|t| {
        assessment
            .findings
            .iter()
            .chain(assessment.not_rechecked.iter().map(|c| &c.finding))
            .any(|f| f.severity >= t)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn locale_picks_the_language() {
        assert_eq!(lang_from_locale(env(&[("LANG", "ja_JP.UTF-8")])), Lang::Ja);
        assert_eq!(lang_from_locale(env(&[("LANG", "en_US.UTF-8")])), Lang::En);
        assert_eq!(
            lang_from_locale(env(&[("LC_ALL", "en_GB.UTF-8"), ("LANG", "ja_JP.UTF-8")])),
            Lang::En
        );
        assert_eq!(lang_from_locale(env(&[("LANG", "C.UTF-8")])), Lang::Ja);
        assert_eq!(lang_from_locale(env(&[])), Lang::Ja);
    }

    #[test]
    fn format_follows_the_output_extension() {
        assert_eq!(format(None, Some(Path::new("r.html"))), Format::Html);
        assert_eq!(format(None, Some(Path::new("r.CSV"))), Format::Csv);
        assert_eq!(
            format(Some(Format::Markdown), Some(Path::new("r.html"))),
            Format::Markdown
        );
        assert_eq!(format(None, Some(Path::new("r.bin"))), Format::Json);
        assert_eq!(
            format(None, Some(Path::new("checklist.xlsx"))),
            Format::ChecklistXlsx
        );
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "second");
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn devices_fifos_and_links_stay_what_they_are() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        // A FIFO (as /dev/stdout piped, or a process substitution): written into, not replaced.
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        // Checked before joining: a replaced FIFO would leave the reader waiting forever.
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(reader.join().unwrap(), "through the pipe");
        // A link to a report: the report is replaced, the link stays a link.
        let target = dir.path().join("report.json");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("latest.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
    }
}
