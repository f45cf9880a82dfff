//! Snapshot tests of every renderer in both languages on the fixtures in `fixtures/report/`,
//! plus the properties that must hold whatever the snapshot says (escaping, JSON schema,
//! CSV shape). Regenerate the expected files with `UPDATE_SNAPSHOTS=1`.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, Lang};
use clinicscan_report::{Format, HostSeen, ReportInput, ScanDiff, render};
use common::{Fixture, clinic_not_rechecked, clinic_week, fixtures, load};

struct Case {
    name: &'static str,
    scan: Fixture,
    diff: Option<ScanDiff>,
    seen: Option<BTreeMap<IpAddr, HostSeen>>,
}

/// A scan rendered on its own: no previous scan, no history.
fn alone(name: &'static str, scan: Fixture) -> Case {
    Case {
        name,
        scan,
        diff: None,
        seen: None,
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn clinic() -> Case {
    let (_, now, diff) = clinic_week();
    let mut seen = BTreeMap::new();
    for h in &now.observations[0].hosts {
        let first = if h.address.to_string() == "10.77.10.50" {
            t("2026-11-20T01:00:00Z")
        } else {
            t("2026-10-01T01:00:00Z")
        };
        seen.insert(
            h.address,
            HostSeen {
                first_seen: first,
                last_seen: t("2026-11-20T01:00:00Z"),
            },
        );
    }
    Case {
        name: "clinic",
        scan: now,
        diff: Some(diff),
        seen: Some(seen),
    }
}

/// The clinic's scans the other way round: the printer host and its services went, the
/// Telnet finding is new again.
fn clinic_backwards() -> Case {
    let (prev, now, _) = clinic_week();
    let diff = ScanDiff::between(now.side(Some(2)), prev.side(Some(3)));
    assert_eq!(diff.hosts_vanished.len(), 1);
    Case {
        name: "clinic-backwards",
        scan: prev,
        diff: Some(diff),
        seen: None,
    }
}

/// The clinic's week with findings this scan could not check again (one newly, one since
/// the previous scan).
fn clinic_not_rechecked_case() -> Case {
    let (_, now, diff) = clinic_not_rechecked();
    Case {
        name: "clinic-not-rechecked",
        scan: now,
        diff: Some(diff),
        seen: None,
    }
}

/// The clinic with its EMR server on IPv6 (bracketed in targets, not in host columns).
fn clinic_ipv6() -> Case {
    let v6 = |name: &str| -> String {
        std::fs::read_to_string(fixtures().join(name))
            .unwrap()
            .replace("10.77.20.5", "2001:db8:77:20::5")
    };
    let scan = Fixture {
        assessment: serde_json::from_str(&v6("assessment.json")).unwrap(),
        observations: vec![serde_json::from_str(&v6("observation.json")).unwrap()],
    };
    alone("clinic-ipv6", scan)
}

/// A v2 Assessment made by `clinicscan assess` (fixtures/report/make_verdicts.py): the lab
/// seen from four vantages, with passes and their evidence, not-verified controls and what
/// they lack, the zone × zone matrix, a rule error and the data dates.
fn verdicts() -> Case {
    alone(
        "verdicts",
        Fixture {
            assessment: load("assessment-verdicts.json"),
            observations: load("observation-verdicts.json"),
        },
    )
}

fn hostile() -> Case {
    alone("hostile", Fixture::load("-hostile"))
}

fn empty() -> Case {
    alone("empty", Fixture::load("-empty"))
}

/// The empty scan with one notice of every kind clinicscan emits, a subject on some, and a
/// kind this version does not know (from a newer clinicscan or another tool).
fn notices() -> Case {
    let notices = serde_json::json!([
        {"kind": "dns-unavailable", "message": "no DNS resolver: no nameservers", "subject": null},
        {"kind": "no-privilege", "message": "ICMP echo and ARP need raw sockets (root or CAP_NET_RAW): Operation not permitted; discovery uses TCP pings only", "subject": null},
        {"kind": "syn-fallback", "message": "SYN scan needs raw sockets (Operation not permitted); using TCP connect instead", "subject": null},
        {"kind": "arp-fallback", "message": "ARP failed (Network is down); discovery uses ICMP and TCP pings", "subject": null},
        {"kind": "unresolved-name", "message": "emr.clinic.example did not resolve (no record); the scan goes on without it", "subject": "emr.clinic.example"},
        {"kind": "name-excluded", "message": "nas.clinic.example resolves to 10.77.20.9, which is excluded; nothing is sent to it", "subject": "nas.clinic.example"},
        {"kind": "do-not-touch", "message": "3 target addresses are on the do-not-touch list; nothing was sent to them", "subject": null},
        {"kind": "cancelled", "message": "scan stopped after 12 of 254 addresses; results are partial", "subject": null},
        {"kind": "internal-error", "message": "a host task failed", "subject": null},
        {"kind": "local-error", "message": "some connections failed for a local reason (too many open files); those ports are reported filtered", "subject": null},
        {"kind": "replies-dropped", "message": "4 port(s) got no answer while this machine dropped incoming replies (receive buffer full); they are reported filtered but may be open or closed: scan this host again with a lower --max-rate", "subject": "10.77.10.21"},
        {"kind": "oui-missing", "message": "/usr/share/ieee-data/oui.csv is missing (Debian package ieee-data); MAC vendors are not named", "subject": null},
        {"kind": "imported", "message": "imported from nmap XML: nmap -sV -oX scan.xml 10.77.10.0/24", "subject": null},
        {"kind": "lab-reference", "message": "made by tests/lab/verify", "subject": "general"}
    ]);
    let mut scan = Fixture::load("-empty");
    scan.observations[0].scan.notices = serde_json::from_value(notices).unwrap();
    alone("notices", scan)
}

fn input<'a>(c: &'a Case, lang: Lang) -> ReportInput<'a> {
    ReportInput {
        assessment: &c.scan.assessment,
        observations: &c.scan.observations,
        diff: c.diff.as_ref(),
        seen: c.seen.as_ref(),
        lang,
    }
}

