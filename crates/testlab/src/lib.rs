//! The one helper every namespace-lab test starts its lab with.
//!
//! - One root check, [`is_root`]: the effective uid, because that is what the kernel checks
//!   when a lab script creates namespaces, veth pairs and nftables rules (a setuid or `sudo`
//!   runner has effective uid 0 whatever its real uid; a process that dropped to another
//!   effective uid cannot, whatever its real uid).
//! - A lab that cannot start (not root, a command it needs is missing, its script fails) is
//!   a test that did not run. Under CI ([`under_ci`]) that fails the test, with the reason;
//!   elsewhere the test prints one `not run: ...` line and returns.
//! - The [`Lab`] that [`LabSpec::start`] returns tears the lab down when dropped, also when an
//!   assertion fails; a start that failed half-way is torn down before the reason is given.
//!
//! ```no_run
//! use clinicscan_testlab::LabSpec;
//!
//! let Some(lab) = LabSpec::script("tls").needs(&["nginx", "sslscan"]).start() else {
//!     return; // not run (outside CI)
//! };
//! // ... traffic to the lab's namespaces only ...
//! drop(lab); // `tests/labs/tls/lab.sh down DIR`
//! ```
//!
//! The small labs are `tests/labs/<name>/lab.sh up|down DIR` (see `tests/labs/README.md`);
//! the clinic lab is `tests/lab/up` and `tests/lab/down`, started with [`LabSpec::commands`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (the lab scripts are found from here, whichever crate's test runs).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The effective uid from a `/proc/<pid>/status` text (`Uid:` real, effective, saved, fs).
fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn own_effective_uid() -> Option<u32> {
    effective_uid(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Whether this process may build a lab: its effective uid is 0.
pub fn is_root() -> bool {
    own_effective_uid() == Some(0)
}

/// Whether `CI` is set: non-empty and neither "false" nor "0" (`CI=true` from CI services and
/// from `scripts/test` as root).
fn ci_value_means_ci(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether this run is CI's: then a lab that cannot start fails its test.
pub fn under_ci() -> bool {
    ci_value_means_ci(std::env::var_os("CI").as_deref())
}

/// A lab that did not start: under CI the test fails with `reason`; elsewhere one line
/// says so and the test returns.
fn not_started(name: &str, reason: &str) -> Option<Lab> {
    if under_ci() {
        panic!(
            "the {name} lab cannot start: {reason}\n(CI is set: a lab test that cannot run fails)"
        );
    }
    eprintln!("not run: the {name} lab cannot start: {reason}");
    None
}

/// Whether `command` is an existing absolute path or a program on `PATH`.
fn installed(command: &str) -> bool {
    let path = Path::new(command);
    if path.is_absolute() {
        return path.exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|dirs| std::env::split_paths(&dirs).any(|d| d.join(command).is_file()))
}

fn shown(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` in its own process group (daemons that signal their group must not reach
/// the test), its output appended to `log`: a daemon that keeps the script's output open
/// must not keep the test waiting, as a pipe would.
fn run_logged(argv: &[OsString], log: &Path) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no command".to_string());
    };
    let open = || {
        File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))
    };
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(open()?)
        .stderr(open()?)
        .process_group(0)
        .status()
        .map_err(|e| format!("cannot run `{}`: {e}", shown(argv)))?;
    if status.success() {
        return Ok(());
    }
    let output = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = output.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    Err(format!(
        "`{}` failed ({status}); the end of its output ({}):\n{tail}",
        shown(argv),
        log.display()
    ))
}

/// How to start and stop one lab, and what it needs.
#[derive(Debug, Clone)]
pub struct LabSpec {
    name: String,
    up: Vec<OsString>,
    down: Vec<OsString>,
    dir: Option<PathBuf>,
    running: Option<PathBuf>,
    needs: Vec<String>,
    root: bool,
}

impl LabSpec {
    /// The small lab `tests/labs/<name>/lab.sh`, started as `lab.sh up DIR` and stopped as
    /// `lab.sh down DIR` with the run directory `$TMPDIR/clinicscan-lab-<name>`.
    ///
    /// With `<NAME>_LAB_DIR=DIR` in the environment (`TLS_LAB_DIR`, `REMOTE_ACCESS_LAB_DIR`,
    /// ...) the lab someone started by hand with `lab.sh up DIR` is used and left running.
    pub fn script(name: &str) -> LabSpec {
        let script = workspace()
            .join("tests/labs")
            .join(name)
            .join("lab.sh")
            .into_os_string();
        let dir = std::env::temp_dir().join(format!("clinicscan-lab-{name}"));
        let var = format!(
            "{}_LAB_DIR",
            name.to_ascii_uppercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let argv = |verb: &str| vec![script.clone(), verb.into(), dir.clone().into_os_string()];
        LabSpec {
            name: name.to_string(),
            up: argv("up"),
            down: argv("down"),
            running: std::env::var_os(var).map(PathBuf::from),
            dir: Some(dir),
            needs: Vec::new(),
            root: true,
        }
    }

    /// A lab started by one command and stopped by another (the clinic lab:
    /// `tests/lab/up`, `tests/lab/down`). Each is a program and its arguments.
    pub fn commands<U, D>(name: &str, up: U, down: D) -> LabSpec
    where
        U: IntoIterator,
        U::Item: AsRef<OsStr>,
        D: IntoIterator,
        D::Item: AsRef<OsStr>,
    {
        LabSpec {
            name: name.to_string(),
            up: up.into_iter().map(|a| a.as_ref().to_os_string()).collect(),
            down: down
                .into_iter()
                .map(|a| a.as_ref().to_os_string())
                .collect(),
            dir: None,
            running: None,
            needs: Vec::new(),
            root: true,
        }
    }

    /// Commands the lab needs (a name on `PATH` or an absolute path); checked before the
    /// start, so that a missing package is named as the reason.
    pub fn needs(mut self, commands: &[&str]) -> LabSpec {
        self.needs.extend(commands.iter().map(|c| c.to_string()));
        self
    }

    /// For a lab that builds nothing privileged (this crate's own tests of the CI rule).
    pub fn root_not_needed(mut self) -> LabSpec {
        self.root = false;
        self
    }

    /// Starts the lab. `None`: it cannot start and this is not CI (a `not run` line was
    /// printed; the test returns). Under CI that case panics with the reason instead.
    pub fn start(self) -> Option<Lab> {
        if let Some(dir) = self.running {
            eprintln!(
                "{} lab: using the one running in {} (left running)",
                self.name,
                dir.display()
            );
            return Some(Lab {
                name: self.name,
                down: None,
                dir: Some(dir),
                log: None,
                keep_log: true,
            });
        }
        if self.root && !is_root() {
            let uid = own_effective_uid().map_or("unknown".to_string(), |u| u.to_string());
            return not_started(
                &self.name,
                &format!("it needs root for network namespaces (effective uid {uid})"),
            );
        }
        if let Some(missing) = self.needs.iter().find(|c| !installed(c)) {
            return not_started(
                &self.name,
                &format!("{missing} is not installed (scripts/install-deps)"),
            );
        }
        let log = std::env::temp_dir().join(format!(
            "clinicscan-lab-{}-{}.log",
            self.name,
            std::process::id()
        ));
        // A fresh log per start; the guard exists before `up` runs, so that a start that
        // failed half-way is torn down too.
        let _ = std::fs::remove_file(&log);
        let mut lab = Lab {
            name: self.name.clone(),
            down: Some(self.down),
            dir: self.dir,
            log: Some(log.clone()),
            keep_log: false,
        };
        match run_logged(&self.up, &log) {
            Ok(()) => Some(lab),
            Err(reason) => {
                lab.keep_log = true;
                drop(lab);
                not_started(&self.name, &reason)
            }
        }
    }
}

/// A running lab; dropping it stops the lab (unless it was started by hand, see
/// [`LabSpec::script`]).
#[derive(Debug)]
pub struct Lab {
    name: String,
    down: Option<Vec<OsString>>,
    dir: Option<PathBuf>,
    log: Option<PathBuf>,
    /// The start failed: its log stays for whoever reads the reason.
    keep_log: bool,
}

impl Lab {
    /// The lab's run directory (certificates, configs, pid files), for a script lab.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let (Some(down), Some(log)) = (&self.down, &self.log) else {
            return;
        };
        match run_logged(down, log) {
            Ok(()) if !self.keep_log => {
                let _ = std::fs::remove_file(log);
            }
            Ok(()) => {}
            Err(reason) => eprintln!("the {} lab was not torn down: {reason}", self.name),
        }
    }
}

/// Runs one test of the current test binary inside the network namespace `ns`
/// (`ip netns exec`), with `env` added: how a lab test puts its scanner inside the lab.
/// `Ok(output)` only when that test ran and passed; `Err(output)` otherwise.
pub fn run_test_in_namespace(ns: &str, test: &str, env: &[(&str, &str)]) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("the test binary's path: {e}"))?;
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(exe)
        .args([
            test,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().copied())
        .output()
        .map_err(|e| format!("cannot run `ip netns exec {ns}`: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("1 passed") {
        Ok(text)
    } else {
        Err(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_uid_is_the_second_uid_field() {
        assert_eq!(effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\n"), Some(0));
        assert_eq!(effective_uid("Uid:\t0\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn ci_is_a_non_empty_value_other_than_false_or_0() {
        for on in ["true", "1", "yes", "github"] {
            assert!(ci_value_means_ci(Some(OsStr::new(on))), "{on}");
        }
        for off in ["", "false", "0"] {
            assert!(!ci_value_means_ci(Some(OsStr::new(off))), "{off:?}");
        }
        assert!(!ci_value_means_ci(None));
    }

    #[test]
    fn needs_finds_programs_on_path_and_absolute_paths() {
        assert!(installed("sh"));
        assert!(installed("/bin/sh"));
        assert!(!installed("clinicscan-no-such-command"));
        assert!(!installed("/nonexistent/clinicscan"));
    }
}
