//! One run at a time: an advisory lock on a file (`flock(2)` through std's `File::try_lock`).
//!
//! The kernel drops the lock when the process ends, however it ends, so a killed run never
//! leaves a stale lock behind. The file keeps the holder's pid as a hint for the operator.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Taking the run lock failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another run holds the lock.
    #[error("another clinicscan run holds the lock {path}{}", holder.as_deref().map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The pid the holder wrote, when readable.
        holder: Option<String>,
    },
    /// The lock file could not be created or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A held run lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock at `path` without waiting (creating the file and its directory if
    /// needed), or returns [`LockError::Busy`] when another process holds it.
    pub fn acquire(path: impl AsRef<Path>) -> Result<RunLock, LockError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty() && s.len() < 32);
                return Err(LockError::Busy { path, holder });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // The pid is a hint only: failing to write it does not fail the lock.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(RunLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_busy_until_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("run.lock");
        let first = RunLock::acquire(&path).unwrap();
        match RunLock::acquire(&path) {
            Err(LockError::Busy { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id().to_string()))
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        let again = RunLock::acquire(&path).unwrap();
        assert_eq!(again.path(), path.as_path());
    }
}