const FORMATS: &[(Format, &str)] = &[
    (Format::Terminal { color: false }, "txt"),
    (Format::Terminal { color: true }, "ansi.txt"),
    (Format::Html, "html"),
    (Format::Csv, "csv"),
    (Format::Markdown, "md"),
    (Format::Inventory, "inventory.csv"),
];

fn lang_name(l: Lang) -> &'static str {
    match l {
        Lang::Ja => "ja",
        Lang::En => "en",
    }
}

/// Compares with (or, under UPDATE_SNAPSHOTS=1, writes) fixtures/report/expected/NAME.
fn snapshot(name: &str, actual: &str) {
    let path = fixtures().join("expected").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_SNAPSHOTS=1 cargo test -p clinicscan-report",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1);
        panic!(
            "{name} differs from the snapshot (first differing line {line:?}); \
             review and run UPDATE_SNAPSHOTS=1 cargo test -p clinicscan-report"
        );
    }
}

#[test]
fn snapshots_of_every_renderer_in_both_languages() {
    for case in [
        clinic(),
        clinic_backwards(),
        clinic_not_rechecked_case(),
        clinic_ipv6(),
        hostile(),
        empty(),
        notices(),
        verdicts(),
    ] {
        for lang in [Lang::Ja, Lang::En] {
            for (format, ext) in FORMATS {
                let out = render(*format, &input(&case, lang)).unwrap();
                snapshot(&format!("{}.{}.{}", case.name, lang_name(lang), ext), &out);
            }
        }
        for lang in [Lang::Ja, Lang::En] {
            let mail = clinicscan_report::compose(&input(&case, lang));
            let text = format!(
                "Subject: {}\nAttachment: {} ({} bytes)\n\n{}\n----- HTML -----\n{}\n",
                mail.subject,
                mail.attachment_name,
                mail.attachment.len(),
                mail.text,
                mail.html
            );
            snapshot(
                &format!("{}.{}.email.txt", case.name, lang_name(lang)),
                &text,
            );
        }
        let json = render(Format::Json, &input(&case, Lang::Ja)).unwrap();
        snapshot(&format!("{}.json", case.name), &json);
    }
}

