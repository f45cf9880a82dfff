//! The rules tree: the copy embedded at build time (see `build.rs`), or a data directory of
//! the same layout read at run time (rule files, `controls/`, `data/`, `profiles/`).

use std::path::{Path, PathBuf};

use crate::error::LoadError;

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// A rules tree: (path under the tree, contents) and how to name its files in errors.
pub(crate) struct Tree {
    files: Vec<(String, String)>,
    /// The directory read, or `None` for the embedded copy (named `rules/...`).
    root: Option<PathBuf>,
}

impl Tree {
    /// The copy embedded at build time.
    pub(crate) fn shipped() -> Tree {
        Tree {
            files: SHIPPED
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
            root: None,
        }
    }

    /// Every `*.toml` under `dir`, in path order.
    pub(crate) fn read(dir: &Path) -> Result<Tree, LoadError> {
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        if !files.iter().any(|(p, _)| p == "data/kev.toml") {
            return Err(LoadError::Io {
                file: dir.join("data/kev.toml").display().to_string(),
                message: "not a clinicscan data directory (it has no data/kev.toml)".into(),
            });
        }
        Ok(Tree {
            files,
            root: Some(dir.to_path_buf()),
        })
    }

    /// The name of a file of the tree in messages.
    pub(crate) fn name(&self, rel: &str) -> String {
        match &self.root {
            Some(root) => root.join(rel).display().to_string(),
            None => format!("rules/{rel}"),
        }
    }

    /// Files directly under `prefix` (no further directory), as (name, contents).
    pub(crate) fn files_under(&self, prefix: &str) -> Vec<(String, &str)> {
        self.files
            .iter()
            .filter(|(p, _)| {
                p.strip_prefix(prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .map(|(p, t)| (self.name(p), t.as_str()))
            .collect()
    }

    /// One file by its path under the tree.
    pub(crate) fn file(&self, rel: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(p, _)| p == rel)
            .map(|(_, t)| t.as_str())
    }
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) -> Result<(), LoadError> {
    let io = |file: &Path, e: std::io::Error| LoadError::Io {
        file: file.display().to_string(),
        message: e.to_string(),
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| io(dir, e))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, base, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            let rel = path
                .strip_prefix(base)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((rel, text));
        }
    }
    Ok(())
}

/// Shipped files whose path starts with `prefix` and has no further directory, as
/// ("rules/<path>", contents).
pub(crate) fn files_under(prefix: &str) -> Vec<(&'static str, &'static str)> {
    SHIPPED
        .iter()
        .filter(|(p, _)| {
            p.strip_prefix(prefix)
                .is_some_and(|rest| !rest.contains('/'))
        })
        .map(|(p, t)| (*p, *t))
        .collect()
}
