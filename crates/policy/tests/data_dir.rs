//! A data directory of the layout of `rules/` is laid over the built-in copy at run time, file
//! by file: a full copy loads as the built-in one, a changed file changes the rule set, and a
//! directory that holds no data file (a wrong path) is an error.

use std::fs;
use std::path::{Path, PathBuf};

use clinicscan_policy::{LoadError, RuleSet};

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn shipped_rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

#[test]
fn a_copy_of_the_rules_tree_loads_as_the_embedded_one() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&shipped_rules_dir(), dir.path());
    let from_dir = RuleSet::load_with_data(Some(dir.path())).expect("the copy loads");
    let embedded = RuleSet::load_with_data(None).expect("the embedded copy loads");
    let ids = |r: &RuleSet| r.rules().iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&from_dir), ids(&embedded));
    assert_eq!(
        from_dir.catalogue().controls().len(),
        embedded.catalogue().controls().len()
    );
    // Errors name the directory's file, not the embedded copy.
    assert!(
        from_dir.rules()[0]
            .file
            .starts_with(&dir.path().display().to_string())
    );
}

#[test]
fn a_file_of_the_directory_replaces_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&shipped_rules_dir(), dir.path());
    let all = RuleSet::shipped().unwrap();
    let (file, text) = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let t = fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .find(|(_, t)| t.matches("[[rule]]").count() > 1)
        .unwrap();
    // Keep only the first rule of that file.
    let second = text.match_indices("[[rule]]").nth(1).unwrap().0;
    fs::write(&file, &text[..second]).unwrap();
    let fewer = RuleSet::load_with_data(Some(dir.path())).expect("loads");
    assert!(fewer.rules().len() < all.rules().len());
    assert!(
        fewer
            .rules()
            .iter()
            .any(|r| r.file == file.display().to_string())
    );
}

#[test]
fn a_directory_without_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = RuleSet::load_with_data(Some(dir.path())).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err}");
    assert!(
        err.to_string().contains("not a clinicscan data directory"),
        "{err}"
    );
    let missing = RuleSet::load_with_data(Some(&dir.path().join("nope"))).unwrap_err();
    assert!(matches!(missing, LoadError::Io { .. }), "{missing}");
}