#[test]
fn json_output_validates_against_the_checked_in_schema() {
    let schema_text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/schemas/assessment.v2.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for case in [
        clinic(),
        clinic_not_rechecked_case(),
        hostile(),
        empty(),
        verdicts(),
    ] {
        let out = render(Format::Json, &input(&case, Lang::En)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", case.name);
        // And it round-trips to the same Assessment.
        let back: Assessment = serde_json::from_value(value).unwrap();
        assert_eq!(back, case.scan.assessment);
    }
    // A broken document is rejected (the validator can fail).
    let mut bad: serde_json::Value =
        serde_json::from_str(&render(Format::Json, &input(&clinic(), Lang::En)).unwrap()).unwrap();
    bad["findings"][0]["severity"] = serde_json::json!("catastrophic");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn diff_of_the_clinic_fixtures() {
    let c = clinic();
    let d = c.diff.as_ref().unwrap();
    let keys =
        |v: &[clinicscan_model::Finding]| v.iter().map(|f| f.key.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(&d.new_findings),
        vec![
            "snmp.default-community|10.77.10.50|udp|161",
            "http.admin-ui-plaintext|10.77.10.50|tcp|80"
        ]
    );
    assert_eq!(
        keys(&d.resolved_findings),
        vec!["telnet.enabled|10.77.20.5|tcp|23"]
    );
    assert_eq!(d.unchanged_findings.len(), 7);
    assert_eq!(
        d.hosts_appeared,
        vec!["10.77.10.50".parse::<IpAddr>().unwrap()]
    );
    assert!(d.hosts_vanished.is_empty());
    let svc = |v: &[clinicscan_report::ServiceRef]| {
        v.iter()
            .map(|s| format!("{}:{}", s.host, s.port))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        svc(&d.services_appeared),
        vec!["10.77.10.50:80", "10.77.10.50:161", "10.77.10.50:9100"]
    );
    assert_eq!(svc(&d.services_vanished), vec!["10.77.20.5:23"]);
    assert!(d.has_changes());
    assert_eq!((d.from.scan_id, d.to.scan_id), (Some(1), Some(2)));
}

/// A finding this scan could not check again is never counted or listed as resolved, in
/// any format: it is listed under "not re-checked" with its reason, and a peer's words in
/// the reason stay inert text.
#[test]
fn not_rechecked_is_never_resolved() {
    let c = clinic_not_rechecked_case();
    let d = c.diff.as_ref().unwrap();
    let keys =
        |v: &[clinicscan_model::Finding]| v.iter().map(|f| f.key.clone()).collect::<Vec<_>>();
    // Only the EMR's Telnet is resolved, as in the plain week; the two carried findings are
    // neither resolved nor unchanged nor new.
    assert_eq!(
        keys(&d.resolved_findings),
        ["telnet.enabled|10.77.20.5|tcp|23"]
    );
    let carried: Vec<&str> = d
        .not_rechecked_findings
        .iter()
        .map(|c| c.finding.key.as_str())
        .collect();
    assert_eq!(
        carried,
        [
            "smb.smb1-enabled|10.77.10.21|tcp|445",
            "ssh.weak-algorithms|10.77.20.5|tcp|22"
        ]
    );
    assert_eq!(
        d.not_rechecked_before,
        ["ssh.weak-algorithms|10.77.20.5|tcp|22"]
    );
    for f in d.new_findings.iter().chain(&d.unchanged_findings) {
        assert!(
            !carried.contains(&f.key.as_str()),
            "{} listed as present",
            f.key
        );
    }
    assert_eq!(d.newly_not_rechecked().count(), 1);
    assert!(d.has_changes());

    for lang in [Lang::Ja, Lang::En] {
        let (label, resolved, reason) = match lang {
            Lang::Ja => ("再確認できず", "解消", "サーバーがスキャナーを拒否しました"),
            Lang::En => (
                "Not re-checked",
                "Resolved",
                "the server refused the scanner",
            ),
        };
        let i = input(&c, lang);
        let smb_title = c.diff.as_ref().unwrap().not_rechecked_findings[0]
            .finding
            .title
            .get(lang)
            .to_string();
        let mail = clinicscan_report::compose(&i);
        assert!(
            mail.subject.contains(&format!("{label} 2")),
            "{}",
            mail.subject
        );
        for (what, text) in [
            (
                "terminal",
                render(Format::Terminal { color: false }, &i).unwrap(),
            ),
            ("html", render(Format::Html, &i).unwrap()),
            ("markdown", render(Format::Markdown, &i).unwrap()),
            ("csv", render(Format::Csv, &i).unwrap()),
            ("diff", clinicscan_report::render_diff(d, lang)),
            ("email", mail.text.clone()),
            ("email html", mail.html.clone()),
        ] {
            assert!(text.contains(label), "{what} ({lang:?}) has no {label:?}");
            assert!(text.contains(reason), "{what} ({lang:?}) does not say why");
            // The title is on a "not re-checked" line, never on a "resolved" one.
            let mut on_carried_line = false;
            for line in text.lines().filter(|l| l.contains(&smb_title)) {
                assert!(
                    !line.contains(resolved) || line.contains(label),
                    "{what} ({lang:?}) lists it as resolved: {line}"
                );
                on_carried_line |= line.contains(reason) || line.contains(label);
            }
            if what != "diff" {
                assert!(
                    on_carried_line,
                    "{what} ({lang:?}): {smb_title} not on a carried line"
                );
            }
            // CSV is data for a spreadsheet: it keeps the peer's bytes, quoted.
            if what != "csv" {
                assert!(
                    !text.contains('\u{1b}'),
                    "{what} ({lang:?}) passes an escape through"
                );
            }
            if what.contains("html") {
                assert!(
                    !text.contains("<b>bold"),
                    "{what} ({lang:?}) passes markup through"
                );
            }
        }
    }
}

#[test]
fn hostile_strings_are_escaped_everywhere() {
    let c = hostile();
    for lang in [Lang::Ja, Lang::En] {
        let i = input(&c, lang);
        let html = render(Format::Html, &i).unwrap();
        for bad in [
            "<script",
            "<img",
            "<iframe",
            "<h1>pwned",
            "<b>bold",
            "<b>Welcome",
            "\u{1b}",
        ] {
            assert!(!html.contains(bad), "HTML contains {bad:?}");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Evil &amp; Co &lt;b&gt;bold&lt;/b&gt;"));
        assert!(html.contains("default-src 'none'"));

        let md = render(Format::Markdown, &i).unwrap();
        // Code spans show their content literally; check only the text outside them.
        let outside: String = md.split('`').step_by(2).collect();
        // No bracket outside code spans is unescaped, so no link or image can form.
        let chars: Vec<char> = outside.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if *c == '[' || *c == ']' {
                assert!(i > 0 && chars[i - 1] == '\\', "unescaped {c:?} in Markdown");
            }
        }
        for bad in ["<script", "<iframe", "\u{1b}"] {
            assert!(!outside.contains(bad), "Markdown contains {bad:?}");
            assert!(!md.contains('\u{1b}'));
        }

        for color in [false, true] {
            let term = render(Format::Terminal { color }, &i).unwrap();
            assert!(
                !term.contains("\u{1b}[31mRED"),
                "terminal passes ESC through"
            );
            assert!(!term.contains("\u{1b}[2J"), "terminal passes ESC through");
            assert!(!term.contains('\u{7}'));
            if !color {
                assert!(!term.contains('\u{1b}'));
            }
        }

        for format in [Format::Csv, Format::Inventory] {
            let csv_text = render(format, &i).unwrap();
            let mut r = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
            let mut rows = 0;
            for rec in r.records() {
                let rec = rec.unwrap();
                rows += 1;
                for field in rec.iter() {
                    assert!(
                        !field.starts_with(['=', '+', '-', '@']),
                        "{format:?}: formula-like cell {field:?}"
                    );
                }
            }
            assert!(rows >= 1);
        }
    }
}

#[test]
fn csv_is_rfc4180_with_crlf_and_bom_where_promised() {
    let c = clinic();
    let ja = render(Format::Csv, &input(&c, Lang::Ja)).unwrap();
    let en = render(Format::Csv, &input(&c, Lang::En)).unwrap();
    assert!(ja.starts_with('\u{feff}'));
    assert!(!en.starts_with('\u{feff}'));
    assert!(en.starts_with("Severity,Rule,Title,Address,Port,"));
    assert!(
        !en.replace("\r\n", "").contains('\n'),
        "bare LF outside quotes"
    );
    let mut r = csv::Reader::from_reader(en.as_bytes());
    let headers = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), c.scan.assessment.findings.len());
    assert_eq!(&rows[0][0], "Critical");
    assert_eq!(headers.len(), rows[0].len());
    assert_eq!(&headers[headers.len() - 1], "Change");

    let inv = render(Format::Inventory, &input(&c, Lang::Ja)).unwrap();
    // With the site's zones, which win over the zone the findings name.
    let zones: BTreeMap<IpAddr, String> = [
        ("10.77.10.50", "printers"),
        ("10.77.20.5", "clinical-servers"),
    ]
    .into_iter()
    .map(|(a, z)| (a.parse().unwrap(), z.to_string()))
    .collect();
    for lang in [Lang::Ja, Lang::En] {
        snapshot(
            &format!("clinic.{}.inventory-zones.csv", lang_name(lang)),
            &clinicscan_report::render_inventory(&input(&c, lang), &zones).unwrap(),
        );
    }
    assert!(inv.starts_with("\u{feff}IPアドレス,MACアドレス,"));
    assert!(inv.ends_with("\r\n"));
    let mut r = csv::Reader::from_reader(inv.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 7, "every host up");
    let printer = rows.iter().find(|r| &r[0] == "10.77.10.50").unwrap();
    assert_eq!(&printer[1], "64:eb:8c:01:02:03");
    assert_eq!(&printer[2], "Seiko Epson Corporation");
    assert_eq!(
        &printer[5],
        "80/tcp http; 9100/tcp jetdirect?; 161/udp snmp"
    );
    assert_eq!(&printer[7], "2026-11-20 10:00 JST");
    let emr = rows.iter().find(|r| &r[0] == "10.77.20.5").unwrap();
    assert_eq!(&emr[6], "22/tcp OpenSSH 9.2p1; 443/tcp nginx 1.22.1");
    assert_eq!(&emr[7], "2026-10-01 10:00 JST");
    assert_eq!(&emr[4], "clinical");
}

