//! Verdicts: what each rule checked over an assessment and what it lacks, and the status
//! of each control with its evidence (the failing findings, the checks, what is missing).

use std::collections::BTreeMap;

use clinicscan_model::{
    CellState, Certainty, Check, ControlResult, ControlStatus, Coverage, EgressAttempt,
    EgressCheck, EgressKind, EgressPurpose, Finding, HostState, Lang, Missing, MissingKind,
    Observation, Severity, Subject, Text, ZonePair,
};

use crate::catalogue::{Control, ScanEvidence};
use crate::eval::{OQV_TERMINAL, ObsInfo, RuleRun, attempt_host};
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
    if ch.closed_network && !needs.contains(&SiteNeed::ClosedNetwork) {
        needs.push(SiteNeed::ClosedNetwork);
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
            (Some(s), SiteNeed::EgressTargets)
                if s.egress_targets.is_empty() && s.egress_names.is_empty() =>
            {
                (
                    "サイトファイルの [egress] に確認先(targets または names)を追加してください",
                    "add an egress target to the site file ([egress] targets or names)",
                )
            }
            (None, SiteNeed::ClosedNetwork) => (
                "サイトファイルがありません:閉域網への経路の確認([closed_network])が設定されていません",
                "no site file: the closed-network check ([closed_network]) is not turned on",
            ),
            (Some(s), SiteNeed::ClosedNetwork) if s.closed_network.is_none() => (
                "サイトファイルで閉域網への経路の確認を有効にしてください([closed_network] enabled = true)",
                "turn on the closed-network check in the site file ([closed_network] enabled = true)",
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
    if (ch.egress || ch.closed_network) && site_ok {
        let (c, m) = egress_evidence(rule, w);
        checks.extend(c);
        lacks.extend(m);
    }

    for (oi, subjects) in &run.checked {
        let info = &w.infos[*oi];
        checks.push(Check {
            rule_id: rule.id.clone(),
            facts: rule.checks.facts.clone(),
            zone_pair: None,
            egress_target: false,
            attempts: Vec::new(),
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

/// One egress attempt as evidence: "tcp 203.0.113.80:443 timeout", "dns
/// egress-check.example.net @203.0.113.53 resolved 203.0.113.80".
fn attempt_line(a: &EgressAttempt) -> String {
    let outcome = serde_json::to_value(a.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let resolved = if a.resolved.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = a.resolved.iter().map(ToString::to_string).collect();
        format!(" {}", list.join(","))
    };
    match a.kind {
        EgressKind::Tcp => format!("tcp {} {outcome}{resolved}", a.target),
        EgressKind::Dns => format!(
            "dns {}{} {outcome}{resolved}",
            a.target,
            a.address.map(|r| format!(" @{r}")).unwrap_or_default()
        ),
    }
}

/// Egress rules: a check per Observation that tried what the rule judges (each attempt and
/// its outcome listed), and a missing piece per target the site asks for that no
/// Observation from the rule's vantage tried.
fn egress_evidence(rule: &Rule, w: &World<'_>) -> (Vec<Check>, Vec<Missing>) {
    let Some(site) = w.site else {
        return (Vec::new(), Vec::new());
    };
    let ch = &rule.checks;
    let purpose = if ch.closed_network {
        EgressPurpose::ClosedNetwork
    } else {
        EgressPurpose::Internet
    };
    let judged = |info: &ObsInfo| {
        ch.vantage.is_empty()
            || info
                .vantage_kind
                .is_some_and(|k| ch.vantage.iter().any(|v| v.as_str() == k))
    };
    // What the site asks for from the kinds this rule judges from.
    let kinds: Vec<ZoneKind> = if ch.vantage.is_empty() {
        vec![ZoneKind::Oqv, ZoneKind::General]
    } else {
        ch.vantage.clone()
    };
    let mut wanted: Vec<EgressCheck> = Vec::new();
    for k in kinds {
        for c in site.egress_checks(Some(k)) {
            if c.purpose == purpose && !wanted.contains(&c) {
                wanted.push(c);
            }
        }
    }
    let mut checks = Vec::new();
    for (obs, info) in w.observations.iter().zip(w.infos) {
        if !judged(info) {
            continue;
        }
        let told: Vec<&EgressAttempt> = info
            .attempts
            .iter()
            .filter(|a| a.purpose == purpose && a.reached.is_some())
            .collect();
        if told.is_empty() {
            continue;
        }
        let mut subjects: Vec<Subject> = Vec::new();
        for a in &told {
            if let Some(host) = attempt_host(a) {
                let s = Subject {
                    host,
                    port: a.port,
                    transport: Some(match a.kind {
                        EgressKind::Tcp => clinicscan_model::Transport::Tcp,
                        EgressKind::Dns => clinicscan_model::Transport::Udp,
                    }),
                };
                if !subjects.contains(&s) {
                    subjects.push(s);
                }
            }
        }
        checks.push(Check {
            rule_id: rule.id.clone(),
            facts: Vec::new(),
            zone_pair: None,
            egress_target: true,
            attempts: told.iter().map(|a| attempt_line(a)).collect(),
            vantage_zone: info.vantage_zone.clone(),
            observation_id: obs.scan.id.clone(),
            subjects,
        });
    }
    let from_any = w.infos.iter().any(judged);
    let mut lacks = Vec::new();
    for c in &wanted {
        let target = c.target();
        let tries: Vec<&EgressAttempt> = w
            .infos
            .iter()
            .filter(|i| judged(i))
            .flat_map(|i| i.attempts.iter())
            .filter(|a| a.purpose == purpose && a.kind == c.kind && a.target == target)
            .collect();
        if tries.iter().any(|a| a.reached.is_some()) || !from_any {
            continue;
        }
        let (ja, en) = match (tries.first(), purpose) {
            (Some(a), _) => (
                format!("確認先 {target} を判定できませんでした({})", a.detail),
                format!("egress target {target} could not be told ({})", a.detail),
            ),
            (None, EgressPurpose::Internet) => (
                format!(
                    "確認先 {target} への接続をオン資ゾーンから試していません:このサイトファイルでオン資ゾーンから再度スキャンしてください"
                ),
                format!(
                    "egress target {target} was not tried from the オン資 zone: scan from there again with this site file"
                ),
            ),
            (None, EgressPurpose::ClosedNetwork) => (
                format!(
                    "閉域網の確認 {target} を試していません:このサイトファイルで一般ゾーンから再度スキャンしてください"
                ),
                format!(
                    "closed-network check {target} was not tried: scan from the general zone again with this site file"
                ),
            ),
        };
        lacks.push(missing(
            MissingKind::EgressTarget,
            rule,
            Some(target),
            ja,
            en,
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
                attempts: Vec::new(),
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
