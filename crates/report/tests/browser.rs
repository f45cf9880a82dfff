//! The HTML report in a real browser: headless Chromium loads it from a file, must log no
//! console message (no CSP violation, no error), and the DOM it builds must hold the
//! report's sections — and, for the hostile fixture, no element the network tried to inject.
//!
//! Needs /usr/bin/chromium (scripts/install-deps). Set CLINICSCAN_SKIP_BROWSER=1 to skip on
//! a machine without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use clinicscan_model::Lang;
use clinicscan_report::{Format, ReportInput, render};
use common::{Fixture, clinic_week};

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Loads `page` in headless Chromium; returns (dumped DOM, console lines).
fn load_in_browser(browser: &Path, page: &Path, profile: &Path) -> (String, Vec<String>) {
    let out = profile.with_extension("out");
    let err = profile.with_extension("err");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
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
    if std::env::var_os("CLINICSCAN_SKIP_BROWSER").is_some() {
        eprintln!("skipped: CLINICSCAN_SKIP_BROWSER is set");
        return;
    }
    let browser = chromium().expect("chromium not installed: run scripts/install-deps");
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
