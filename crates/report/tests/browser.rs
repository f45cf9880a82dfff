//! The HTML report in a real browser: headless Chromium loads it from a file, must log no
//! console message (no CSP violation, no error), and the DOM it builds must hold the
//! report's sections — and, for the hostile fixture, no element the network tried to inject.
//!
//! Needs /usr/bin/chromium (scripts/install-deps). Set CLINICSCAN_SKIP_BROWSER=1 to skip on
//! a machine without it; under CI the variable is refused, so a browser test never passes by
//! skipping there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use clinicscan_model::Lang;
use clinicscan_report::{Format, ReportInput, render};
use common::{Fixture, clinic_week, load};

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The browser to test with, or `None` (said on stderr) when the user asked to skip the
/// browser tests; under CI asking to skip fails the test.
fn browser_or_skip() -> Option<PathBuf> {
    if std::env::var_os("CLINICSCAN_SKIP_BROWSER").is_some() {
        assert!(
            !clinicscan_testlab::under_ci(),
            "CLINICSCAN_SKIP_BROWSER is set under CI: the browser tests must run there"
        );
        eprintln!("skipped: CLINICSCAN_SKIP_BROWSER is set");
        return None;
    }
    Some(chromium().expect("chromium not installed: run scripts/install-deps"))
}

/// Headless Chromium with its own profile and nothing that reaches out of the machine.
fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Loads `page` in headless Chromium; returns (dumped DOM, console lines).
fn load_in_browser(browser: &Path, page: &Path, profile: &Path) -> (String, Vec<String>) {
    let out = profile.with_extension("out");
    let err = profile.with_extension("err");
    let mut child = headless(browser, profile)
        .args(["--enable-logging=stderr", "--v=0"])
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium exited with {status}");
    let dom = std::fs::read_to_string(&out).unwrap();
    let console = std::fs::read_to_string(&err)
        .unwrap()
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(String::from)
        .collect();
    (dom, console)
}

#[test]
fn html_report_loads_in_chromium_without_console_messages() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    let (_, now, diff) = clinic_week();
    let clinic = render(
        Format::Html,
        &ReportInput {
            assessment: &now.assessment,
            observations: &now.observations,
            diff: Some(&diff),
            seen: None,
            lang: Lang::Ja,
        },
    )
    .unwrap();
    let page = dir.path().join("clinic.html");
    std::fs::write(&page, &clinic).unwrap();
    let (dom, console) = load_in_browser(&browser, &page, &dir.path().join("profile-1"));
    assert!(console.is_empty(), "console messages: {console:#?}");
    for needle in [
        "<section id=\"summary\">",
        "<section id=\"controls\">",
        "<section id=\"hosts\">",
        "id=\"changes\"",
        "<svg",
        "さくら内科クリニック",
    ] {
        assert!(dom.contains(needle), "DOM lacks {needle}");
    }
    assert_eq!(dom.matches("class=\"finding ").count(), 9);
    assert_eq!(dom.matches("<article class=\"host\"").count(), 7);

    let hostile = Fixture::load("-hostile");
    let hostile = render(
        Format::Html,
        &ReportInput {
            assessment: &hostile.assessment,
            observations: &hostile.observations,
            diff: None,
            seen: None,
            lang: Lang::En,
        },
    )
    .unwrap();
    let page = dir.path().join("hostile.html");
    std::fs::write(&page, &hostile).unwrap();
    let (dom, console) = load_in_browser(&browser, &page, &dir.path().join("profile-2"));
    assert!(console.is_empty(), "console messages: {console:#?}");
    for bad in ["<script", "<img", "<iframe", "<h1>pwned", "<b>bold"] {
        assert!(
            !dom.contains(bad),
            "the browser built an injected element: {bad}"
        );
    }
    assert!(dom.contains("Title: &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(dom.matches("class=\"finding ").count(), 2);
}

/// Counts the pixels of one colour in a PNG (8-bit RGB or RGBA, as Chromium writes
/// screenshots), with Python's standard library: no image crate for one test.
fn count_colour(png: &Path, rgb: (u8, u8, u8)) -> u64 {
    const SCRIPT: &str = r#"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w, h, kind = 8, b"", 0, 0, 0
while pos < len(data):
    n, t = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if t == b"IHDR":
        w, h, depth, kind = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and kind in (2, 6), (depth, kind)
    elif t == b"IDAT":
        idat += body
    pos += 12 + n
bpp = 3 if kind == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, out, i = bytearray(stride), 0, 0
want = tuple(int(x) for x in sys.argv[2:5])
for _ in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        if tuple(line[x:x + 3]) == want:
            out += 1
    prev = line
print(out)
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(png)
        .args([rgb.0, rgb.1, rgb.2].map(|c| c.to_string()))
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .expect("a count")
}