#[test]
fn snapshots_of_the_history_views() {
    let c = clinic();
    let d = c.diff.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = clinicscan_store::SqliteStore::open(dir.path().join("h.sqlite")).unwrap();
    for suffix in ["-prev", "-hostile", "", "-empty"] {
        let f = Fixture::load(suffix);
        clinicscan_store::Store::record(&mut h, &f.observations, &f.assessment).unwrap();
    }
    let mut list = clinicscan_store::Store::list(&mut h, None).unwrap();
    list.reverse();
    for lang in [Lang::Ja, Lang::En] {
        let l = lang_name(lang);
        snapshot(
            &format!("clinic.{l}.diff.txt"),
            &clinicscan_report::render_diff(d, lang),
        );
        snapshot(
            &format!("clinic-not-rechecked.{l}.diff.txt"),
            &clinicscan_report::render_diff(&clinic_not_rechecked().2, lang),
        );
        snapshot(
            &format!("clinic-backwards.{l}.diff.txt"),
            &clinicscan_report::render_diff(clinic_backwards().diff.as_ref().unwrap(), lang),
        );
        snapshot(
            &format!("history.{l}.list.txt"),
            &clinicscan_report::render_history_list(&list, lang),
        );
    }
    let empty = clinicscan_report::render_history_list(&[], Lang::En);
    assert!(empty.ends_with("No scan recorded.\n"), "{empty}");
}

