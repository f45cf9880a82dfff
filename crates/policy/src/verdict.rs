//! Verdicts: what each rule checked over an assessment and what it lacks, and the status
//! of each control with its evidence (the failing findings, the checks, what is missing).

use std::collections::BTreeMap;

use clinicscan_model::{
    CellState, Certainty, Check, ControlResult, ControlStatus, Coverage, Finding, HostState, Lang,
    Missing, MissingKind, Observation, Severity, Subject, Text, ZonePair,
};
use ipnet::IpNet;

use crate::catalogue::{Control, ScanEvidence};
use crate::coverage::probed;
use crate::eval::{OQV_TERMINAL, ObsInfo, RuleRun};
use crate::rules::{Rule, SiteNeed};
use crate::site::{Site, ZoneKind};

/// Everything a rule's evidence is judged against.
pub(crate) struct World<'a> {
    pub(crate) observations: &'a [Observation],
    pub(crate) infos: &'a [ObsInfo],
    pub(crate) site: Option<&'a Site>,
    pub(crate) coverage: Option<&'a Coverage>,
}

fn missing(
    kind: MissingKind,
    rule: &Rule,
    subject: Option<String>,
    ja: String,
    en: String,
) -> Missing {
    Missing {
        kind,
        rule_id: Some(rule.id.clone()),
        subject,
        text: Text::new(ja, en),
    }
}

/// What one rule checked over the assessment, and what it lacks.
pub(crate) fn rule_evidence(
    rule: &Rule,
    run: &RuleRun,
    w: &World<'_>,
) -> (Vec<Check>, Vec<Missing>) {
    let ch = &rule.checks;
    let mut checks = Vec::new();
    let mut lacks = Vec::new();

    // What the site file must hold.
    let mut needs: Vec<SiteNeed> = ch.site.clone();
    if ch.zone_pair && !needs.contains(&SiteNeed::Zones) {
        needs.push(SiteNeed::Zones);
    }
    if ch.egress && !needs.contains(&SiteNeed::EgressTargets) {
        needs.push(SiteNeed::EgressTargets);
    }
    let mut site_ok = true;
    for need in &needs {
        let (ja, en) = match (w.site, need) {
            (None, SiteNeed::Zones) => (
                "サイトファイルがありません:ゾーンが不明です",
                "no site file: zones unknown",
            ),
            (None, SiteNeed::Assets) => (
                "サイトファイルがありません:台帳(資産一覧)がありません",
                "no site file: no asset register to compare with",
            ),
            (None, SiteNeed::EgressTargets) => (
                "サイトファイルがありません:インターネット接続確認先(egress)がありません",
                "no site file: no egress target to try",
            ),
            (Some(s), SiteNeed::Zones) if s.zones.is_empty() => (
                "サイトファイルにゾーンがありません",
                "the site file names no zones",
            ),
            (Some(s), SiteNeed::Assets) if s.assets.is_empty() => (
                "サイトファイルに台帳([[assets]])がありません",
                "the site file lists no assets ([[assets]]) to compare with",
            ),
            (Some(s), SiteNeed::EgressTargets) if s.egress_targets.is_empty() => (
                "サイトファイルの [egress] に確認先を追加してください",
                "add an egress target to the site file ([egress] targets)",
            ),
            _ => continue,
        };
        site_ok = false;
        lacks.push(missing(
            MissingKind::SiteFile,
            rule,
            Some(need.as_str().to_string()),
            ja.to_string(),
            en.to_string(),
        ));
    }

    // From where it judges: the vantage zones it needs (zone pairs say it per pair).
    if site_ok && !ch.vantage.is_empty() && !ch.zone_pair {
        lacks.extend(vantage_gaps(rule, w));
    }

    if ch.zone_pair && site_ok {
        let (c, m) = pair_evidence(rule, w);
        checks.extend(c);
        lacks.extend(m);
    }
    if ch.egress
        && site_ok
        && let Some(site) = w.site
    {
        for t in &site.egress_targets {
            let mut tried = false;
            for (obs, info) in w.observations.iter().zip(w.infos) {
                let from_kind = info.vantage_kind;
                if !ch.vantage.is_empty()
                    && !from_kind.is_some_and(|k| ch.vantage.iter().any(|v| v.as_str() == k))
                {
                    continue;
                }
                if probed(obs, |a| a == t.address, &[IpNet::from(t.address)]) {
                    tried = true;
                    checks.push(Check {
                        rule_id: rule.id.clone(),
                        facts: Vec::new(),
                        zone_pair: None,
                        egress_target: true,
                        vantage_zone: info.vantage_zone.clone(),
                        observation_id: obs.scan.id.clone(),
                        subjects: vec![Subject {
                            host: t.address,
                            port: None,
                            transport: None,
                        }],
                    });
                }
            }
            let from_any = w.infos.iter().any(|i| {
                ch.vantage.is_empty()
                    || i.vantage_kind
                        .is_some_and(|k| ch.vantage.iter().any(|v| v.as_str() == k))
            });
            if !tried && from_any {
                let a = t.address;
                lacks.push(missing(
                    MissingKind::EgressTarget,
                    rule,
                    Some(a.to_string()),
                    format!("確認先 {a} への接続を試していません:オン資ゾーンからのスキャンの対象に {a} を加えてください"),
                    format!("egress target {a} was not tried: add {a} to the targets of the scan from the オン資 zone"),
                ));
            }
        }
    }

    for (oi, subjects) in &run.checked {
        let info = &w.infos[*oi];
        checks.push(Check {
            rule_id: rule.id.clone(),
            facts: rule.checks.facts.clone(),
            zone_pair: None,
            egress_target: false,
            vantage_zone: info.vantage_zone.clone(),
            observation_id: w.observations[*oi].scan.id.clone(),
            subjects: subjects.clone(),
        });
    }
    if !run.unknown.is_empty() {
        let mut paths: Vec<&str> = run
            .unknown
            .iter()
            .flat_map(|(_, p)| p.iter().map(String::as_str))
            .collect();
        paths.sort_unstable();
        paths.dedup();
        let list: Vec<&Subject> = run.unknown.iter().map(|(s, _)| s).collect();
        let paths = paths.join(", ");
        lacks.push(missing(
            MissingKind::FactUnknown,
            rule,
            Some(subjects_text(&list, Lang::En)),
            format!(
                "{} で {paths} を判別できませんでした",
                subjects_text(&list, Lang::Ja)
            ),
            format!(
                "{paths} could not be told on {}",
                subjects_text(&list, Lang::En)
            ),
        ));
    }
    for (s, why) in &run.probe_failed {
        let probe = rule.checks.probe.as_deref().unwrap_or("");
        let at = s.to_string();
        lacks.push(missing(
            MissingKind::ProbeFailed,
            rule,
            Some(at.clone()),
            format!("{at} で {probe} のプローブが失敗しました({why})"),
            format!("the {probe} probe failed on {at} ({why})"),
        ));
    }
    if run.errors > 0 {
        let first = run.first_error.as_deref().unwrap_or("");
        lacks.push(missing(
            MissingKind::RuleError,
            rule,
            None,
            format!(
                "ルール {} を {} 件の入力で評価できませんでした(最初: {first})",
                rule.id, run.errors
            ),
            format!(
                "rule {} could not be evaluated on {} input(s) (first: {first})",
                rule.id, run.errors
            ),
        ));
    }
    (checks, lacks)
}

