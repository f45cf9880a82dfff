//! Snapshot tests of every renderer in both languages on the fixtures in `fixtures/report/`,
//! plus the properties that must hold whatever the snapshot says (escaping, JSON schema,
//! CSV shape). Regenerate the expected files with `UPDATE_SNAPSHOTS=1`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clinicscan_model::{Assessment, Lang, Observation};
use clinicscan_report::{Format, HostSeen, ReportInput, ScanDiff, ScanSide, render};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/report")
}

fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

struct Case {
    name: &'static str,
    assessment: Assessment,
    observations: Vec<Observation>,
    diff: Option<ScanDiff>,
    seen: Option<BTreeMap<IpAddr, HostSeen>>,
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn clinic() -> Case {
    let prev_a: Assessment = load("assessment-prev.json");
    let prev_o: Vec<Observation> = vec![load("observation-prev.json")];
    let a: Assessment = load("assessment.json");
    let o: Vec<Observation> = vec![load("observation.json")];
    let diff = ScanDiff::between(
        ScanSide {
            scan_id: Some(1),
            assessment: &prev_a,
            observations: &prev_o,
        },
        ScanSide {
            scan_id: Some(2),
            assessment: &a,
            observations: &o,
        },
    );
    let mut seen = BTreeMap::new();
    for h in &o[0].hosts {
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
        assessment: a,
        observations: o,
        diff: Some(diff),
        seen: Some(seen),
    }
}

fn hostile() -> Case {
    Case {
        name: "hostile",
        assessment: load("assessment-hostile.json"),
        observations: vec![load("observation-hostile.json")],
        diff: None,
        seen: None,
    }
}

fn empty() -> Case {
    Case {
        name: "empty",
        assessment: load("assessment-empty.json"),
        observations: vec![load("observation-empty.json")],
        diff: None,
        seen: None,
    }
}

fn input<'a>(c: &'a Case, lang: Lang) -> ReportInput<'a> {
    ReportInput {
        assessment: &c.assessment,
        observations: &c.observations,
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
    for case in [clinic(), hostile(), empty()] {
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
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/schemas/assessment.v1.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for case in [clinic(), hostile(), empty()] {
        let out = render(Format::Json, &input(&case, Lang::En)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", case.name);
        // And it round-trips to the same Assessment.
        let back: Assessment = serde_json::from_value(value).unwrap();
        assert_eq!(back, case.assessment);
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
    assert_eq!(rows.len(), c.assessment.findings.len());
    assert_eq!(&rows[0][0], "Critical");
    assert_eq!(headers.len(), rows[0].len());
    assert_eq!(&headers[headers.len() - 1], "Change");

    let inv = render(Format::Inventory, &input(&c, Lang::Ja)).unwrap();
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
    for (o, a) in [
        ("observation-prev.json", "assessment-prev.json"),
        ("observation-hostile.json", "assessment-hostile.json"),
        ("observation.json", "assessment.json"),
        ("observation-empty.json", "assessment-empty.json"),
    ] {
        let obs: Vec<Observation> = vec![load(o)];
        let a: Assessment = load(a);
        clinicscan_store::Store::record(&mut h, &obs, &a).unwrap();
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
            &format!("history.{l}.list.txt"),
            &clinicscan_report::render_history_list(&list, lang),
        );
    }
    let empty = clinicscan_report::render_history_list(&[], Lang::En);
    assert!(empty.ends_with("No scan recorded.\n"), "{empty}");
}