/// The pre-check text from the report data `clinicscan precheck -f json` wrote: the same
/// snapshots tests/cli.rs checks the binary against.
#[test]
fn precheck_snapshots_in_both_languages() {
    let failing: clinicscan_model::PrecheckReport = load("expected/precheck.oqv-terminal.json");
    let missing: clinicscan_model::PrecheckReport = load("expected/precheck.no-answer.json");
    let mut isolated = failing.clone();
    isolated.host = "10.77.30.20".parse().unwrap();
    isolated.answered_by = Some("22/tcp closed".into());
    for r in &mut isolated.results {
        r.outcome = clinicscan_model::Outcome::Pass;
        for p in &mut r.ports {
            p.state = Some(clinicscan_model::PortState::Closed);
        }
    }
    let own: clinicscan_model::PrecheckReport = serde_json::from_value(serde_json::json!({
        "profile": "own",
        "profile_title": {"ja": "独自の確認", "en": "Own check"},
        "host": "10.77.20.21",
        "host_found": true,
        "host_answered": true,
        "answered_by": "3389/tcp open",
        "ports_spec": "clinic",
        "vantage_zone": "clinical",
        "results": [
            {"id": "up", "title": {"ja": "稼働している", "en": "Is up"}, "controls": ["CL-R7-2-1"],
             "outcome": {"status": "pass"}, "remediation": {"ja": "起動する", "en": "Start it"}},
            {"id": "no-services", "title": {"ja": "サービスがない", "en": "No services"},
             "controls": ["GL6-SO-8.1"],
             "outcome": {"status": "fail"}, "remediation": {"ja": "止める", "en": "Stop them"}},
            {"id": "broken", "title": {"ja": "評価できない", "en": "Cannot be evaluated"},
             "controls": ["GL6-SO-8.1"],
             "outcome": {"status": "error", "detail": "found no matching overload for 'startsWith' applied to 'null_type.(string)'"},
             "remediation": {"ja": "直す", "en": "Fix it"}}
        ]
    }))
    .unwrap();
    assert!(isolated.passed() && !failing.passed() && !missing.passed() && !own.passed());
    for lang in [Lang::Ja, Lang::En] {
        let l = lang_name(lang);
        for (name, report) in [
            ("oqv-terminal", &failing),
            ("no-answer", &missing),
            ("isolated", &isolated),
            ("own", &own),
        ] {
            snapshot(
                &format!("precheck.{name}.{l}.txt"),
                &clinicscan_report::render_precheck(report, lang),
            );
        }
    }
}

