//! The vendor pre-check as text: the profile, the host and what showed it is there, one
//! line per expectation with the ports it looked at and the controls it evidences, what to
//! do under each one not met, why each not-verified one is, and the verdict.

use std::fmt::Write as _;

use clinicscan_model::{Lang, Outcome, PortCheck, PortState, PrecheckReport};

use super::transport_str;
use crate::strings::S;

/// The ports an expectation looked at with what the scan saw: "3389/tcp open, 22/tcp closed".
pub(crate) fn port_checks(ports: &[PortCheck], lang: Lang) -> String {
    ports
        .iter()
        .map(|p| {
            let state = match p.state {
                Some(PortState::Open) => S::PortOpen,
                Some(PortState::Closed) => S::PortClosed,
                Some(PortState::Filtered) => S::PortFiltered,
                Some(PortState::OpenFiltered) => S::PortOpenFiltered,
                None => S::PortNotProbed,
            };
            format!(
                "{}/{} {}",
                p.port,
                transport_str(p.transport),
                state.get(lang)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

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
        "host {}{}{}",
        report.host,
        report
            .vantage_zone
            .as_deref()
            .map(|z| format!("  (vantage zone: {z})"))
            .unwrap_or_default(),
        report
            .answered_by
            .as_deref()
            .map(|a| format!("  ({}: {a})", t(S::PrecheckAnsweredBy)))
            .unwrap_or_default()
    );
    if !report.ports_spec.is_empty() {
        let _ = writeln!(out, "{}: {}", t(S::PrecheckPortsUsed), report.ports_spec);
    }
    if !report.host_found {
        let _ = writeln!(out, "{}", t(S::PrecheckHostMissing));
    } else if !report.host_answered {
        let _ = writeln!(out, "{}", t(S::PrecheckNoAnswer));
    }
    for r in &report.results {
        let tag = match &r.outcome {
            Outcome::Pass => t(S::PrecheckPass).to_string(),
            Outcome::Fail => t(S::PrecheckFail).to_string(),
            Outcome::NotApplicable => t(S::PrecheckNotApplicable).to_string(),
            Outcome::NotVerified(_) => t(S::PrecheckNotVerified).to_string(),
            Outcome::Error(m) => format!("{}: {m}", t(S::PrecheckError)),
        };
        let _ = writeln!(out, "[{tag}] {} — {}", r.id, r.title.get(lang));
        if !r.ports.is_empty() {
            let _ = writeln!(
                out,
                "    {}: {}",
                t(S::PrecheckPorts),
                port_checks(&r.ports, lang)
            );
        }
        if !r.controls.is_empty() {
            let _ = writeln!(
                out,
                "    {}: {}",
                t(S::PrecheckControls),
                r.controls.join(", ")
            );
        }
        match &r.outcome {
            Outcome::NotVerified(why) => {
                let _ = writeln!(out, "    ? {}", why.get(lang));
            }
            Outcome::Fail | Outcome::Error(_) => {
                let _ = writeln!(out, "    → {}", r.remediation.get(lang));
            }
            Outcome::Pass | Outcome::NotApplicable => {}
        }
    }
    let verdict = if report.passed() {
        S::PrecheckAllMet
    } else if report.failed() {
        S::PrecheckNotMet
    } else {
        S::PrecheckIncomplete
    };
    let _ = writeln!(out, "{}", t(verdict));
    out
}
