//! The HTML report: one self-contained page on the bundled archive, hostile strings escaped, and a
//! real headless Chromium rendering it (no console errors, the charts in the DOM, a screenshot and
//! a PDF kept under `target/test-artifacts/` for people to look at).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use trailscope::report::render::html;
use trailscope::report::{ComplianceReport, diff};

use crate::util::{stderr, trailscope};

const CHROMIUM: &str = "/usr/bin/chromium";
/// A browser run that takes longer than this is killed and the test fails: never block the suite.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);
const HOSTILE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

/// Writes the bundled archive's report for a week (hourly timeline, quiet days) in `format`.
fn bundled_report(dir: &Path, format: &str) -> PathBuf {
    let out = dir.join(format!("report.{format}"));
    let run = trailscope(&[
        "report",
        "-q",
        "-a",
        "testdata/archive",
        "-s",
        "testdata/snapshot-566424620868.json",
        "--from",
        "2026-09-28",
        "--to",
        "2026-10-05",
        "--format",
        format,
        "-o",
        out.to_str().unwrap(),
    ]);
    // Exit 1 says controls fail (they do on this archive); anything else is an error.
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", stderr(&run));
    out
}

/// The bundled archive's report as HTML and JSON, built once for every test here (a report run
/// costs tens of seconds in a debug build) and kept with the other artifacts.
struct Reports {
    html: PathBuf,
    json: PathBuf,
}

fn reports() -> &'static Reports {
    static REPORTS: OnceLock<Reports> = OnceLock::new();
    REPORTS.get_or_init(|| {
        let dir = artifacts();
        std::thread::scope(|s| {
            let html = s.spawn(|| bundled_report(&dir, "html"));
            let json = s.spawn(|| bundled_report(&dir, "json"));
            Reports {
                html: html.join().unwrap(),
                json: json.join().unwrap(),
            }
        })
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn html_report_is_self_contained_and_complete() {
    let page = read(&reports().html);
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing fetched, no scripts, no external style.
    for banned in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "<script",
        "<link",
        "@import",
        "url(",
        "<iframe",
    ] {
        assert!(!page.contains(banned), "the page holds {banned:?}");
    }
    for id in [
        "summary",
        "frameworks",
        "controls",
        "integrity",
        "timeline",
        "activity",
        "read-errors",
        "manifest",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "no section {id}");
    }
    assert!(!page.contains("id=\"changes\""), "no baseline, no changes");
    let charts = page.matches("<svg class=\"chart\"").count();
    assert!(charts >= 6, "{charts} charts");
    for chart in page.split("<svg class=\"chart\"").skip(1) {
        let open = &chart[..chart.find('>').unwrap()];
        assert!(open.contains("role=\"img\"") && open.contains("aria-label=\""));
        assert!(chart[open.len()..].starts_with("><title>"), "{open}");
    }
    let timeline = page.split("id=\"timeline\"").nth(1).unwrap();
    assert!(
        timeline
            .trim_start_matches('>')
            .starts_with("<svg class=\"chart\"")
    );
    assert!(
        timeline.contains("explained stop"),
        "the StopLogging is drawn"
    );
    // The StopLogging call's log file stays visible in the evidence.
    assert!(page.contains("566424620868_CloudTrail_us-east-1_20261002T0211Z_nSD9pf3yG9tdbv2p"));
    assert!(page.contains("CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001"));
    assert!(page.contains("more item(s) in the JSON report"));
    assert!(page.contains("the full list is in the JSON report"));
}

#[test]
fn html_is_a_function_of_the_report_value() {
    let page = std::fs::read(&reports().html).unwrap();
    let report: ComplianceReport = serde_json::from_str(&read(&reports().json)).unwrap();
    assert_eq!(html::render(&report).into_bytes(), page, "JSON → HTML");
    assert_eq!(html::render(&report), html::render(&report));
}

