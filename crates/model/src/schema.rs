//! JSON Schemas of the public contracts, generated from the types.
//!
//! The generated schemas are checked in under `crates/model/schemas/`; a test fails when the
//! types and the checked-in files drift apart, so a contract change is always a visible diff.

use crate::{Assessment, Observation};

/// The JSON Schema of [`Observation`], pretty-printed.
pub fn observation_schema() -> String {
    pretty(&schemars::schema_for!(Observation))
}

/// The JSON Schema of [`Assessment`], pretty-printed.
pub fn assessment_schema() -> String {
    pretty(&schemars::schema_for!(Assessment))
}

fn pretty(schema: &schemars::Schema) -> String {
    // Serialising a schema of plain types cannot fail; fall back to an empty object anyway.
    serde_json::to_string_pretty(schema).unwrap_or_else(|_| "{}".to_string()) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn schema_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(name)
    }

    /// Regenerate with `UPDATE_SCHEMAS=1 cargo test -p clinicscan-model`.
    fn check(name: &str, generated: String) {
        let path = schema_path(name);
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            on_disk, generated,
            "{name} is out of date: run UPDATE_SCHEMAS=1 cargo test -p clinicscan-model"
        );
    }

    #[test]
    fn observation_schema_is_checked_in() {
        check("observation.v1.json", observation_schema());
    }

    #[test]
    fn assessment_schema_is_checked_in() {
        check("assessment.v2.json", assessment_schema());
    }
}
