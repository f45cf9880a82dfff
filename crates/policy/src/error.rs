//! Typed errors. Every loading error names the file and the item it concerns.

use std::fmt;

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// A problem loading rules, controls, data tables or profiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        /// The file.
        file: String,
        /// The operating system's message.
        message: String,
    },
    /// A file is not valid TOML or does not have the expected shape.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The TOML parser's message (it includes the line and the key).
        message: String,
    },
    /// An item (rule, control, profile expectation, data entry) is invalid.
    #[error("{file}: {kind} {id}: {problem}")]
    Item {
        /// The file.
        file: String,
        /// "rule", "control", "expectation", "kev entry", ...
        kind: &'static str,
        /// The item's id.
        id: String,
        /// What is wrong.
        problem: String,
    },
    /// A CEL condition does not parse.
    #[error(
        "{file}: {kind} {id}: condition does not parse at {position} (of the condition): {message}"
    )]
    Condition {
        /// The file.
        file: String,
        /// "rule" or "expectation".
        kind: &'static str,
        /// The item's id.
        id: String,
        /// Position inside the condition text.
        position: Position,
        /// The CEL parser's message.
        message: String,
    },
}

/// A problem in a site file. Names the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {problem}")]
pub struct SiteError {
    /// The file.
    pub file: String,
    /// The key, e.g. `zones.general.cidrs[1]` (or "(file)" for a syntax error).
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// Renders a toml error with the file name, keeping its line information.
pub(crate) fn toml_message(err: &toml::de::Error, text: &str) -> String {
    let msg = err.message().to_string();
    match err.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            format!("line {line} column {col}: {msg}")
        }
        None => msg,
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
