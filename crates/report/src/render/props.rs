//! Property tests: whatever text comes off the network, the escapers hold.

use std::collections::BTreeMap;

use clinicscan_model::{Assessment, Evidence, HostName, Lang, NameSource, Observation, Software};
use proptest::prelude::*;

use super::{Format, ReportInput, render};

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/report")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The clinic fixture with `s` in every place network text can reach a report.
fn poisoned(s: &str) -> (Assessment, Vec<Observation>) {
    let mut a: Assessment = fixture("assessment.json");
    let mut o: Observation = fixture("observation.json");
    let f = &mut a.findings[0];
    f.title.en = s.to_string();
    f.description.en = s.to_string();
    f.evidence.push(Evidence {
        key: s.to_string(),
        value: s.to_string(),
    });
    f.zone = Some(s.to_string());
    let h = &mut o.hosts[0];
    h.names.push(HostName {
        name: s.to_string(),
        source: NameSource::Ptr,
    });
    h.vendor = Some(s.to_string());
    h.services[0].software = Some(Software {
        vendor: None,
        product: s.to_string(),
        version: Some(s.to_string()),
        evidence: s.to_string(),
    });
    (a, vec![o])
}

fn count(haystack: &str, c: char) -> usize {
    haystack.chars().filter(|&x| x == c).count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn html_escape_leaves_no_markup(s in any::<String>()) {
        let e = super::html::esc(&s);
        prop_assert!(!e.contains(['<', '>', '"', '\'']));
        let back = e
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        let expected: String = s
            .chars()
            .map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{fffd}' } else { c })
            .collect();
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn markdown_escape_leaves_no_active_syntax(s in any::<String>()) {
        let e = super::markdown::md(&s);
        prop_assert!(!e.contains(['<', '>', '\n', '\r']));
        let chars: Vec<char> = e.chars().collect();
        let body = e.trim_start();
        let starts_block = body.starts_with(['#', '-', '+', '='])
            || body.trim_start_matches(|c: char| c.is_ascii_digit()).len() < body.len()
                && body.trim_start_matches(|c: char| c.is_ascii_digit()).starts_with(['.', ')']);
        prop_assert!(!starts_block, "text starts a block: {:?}", e);
        for (i, c) in chars.iter().enumerate() {
            if "[]`*_|~".contains(*c) {
                // Preceded by an odd number of backslashes: escaped.
                let slashes = chars[..i].iter().rev().take_while(|&&b| b == '\\').count();
                prop_assert!(slashes % 2 == 1, "unescaped {:?} in {:?}", c, e);
            }
        }
    }

    #[test]
    fn csv_cells_are_never_formulas(s in any::<String>()) {
        let c = super::csv_out::cell(&s);
        prop_assert!(!c.starts_with(['=', '+', '-', '@', '\t', '\r']));
        let quoted = format!("'{}", s);
        prop_assert!(c == s || c == quoted);
    }

    #[test]
    fn network_text_cannot_add_markup_or_escapes(s in "[<>&\"'\\[\\]()`|*_\\-=+@#!\u{1b}\u{7}\r\n a-zあ-ん]{1,40}") {
        let (a, o) = poisoned(&s);
        let (ba, bo) = poisoned("x");
        let input = |a, o| ReportInput {
            assessment: a,
            observations: o,
            diff: None,
            seen: None::<&BTreeMap<_, _>>,
            lang: Lang::En,
        };
        let html = render(Format::Html, &input(&a, &o)).unwrap();
        let base = render(Format::Html, &input(&ba, &bo)).unwrap();
        // Every '<' and '>' in the page is the page's own markup.
        prop_assert_eq!(count(&html, '<'), count(&base, '<'));
        prop_assert_eq!(count(&html, '>'), count(&base, '>'));

        for color in [false, true] {
            let term = render(Format::Terminal { color }, &input(&a, &o)).unwrap();
            let base = render(Format::Terminal { color }, &input(&ba, &bo)).unwrap();
            prop_assert_eq!(count(&term, '\u{1b}'), count(&base, '\u{1b}'));
            let bell = term.contains('\u{7}');
            prop_assert!(!bell);
        }

        let csv = render(Format::Csv, &input(&a, &o)).unwrap();
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(rows.len(), a.findings.len());
        let title = rows.iter().find(|r| &r[12] == a.findings[0].key.as_str()).map(|r| r[2].to_string());
        prop_assert_eq!(title, Some(super::csv_out::cell(&s)));
    }
}