/// The vantage zones a rule judges from that no Observation ran from.
fn vantage_gaps(rule: &Rule, w: &World<'_>) -> Vec<Missing> {
    let ch = &rule.checks;
    let scanned = |kind: &str| w.infos.iter().any(|i| i.vantage_kind == Some(kind));
    let mut out = Vec::new();
    match w.site {
        Some(site) => {
            let mut any_zone = false;
            for kind in &ch.vantage {
                for z in site.zones.iter().filter(|z| z.kind == *kind) {
                    any_zone = true;
                    if !w
                        .infos
                        .iter()
                        .any(|i| i.vantage_zone.as_deref() == Some(&z.name))
                    {
                        let n = &z.name;
                        out.push(missing(
                            MissingKind::Vantage,
                            rule,
                            Some(n.clone()),
                            format!("ゾーン {n} からスキャンしてください"),
                            format!("scan from zone {n}"),
                        ));
                    }
                }
            }
            if !any_zone {
                let kinds = kinds_text(&ch.vantage);
                out.push(missing(
                    MissingKind::Vantage,
                    rule,
                    Some(kinds.clone()),
                    format!("サイトファイルに種別 {kinds} のゾーンがないため、そこからのスキャンがありません"),
                    format!("the site file has no zone of kind {kinds}: nothing was scanned from there"),
                ));
            }
        }
        None => {
            if !ch.vantage.iter().any(|k| scanned(k.as_str())) {
                let kinds = kinds_text(&ch.vantage);
                out.push(missing(
                    MissingKind::Vantage,
                    rule,
                    Some(kinds.clone()),
                    format!("種別 {kinds} のゾーンからスキャンしてください"),
                    format!("scan from a zone of kind {kinds}"),
                ));
            }
        }
    }
    out
}

