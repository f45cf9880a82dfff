//! The vendor pre-check as text: the profile, the host, one line per expectation with what
//! to do under each one not met, and the verdict.

use std::fmt::Write as _;

use clinicscan_model::{Lang, Outcome, PrecheckReport};

use crate::strings::S;

/// A pre-check report as plain text in one language.
pub fn render_precheck(report: &PrecheckReport, lang: Lang) -> String {
    let t = |s: S| s.get(lang);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} ({})",
        t(S::PrecheckTitle),
        report.profile_title.get(lang),
        report.profile
    );
    let _ = writeln!(
        out,
        "host {}{}",
        report.host,
        report
            .vantage_zone
            .as_deref()
            .map(|z| format!("  (vantage zone: {z})"))
            .unwrap_or_default()
    );
    if !report.host_found {
        let _ = writeln!(out, "{}", t(S::PrecheckHostMissing));
        let _ = writeln!(out, "{}", t(S::PrecheckNotMet));
        return out;
    }
    for r in &report.results {
        let tag = match &r.outcome {
            Outcome::Pass => t(S::PrecheckPass).to_string(),
            Outcome::Fail => t(S::PrecheckFail).to_string(),
            Outcome::Error(m) => format!("{}: {m}", t(S::PrecheckError)),
        };
        let _ = writeln!(out, "[{tag}] {} — {}", r.id, r.title.get(lang));
        if r.outcome != Outcome::Pass {
            let _ = writeln!(out, "    → {}", r.remediation.get(lang));
        }
    }
    let verdict = if report.passed() {
        S::PrecheckAllMet
    } else {
        S::PrecheckNotMet
    };
    let _ = writeln!(out, "{}", t(verdict));
    out
}