/// Plants `HOSTILE` wherever the archive, the user or a baseline can put text.
fn poison(report: &mut ComplianceReport) {
    report.period.label = HOSTILE.into();
    report.scope.archive = HOSTILE.into();
    report
        .scope
        .parameters
        .insert(HOSTILE.into(), HOSTILE.into());
    let control = &mut report.controls[0];
    control.title = HOSTILE.into();
    control.remediation = HOSTILE.into();
    let finding = &mut control.findings[0];
    finding.resource = HOSTILE.into();
    finding.evidence = serde_json::json!({
        "useragent": HOSTILE,
        "events": serde_json::json!([{"useragent": HOSTILE, "log_file": HOSTILE}]).to_string(),
    });
    let activity = &mut report.activity;
    activity.top_principals[0].principal = HOSTILE.into();
    activity.errors_by_code[0].errorcode = HOSTILE.into();
    activity.per_day[0].account_id = HOSTILE.into();
    report.integrity.stops[0].stopped_by = Some(HOSTILE.into());
    report.integrity.gaps[0].evidence = serde_json::json!({ "note": HOSTILE });
    // And a trail that is not valid: a critical gap drawn on the timeline, a bad digest.
    let gap = &mut report.integrity.gaps[0];
    (gap.class, gap.critical) = ("deleted_logs".into(), true);
    let integrity = &mut report.integrity;
    integrity.valid = false;
    report.summary.integrity_valid = false;
    report.summary.critical_gaps = 1;
    let cells = &mut integrity.timelines[1].cells;
    *cells = cells.replacen("##", "XX", 1).replacen("..", "!!", 1);
    integrity
        .problems
        .push(trailscope::report::integrity::Problem {
            kind: "digest".into(),
            key: HOSTILE.into(),
            account_id: HOSTILE.into(),
            region: "us-east-1".into(),
            status: "hash_mismatch".into(),
            detail: HOSTILE.into(),
        });
    report.integrity.timelines[0].region = HOSTILE.into();
    report.read_errors.push(trailscope::report::ReadErrorEntry {
        key: HOSTILE.into(),
        reason: HOSTILE.into(),
        class: HOSTILE.into(),
    });
    report.manifest.log_files[0].key = HOSTILE.into();
    let mut baseline = report.clone();
    baseline.controls[1].findings[0].resource = HOSTILE.into();
    report.changes = Some(diff::compare(&baseline, &report.controls));
}

#[test]
fn hostile_strings_are_escaped() {
    let mut report: ComplianceReport = serde_json::from_str(&read(&reports().json)).unwrap();
    poison(&mut report);
    let page = html::render(&report);
    // Kept for people to look at: the page of a report with everything going wrong.
    std::fs::write(artifacts().join("report-hostile.html"), &page).unwrap();
    assert!(page.contains("id=\"changes\""));
    assert!(page.contains("NOT valid") && page.contains("deleted logs (critical)"));
    assert!(!page.contains("<script"), "a script got through");
    assert!(!page.contains("<img"), "an element got through");
    assert!(!page.contains("\"'>"), "an attribute was closed");
    let escaped =
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;";
    assert!(
        page.matches(escaped).count() >= 12,
        "every planted string shown, escaped"
    );
}

// ---- a real browser ----

/// Where test artifacts are kept: `$CARGO_TARGET_DIR/test-artifacts`, else `target/` here.
fn artifacts() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|t| manifest.join(t))
        .unwrap_or_else(|| manifest.join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a headless Chromium run printed.
pub struct Browser {
    pub stdout: String,
    pub stderr: String,
}

impl Browser {
    /// Console messages about the page: errors, uncaught exceptions, failed loads. Our pages log
    /// nothing, so any console message at all is a defect.
    pub fn console(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .collect()
    }
}

/// Runs headless Chromium on `page` with `args` (a fresh profile, nothing fetched in the
/// background); kills its process group if it runs past [`BROWSER_LIMIT`].
pub fn chromium(page: &Path, args: &[&str]) -> Browser {
    assert!(
        Path::new(CHROMIUM).exists(),
        "the HTML report's browser test needs Chromium at {CHROMIUM}: install it \
         (apt-get install -y chromium)"
    );
    let scratch = tempfile::tempdir().unwrap();
    let profile = scratch.path().join("profile");
    let (out, err) = (scratch.path().join("out"), scratch.path().join("err"));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--timeout=30000",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BROWSER_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Its helpers (renderer, GPU, zygote) share the group: end them all, whatever happened.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let browser = Browser {
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    };
    let status = status.unwrap_or_else(|| panic!("chromium ran past {BROWSER_LIMIT:?}; killed"));
    assert!(status.success(), "chromium: {status}\n{}", browser.stderr);
    browser
}

#[test]
fn the_console_check_catches_a_script_error() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><title>broken</title><p>x</p><script>noSuchFunction();</script>",
    )
    .unwrap();
    let run = chromium(&page, &["--dump-dom"]);
    let console = run.console();
    assert!(
        console.iter().any(|l| l.contains("noSuchFunction")),
        "a deliberate error went unseen:\n{}",
        run.stderr
    );
}

#[test]
fn chromium_renders_prints_and_screenshots_the_report() {
    let page = &reports().html;
    let kept = artifacts();

    let run = chromium(page, &["--dump-dom"]);
    assert!(run.console().is_empty(), "console: {:#?}", run.console());
    let dom = &run.stdout;
    assert!(dom.contains("CloudTrail compliance report"), "{dom:.300}");
    assert!(dom.matches("<svg class=\"chart\"").count() >= 6);
    assert!(dom.contains("id=\"timeline\""));

    let png = kept.join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let run = chromium(page, &[&shot, "--window-size=1400,4000"]);
    assert!(run.console().is_empty(), "console: {:#?}", run.console());
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 50_000,
        "{} bytes",
        bytes.len()
    );

    let pdf = kept.join("report.pdf");
    let _ = std::fs::remove_file(&pdf);
    let print = format!("--print-to-pdf={}", pdf.display());
    chromium(page, &[&print, "--no-pdf-header-footer"]);
    let bytes = std::fs::read(&pdf).expect("the PDF");
    assert!(
        bytes.starts_with(b"%PDF") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
}