/// A site audit names every vantage zone with its state, in every format and both
/// languages: the zones scanned, the one too old, the one never scanned that the site
/// expects.
#[test]
fn a_site_audit_names_its_vantage_zones_everywhere() {
    use clinicscan_model::{VantageState, VantageStatus};
    let mut c = verdicts();
    let zone = |name: &str, kind: &str, state, id: Option<&str>, age| VantageStatus {
        zone: name.into(),
        kind: kind.into(),
        state,
        expected: true,
        observation_id: id.map(str::to_string),
        started: id.map(|_| t("2026-12-01T01:00:00Z")),
        age_days: age,
        max_age_days: Some(30),
    };
    c.scan.assessment.vantages = vec![
        zone(
            "general",
            "general",
            VantageState::Current,
            Some("scan-general-1"),
            Some(2),
        ),
        zone(
            "guest",
            "guest",
            VantageState::Stale,
            Some("scan-guest-0"),
            Some(45),
        ),
        zone(
            "outside",
            "internet",
            VantageState::NeverScanned,
            None,
            None,
        ),
    ];
    for lang in [Lang::Ja, Lang::En] {
        let never = match lang {
            Lang::Ja => "未スキャン",
            Lang::En => "never scanned",
        };
        let stale = match lang {
            Lang::Ja => "古すぎるため除外",
            Lang::En => "too old, left out",
        };
        for (format, ext) in [
            (Format::Terminal { color: false }, "txt"),
            (Format::Html, "html"),
            (Format::Markdown, "md"),
        ] {
            let out = render(format, &input(&c, lang)).expect("renders");
            for needle in ["scan-general-1", "scan-guest-0", "outside", never, stale] {
                assert!(out.contains(needle), "{ext} {lang:?}: {needle} missing");
            }
        }
        let json = render(Format::Json, &input(&c, lang)).expect("renders");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["vantages"][2]["state"], "never-scanned");
        assert_eq!(v["vantages"][1]["state"], "stale");
    }
}