fn kinds_text(kinds: &[ZoneKind]) -> String {
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Zone-pair rules: a check per pair probed (with the hosts seen there), a missing piece
/// per vantage zone whose pairs were not probed.
fn pair_evidence(rule: &Rule, w: &World<'_>) -> (Vec<Check>, Vec<Missing>) {
    let (Some(site), Some(cov)) = (w.site, w.coverage) else {
        return (Vec::new(), Vec::new());
    };
    let ch = &rule.checks;
    let kind_in = |kinds: &[ZoneKind], k: ZoneKind| kinds.is_empty() || kinds.contains(&k);
    let mut checks = Vec::new();
    let mut unprobed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for cell in &cov.cells {
        let (Some(f), Some(t)) = (site.zone(&cell.from), site.zone(&cell.to)) else {
            continue;
        };
        // A zone holding a declared オン資 terminal is also judged as oqv (within the zone,
        // the cell holds only its terminals).
        let holds_terminal = site.assets.iter().any(|a| {
            a.role.as_deref() == Some(OQV_TERMINAL)
                && a.address
                    .is_some_and(|ad| t.cidrs.iter().any(|n| n.contains(&ad)))
        });
        let to_ok = if f.name == t.name {
            kind_in(&ch.to, ZoneKind::Oqv)
        } else {
            kind_in(&ch.to, t.kind) || (holds_terminal && kind_in(&ch.to, ZoneKind::Oqv))
        };
        if !kind_in(&ch.vantage, f.kind) || !to_ok {
            continue;
        }
        if cell.state == CellState::NotProbed {
            unprobed.entry(&cell.from).or_default().push(&cell.to);
            continue;
        }
        for (obs, info) in w.observations.iter().zip(w.infos) {
            if !cell.observation_ids.contains(&obs.scan.id)
                || info.vantage_zone.as_deref() != Some(&cell.from)
            {
                continue;
            }
            let subjects = obs
                .hosts
                .iter()
                .filter(|h| h.status.state == HostState::Up)
                .filter(|h| site.zone_of(h.address).is_some_and(|z| z.name == t.name))
                .filter(|h| {
                    f.name != t.name
                        || site
                            .asset_of(h.address, h.mac.as_deref())
                            .is_some_and(|a| a.role.as_deref() == Some(OQV_TERMINAL))
                })
                .map(|h| Subject {
                    host: h.address,
                    port: None,
                    transport: None,
                })
                .collect();
            checks.push(Check {
                rule_id: rule.id.clone(),
                facts: Vec::new(),
                zone_pair: Some(ZonePair {
                    from: cell.from.clone(),
                    to: cell.to.clone(),
                }),
                egress_target: false,
                vantage_zone: Some(cell.from.clone()),
                observation_id: obs.scan.id.clone(),
                subjects,
            });
        }
    }
    let lacks = unprobed
        .into_iter()
        .map(|(from, tos)| {
            let pairs = tos
                .iter()
                .map(|t| format!("{from} → {t}"))
                .collect::<Vec<_>>()
                .join(", ");
            let tos = tos.join(", ");
            missing(
                MissingKind::ZonePair,
                rule,
                Some(pairs.clone()),
                format!("ゾーン {from} から {tos} へのスキャンがありません({pairs} 未確認)"),
                format!("scan from zone {from} towards {tos} ({pairs} not probed)"),
            )
        })
        .collect();
    (checks, lacks)
}

/// The verdict of one control, with its evidence.
pub(crate) fn control_result(
    c: &Control,
    active: &[&Rule],
    evidence: &[(Vec<Check>, Vec<Missing>)],
    findings: &[Finding],
) -> ControlResult {
    let rule_ids: Vec<String> = active
        .iter()
        .filter(|r| r.controls.contains(&c.id))
        .map(|r| r.id.clone())
        .collect();
    let verdict_rules: Vec<usize> = active
        .iter()
        .enumerate()
        .filter(|(_, r)| r.affects_verdict && r.controls.contains(&c.id))
        .map(|(i, _)| i)
        .collect();
    let counts_for_verdict = |f: &Finding| {
        active
            .iter()
            .any(|r| r.affects_verdict && r.id == f.rule_id)
    };
    let mine: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.controls.contains(&c.id))
        .collect();
    let failing: Vec<String> = mine
        .iter()
        .filter(|f| {
            counts_for_verdict(f) && f.certainty == Certainty::Fact && f.severity >= Severity::Low
        })
        .map(|f| f.key.clone())
        .collect();
    let mut result = ControlResult {
        id: c.id.clone(),
        edition: c.edition.clone(),
        title: c.title.clone(),
        source: c.source_with_tag(),
        status: ControlStatus::NotVerified,
        rule_ids,
        finding_count: u32::try_from(mine.len()).unwrap_or(u32::MAX),
        findings: Vec::new(),
        checked: Vec::new(),
        missing: Vec::new(),
    };
    if c.scan == ScanEvidence::None {
        result.status = ControlStatus::NotAssessableByScan;
        return result;
    }
    let mut lacks: Vec<Missing> = Vec::new();
    for f in mine
        .iter()
        .filter(|f| counts_for_verdict(f) && f.certainty == Certainty::Guess)
    {
        let target = finding_target(f);
        lacks.push(Missing {
            kind: MissingKind::Confirm,
            rule_id: Some(f.rule_id.clone()),
            subject: Some(f.key.clone()),
            text: Text::new(
                format!("推定の指摘を確認してください: {}({target})", f.title.ja),
                format!("confirm the inferred finding: {} ({target})", f.title.en),
            ),
        });
    }
    for &i in &verdict_rules {
        let (checks, m) = &evidence[i];
        result.checked.extend(checks.iter().cloned());
        for x in m {
            push_missing(&mut lacks, x);
        }
    }
    if c.scan == ScanEvidence::Partial {
        lacks.push(Missing {
            kind: MissingKind::Organisational,
            rule_id: None,
            subject: None,
            text: Text::new(
                "スキャンで確認できるのはこの管理策の一部です。残りは運用・書類で確認してください",
                "a scan shows only part of this control: confirm the rest on site (organisational)",
            ),
        });
    }
    if result.checked.is_empty() && lacks.is_empty() {
        let mut looked: Vec<&str> = verdict_rules
            .iter()
            .flat_map(|&i| {
                let r = active[i];
                r.requires
                    .iter()
                    .chain(r.requires_any.iter())
                    .map(String::as_str)
            })
            .filter(|p| !p.starts_with("ctx."))
            .collect();
        looked.sort_unstable();
        looked.dedup();
        let what = if looked.is_empty() {
            String::from("-")
        } else {
            looked.join(", ")
        };
        lacks.push(Missing {
            kind: MissingKind::NothingSeen,
            rule_id: None,
            subject: None,
            text: Text::new(
                format!(
                    "この管理策のルールが確認する対象がこのスキャンでは見つかりませんでした({what})"
                ),
                format!(
                    "nothing this control's rules look at was seen in this assessment ({what})"
                ),
            ),
        });
    }
    result.findings = failing;
    result.missing = lacks;
    result.status = if !result.findings.is_empty() {
        ControlStatus::Fail
    } else if result.missing.is_empty() {
        ControlStatus::Pass
    } else {
        ControlStatus::NotVerified
    };
    result
}

/// Adds a missing piece unless the same one (kind, subject, text) is there already; the
/// same need of two rules is one line.
fn push_missing(list: &mut Vec<Missing>, m: &Missing) {
    match list
        .iter_mut()
        .find(|x| x.kind == m.kind && x.subject == m.subject && x.text == m.text)
    {
        Some(x) if x.rule_id != m.rule_id => x.rule_id = None,
        Some(_) => {}
        None => list.push(m.clone()),
    }
}

/// "10.0.0.1:3389/tcp", or the bare address for a host finding.
fn finding_target(f: &Finding) -> String {
    Subject {
        host: f.host,
        port: f.port,
        transport: f.transport,
    }
    .to_string()
}

/// A few subjects as text: "a, b, c and 4 more".
fn subjects_text(list: &[&Subject], lang: Lang) -> String {
    const SHOWN: usize = 5;
    let head: Vec<String> = list.iter().take(SHOWN).map(|s| s.to_string()).collect();
    let mut out = head.join(", ");
    if list.len() > SHOWN {
        let more = list.len() - SHOWN;
        out.push_str(&match lang {
            Lang::Ja => format!(" ほか{more}件"),
            Lang::En => format!(" and {more} more"),
        });
    }
    out
}
