//! Embeds the shipped `rules/` tree (rules, controls, data, profiles) into the crate, so
//! the binary carries its catalogue and adding a rule file needs no Rust change.
//!
//! The tree is the workspace's `rules/` (`CLINICSCAN_RULES_DIR` names another, e.g. when the
//! crate is built outside the workspace). A missing or incomplete tree is a build error: a
//! binary without its catalogue would assess nothing and say everything passed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a complete tree has: without these the rule set does not load.
const REQUIRED: &[&str] = &["data/kev.toml", "data/ports.toml"];
const REQUIRED_DIRS: &[&str] = &["controls", "profiles"];

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, base, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            let rel = path
                .strip_prefix(base)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.push((rel, path));
        }
    }
    Ok(())
}

fn main() {
    println!("cargo:rerun-if-env-changed=CLINICSCAN_RULES_DIR");
    let rules = match std::env::var_os("CLINICSCAN_RULES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
            manifest.join("../../rules")
        }
    };
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut files = Vec::new();
    if let Err(e) = walk(&rules, &rules, &mut files) {
        panic!(
            "clinicscan-policy embeds the rules tree, and {} cannot be read ({e}). Build \
             inside the clinicscan workspace, or set CLINICSCAN_RULES_DIR to a copy of its \
             rules/ directory.",
            rules.display()
        );
    }
    let has = |rel: &str| files.iter().any(|(p, _)| p == rel);
    let has_dir = |dir: &str| files.iter().any(|(p, _)| p.starts_with(&format!("{dir}/")));
    let rule_files = files.iter().filter(|(p, _)| !p.contains('/')).count();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|f| !has(f))
        .chain(REQUIRED_DIRS.iter().copied().filter(|d| !has_dir(d)))
        .chain((rule_files == 0).then_some("*.toml (rule files)"))
        .collect();
    if !missing.is_empty() {
        panic!(
            "the rules tree {} is incomplete: missing {}",
            rules.display(),
            missing.join(", ")
        );
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let mut f = match fs::File::create(out_dir.join("shipped.rs")) {
        Ok(f) => f,
        Err(e) => panic!("cannot write shipped.rs: {e}"),
    };
    let mut text = String::from("/// The shipped rules tree: (path under rules/, contents).\n");
    text.push_str("pub(crate) static SHIPPED: &[(&str, &str)] = &[\n");
    for (rel, path) in files {
        let abs = path.canonicalize().unwrap_or(path);
        text.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            abs.display().to_string()
        ));
    }
    text.push_str("];\n");
    if let Err(e) = f.write_all(text.as_bytes()) {
        panic!("cannot write shipped.rs: {e}");
    }
}
