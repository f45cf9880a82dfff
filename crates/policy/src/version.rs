//! Version comparison for dotted, build and vendor-style version strings.
//!
//! Vendors write versions many ways: `7.2.3`, `v7.2.2,build1255`, `13.1-49.15`,
//! `22.4R2.2`, `10.2.9-h1`. A version is split into runs of digits (compared as
//! numbers) and runs of letters (compared case-insensitively); every other character
//! separates. Comparison is token by token; when one version is a prefix of the other,
//! the longer one is greater (`10.2.9-h1` > `10.2.9`). A leading `v` is ignored.
//! No crate handles these vendor forms (semver rejects most of them), hence this module.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Num(u64),
    Word(String),
}

fn tokens(version: &str) -> Vec<Token> {
    let v = version.trim();
    let v = v
        .strip_prefix(['v', 'V'])
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(v);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    let flush = |cur: &mut String, digit: bool, out: &mut Vec<Token>| {
        if cur.is_empty() {
            return;
        }
        if digit {
            // Saturate absurdly long digit runs instead of failing.
            out.push(Token::Num(cur.parse().unwrap_or(u64::MAX)));
        } else {
            out.push(Token::Word(cur.to_ascii_lowercase()));
        }
        cur.clear();
    };
    for c in v.chars() {
        if c.is_ascii_digit() {
            if !cur_digit {
                flush(&mut cur, false, &mut out);
            }
            cur_digit = true;
            cur.push(c);
        } else if c.is_ascii_alphabetic() {
            if cur_digit {
                flush(&mut cur, true, &mut out);
            }
            cur_digit = false;
            cur.push(c);
        } else {
            flush(&mut cur, cur_digit, &mut out);
        }
    }
    flush(&mut cur, cur_digit, &mut out);
    out
}

/// Compares two version strings (see the module docs for the rules).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    for (x, y) in ta.iter().zip(tb.iter()) {
        let ord = match (x, y) {
            (Token::Num(x), Token::Num(y)) => x.cmp(y),
            (Token::Word(x), Token::Word(y)) => x.cmp(y),
            // A number sorts after a word at the same position ("9.1R1" vs "9.1.1"
            // is rare; this keeps the order total).
            (Token::Num(_), Token::Word(_)) => Ordering::Greater,
            (Token::Word(_), Token::Num(_)) => Ordering::Less,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ta.len().cmp(&tb.len())
}

/// Whether `version` lies in a release branch: its leading tokens equal the branch's
/// ("6.0.18" is in "6.0"; "6.02" is not).
pub(crate) fn in_branch(version: &str, branch: &str) -> bool {
    let (v, b) = (tokens(version), tokens(branch));
    !b.is_empty() && v.len() >= b.len() && v[..b.len()] == b[..]
}

/// Whether `version` has at least one digit: a string like "unknown" is not a version.
pub(crate) fn looks_like_version(version: &str) -> bool {
    version.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn dotted() {
        assert_eq!(compare_versions("7.2.2", "7.2.3"), Less);
        assert_eq!(compare_versions("7.2.10", "7.2.9"), Greater);
        assert_eq!(compare_versions("6.0", "6.0.0"), Less);
        assert_eq!(compare_versions("7.0.14", "7.0.14"), Equal);
    }

    #[test]
    fn builds_and_vendor_forms() {
        assert_eq!(compare_versions("v7.2.2,build1255", "7.2.3"), Less);
        assert_eq!(compare_versions("v7.2.3,build1262", "7.2.3"), Greater);
        assert_eq!(compare_versions("13.1-49.13", "13.1-49.15"), Less);
        assert_eq!(compare_versions("13.1-50.1", "13.1-49.15"), Greater);
        assert_eq!(compare_versions("22.4R2.1", "22.4R2.2"), Less);
        assert_eq!(compare_versions("9.1R18.3", "9.1R14.4"), Greater);
        assert_eq!(compare_versions("10.2.9-h1", "10.2.9"), Greater);
        assert_eq!(compare_versions("10.2.8-h3", "10.2.9-h1"), Less);
        assert_eq!(compare_versions("9.16(4)38", "9.16(4)42"), Less);
        assert_eq!(compare_versions("10.2.1.1-19sv", "10.2.1.2-24sv"), Less);
    }

    #[test]
    fn garbage_does_not_panic() {
        assert_eq!(compare_versions("", ""), Equal);
        assert_eq!(compare_versions("", "1"), Less);
        assert_eq!(compare_versions("99999999999999999999999", "1"), Greater);
        assert!(!looks_like_version("unknown"));
        assert!(looks_like_version("R2"));
    }
}
