//! The run lock across processes: a second run is refused while the first holds the lock,
//! and a killed holder leaves no stale lock behind.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clinicscan_report::{LockError, RunLock};

const CHILD_ENV: &str = "CSM_LOCK_CHILD_PATH";

/// The child side: takes the lock, says so, and holds it until killed (at most 30 s).
#[test]
fn lock_child_holder() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let _lock = RunLock::acquire(PathBuf::from(&path)).unwrap();
    std::fs::write(PathBuf::from(&path).with_extension("held"), b"1").unwrap();
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn a_killed_holder_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.lock");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_child_holder", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.with_extension("held").exists() {
        assert!(Instant::now() < deadline, "the child never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    match RunLock::acquire(&path) {
        Err(e @ LockError::Busy { .. }) => {
            let LockError::Busy { holder, .. } = &e else {
                unreachable!()
            };
            assert_eq!(holder.as_deref(), Some(child.id().to_string().as_str()));
            assert!(
                e.to_string()
                    .contains("another clinicscan run holds the lock")
            );
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let lock = RunLock::acquire(&path).expect("the kernel released the dead holder's lock");
    assert_eq!(
        std::fs::read_to_string(lock.path()).unwrap().trim(),
        std::process::id().to_string()
    );
}
