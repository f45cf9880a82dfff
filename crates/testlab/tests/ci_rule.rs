//! The CI rule, proven on labs that cannot start: this test binary runs its own
//! `inner_start_a_lab_that_cannot_start` in a child process, with and without `CI`, and
//! reads what became of it. The labs here build nothing (plain `sh` and `touch`), so no
//! root is needed and nothing touches the network.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clinicscan_testlab::LabSpec;

/// Set for the child: which lab to start ("script-fails" or "command-missing").
const INNER: &str = "CLINICSCAN_TESTLAB_CASE";
/// Set for the child: the file its lab's teardown creates.
const MARKER: &str = "CLINICSCAN_TESTLAB_MARKER";

/// Runs only in the child process the tests below start.
#[test]
fn inner_start_a_lab_that_cannot_start() {
    let Some(case) = std::env::var_os(INNER) else {
        return;
    };
    let marker = std::env::var_os(MARKER).expect("marker path");
    let down = [OsStr::new("touch"), marker.as_os_str()];
    let spec = match case.to_str() {
        Some("script-fails") => LabSpec::commands(
            "failing",
            [
                "sh",
                "-c",
                "echo 'lab: cannot create the namespace' >&2; exit 1",
            ],
            down,
        ),
        Some("command-missing") => {
            LabSpec::commands("failing", ["true"], down).needs(&["sh", "clinicscan-no-such-daemon"])
        }
        other => panic!("unknown case {other:?}"),
    };
    let Some(_lab) = spec.root_not_needed().start() else {
        println!("inner: start returned None");
        return;
    };
    panic!("a lab that cannot start started");
}

struct Child {
    passed: bool,
    output: String,
    torn_down: bool,
    /// The failed start's log is still there to read.
    log_kept: bool,
}

fn run_child(case: &str, ci: Option<&str>) -> Child {
    let marker: PathBuf = std::env::temp_dir().join(format!(
        "clinicscan-testlab-{}-{case}-{}",
        std::process::id(),
        ci.unwrap_or("unset")
    ));
    let _ = std::fs::remove_file(&marker);
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "inner_start_a_lab_that_cannot_start",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(INNER, case)
    .env(MARKER, &marker);
    match ci {
        Some(value) => cmd.env("CI", value),
        None => cmd.env_remove("CI"),
    };
    let spawned = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child test");
    // the helper's log of the start, named after the child's pid
    let log = std::env::temp_dir().join(format!("clinicscan-lab-failing-{}.log", spawned.id()));
    let out = spawned.wait_with_output().expect("the child test's output");
    let child = Child {
        passed: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        torn_down: Path::new(&marker).exists(),
        log_kept: log.exists(),
    };
    let _ = std::fs::remove_file(&marker);
    let _ = std::fs::remove_file(&log);
    child
}

#[test]
fn under_ci_a_lab_whose_script_fails_fails_the_test_with_the_reason() {
    for ci in ["true", "1"] {
        let c = run_child("script-fails", Some(ci));
        assert!(!c.passed, "CI={ci}: the test passed:\n{}", c.output);
        for reason in [
            "the failing lab cannot start",
            "exit status: 1",
            // the script's own words
            "lab: cannot create the namespace",
            "CI is set",
        ] {
            assert!(
                c.output.contains(reason),
                "CI={ci}: no {reason:?} in:\n{}",
                c.output
            );
        }
        assert!(!c.output.contains("start returned None"), "{}", c.output);
        assert!(c.torn_down, "CI={ci}: the failed start was not torn down");
        assert!(c.log_kept, "CI={ci}: the failed start's log is gone");
    }
}

#[test]
fn under_ci_a_missing_command_fails_the_test_naming_it() {
    let c = run_child("command-missing", Some("true"));
    assert!(!c.passed, "the test passed:\n{}", c.output);
    assert!(
        c.output
            .contains("clinicscan-no-such-daemon is not installed (scripts/install-deps)"),
        "{}",
        c.output
    );
    assert!(!c.torn_down, "nothing was started, nothing to tear down");
}

#[test]
fn outside_ci_a_lab_that_cannot_start_is_reported_not_run() {
    for ci in [None, Some(""), Some("false")] {
        let c = run_child("script-fails", ci);
        assert!(c.passed, "CI={ci:?}: the test failed:\n{}", c.output);
        assert!(c.output.contains("1 passed"), "{}", c.output);
        assert!(
            c.output
                .contains("not run: the failing lab cannot start: `sh -c"),
            "CI={ci:?}:\n{}",
            c.output
        );
        assert!(
            c.output.contains("lab: cannot create the namespace"),
            "{}",
            c.output
        );
        assert!(c.output.contains("start returned None"), "{}", c.output);
        assert!(c.torn_down, "CI={ci:?}: the failed start was not torn down");
        assert!(c.log_kept, "CI={ci:?}: the failed start's log is gone");
    }
}

#[test]
fn a_started_lab_is_torn_down_when_dropped() {
    let marker =
        std::env::temp_dir().join(format!("clinicscan-testlab-{}-drop", std::process::id()));
    let lab = LabSpec::commands(
        "trivial",
        ["true"],
        [OsStr::new("touch"), marker.as_os_str()],
    )
    .root_not_needed()
    .start()
    .expect("a lab whose start succeeds");
    assert!(!marker.exists(), "torn down before the drop");
    drop(lab);
    assert!(marker.exists(), "not torn down on drop");
    let _ = std::fs::remove_file(&marker);
}