/// The verdicts of a v2 Assessment in both languages: a pass shows what was checked, a
/// not-verified control what it lacks, and the zone × zone matrix renders (checked on a
/// screenshot: its violation cells are painted).
#[test]
fn html_report_shows_evidence_and_the_matrix() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scan = Fixture {
        assessment: load("assessment-verdicts.json"),
        observations: load("observation-verdicts.json"),
    };
    for (lang, pass_line, missing_line) in [
        (
            Lang::Ja,
            "oqv-internet-egress: 確認先 198.51.100.10 への接続をゾーン oqv から試行",
            "ルール site-rdp-check を 9 件の入力で評価できませんでした",
        ),
        (
            Lang::En,
            "oqv-internet-egress: egress target 198.51.100.10 tried from zone oqv",
            "rule site-rdp-check could not be evaluated on 9 input(s)",
        ),
    ] {
        let html = render(
            Format::Html,
            &ReportInput {
                assessment: &scan.assessment,
                observations: &scan.observations,
                diff: None,
                seen: None,
                lang,
            },
        )
        .unwrap();
        let page = dir.path().join(format!("verdicts-{lang:?}.html"));
        std::fs::write(&page, &html).unwrap();
        let (dom, console) = load_in_browser(
            &browser,
            &page,
            &dir.path().join(format!("profile-{lang:?}")),
        );
        assert!(console.is_empty(), "console messages: {console:#?}");
        for needle in [
            "<section id=\"coverage\">",
            "<table class=\"matrix\">",
            "class=\"c-violation\"",
            "<ul class=\"ctl-checked\">",
            "<ul class=\"ctl-missing\">",
            pass_line,
            missing_line,
            "kev 2026-12-06 (rules/data/kev.toml)",
        ] {
            assert!(dom.contains(needle), "{lang:?}: DOM lacks {needle}");
        }
        assert_eq!(dom.matches("class=\"c-violation\"").count(), 2);
    }

    // The screenshot: the two violation cells (general → clinical, general → oqv) are
    // painted in their colour (#fde8e8), and nothing else on the page is.
    let png = dir.path().join("verdicts.png");
    let page = dir.path().join("verdicts-En.html");
    let status = headless(&browser, &dir.path().join("profile-shot"))
        .args(["--hide-scrollbars", "--window-size=1280,12000"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "chromium exited with {status}");
    let painted = count_colour(&png, (0xfd, 0xe8, 0xe8));
    assert!(
        painted > 1000,
        "the matrix's violation cells are not painted ({painted} pixels)"
    );
}

/// The inspection checklist printed by Chromium to PDF: a cover page, then each section of
/// the form on one A4 page of its own (every item of the section on that page), then the
/// evidence appendix. Pages are read back with poppler's pdfinfo and pdftotext.
#[test]
fn checklist_prints_one_a4_page_per_section() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let form = clinicscan_policy::Catalogue::shipped()
        .expect("shipped catalogue")
        .form_for(
            clinicscan_model::Audience::MedicalInstitution,
            &["checklist-R7".to_string()],
        )
        .expect("R7 form")
        .clone();
    let assessment: clinicscan_model::Assessment = load("assessment-verdicts.json");
    let dir = tempfile::tempdir().unwrap();
    for lang in [Lang::Ja, Lang::En] {
        let html = clinicscan_report::render_checklist(&clinicscan_report::ChecklistInput {
            form: &form,
            assessment: &assessment,
            previous: None,
            lang,
        });
        let page = dir.path().join(format!("checklist-{lang:?}.html"));
        std::fs::write(&page, &html).unwrap();
        let (_, console) = load_in_browser(
            &browser,
            &page,
            &dir.path().join(format!("profile-cl-{lang:?}")),
        );
        assert!(console.is_empty(), "console messages: {console:#?}");
        let pdf = dir.path().join(format!("checklist-{lang:?}.pdf"));
        let status = headless(&browser, &dir.path().join(format!("profile-pdf-{lang:?}")))
            .arg("--no-pdf-header-footer")
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "chromium exited with {status}");

        let info = Command::new("pdfinfo")
            .arg(&pdf)
            .output()
            .expect("pdfinfo (poppler-utils): run scripts/install-deps");
        assert!(info.status.success());
        let info = String::from_utf8_lossy(&info.stdout).to_string();
        assert!(
            info.lines()
                .any(|l| l.starts_with("Page size:") && l.ends_with("(A4)")),
            "{info}"
        );
        let pages: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("page count");
        let text_of = |n: usize| {
            let o = Command::new("pdftotext")
                .args(["-layout", "-f", &n.to_string(), "-l", &n.to_string()])
                .arg(&pdf)
                .arg("-")
                .output()
                .expect("pdftotext (poppler-utils)");
            assert!(o.status.success());
            String::from_utf8_lossy(&o.stdout).to_string()
        };
        let texts: Vec<String> = (1..=pages).map(text_of).collect();
        // Cover, one page per section, then at least one page of appendix.
        assert!(
            pages > form.sections.len() + 1,
            "{lang:?}: {pages} pages for {} sections",
            form.sections.len()
        );
        assert!(texts[0].contains(form.title.get(lang)), "{lang:?}: cover");
        for (i, s) in form.sections.iter().enumerate() {
            let heading = format!("{} {}", s.number, s.title.get(lang));
            let on: Vec<usize> = texts
                .iter()
                .enumerate()
                .filter(|(_, t)| t.contains(&heading))
                .map(|(n, _)| n)
                .collect();
            assert_eq!(on, [i + 1], "{lang:?}: section {heading} on pages {on:?}");
            let page = &texts[i + 1];
            for item in s.items.iter().filter(|i| !i.number.is_empty()) {
                assert!(
                    page.contains(&item.number),
                    "{lang:?}: item {} not on the page of section {}",
                    item.number,
                    s.number
                );
            }
            // The next page starts a new section or the appendix: nothing of this
            // section's table runs over.
            let next = &texts[i + 2];
            for item in s.items.iter().filter(|i| !i.number.is_empty()) {
                assert!(
                    !next.contains(&item.number) || i + 2 > form.sections.len(),
                    "{lang:?}: item {} runs over to the next page",
                    item.number
                );
            }
        }
    }
}
