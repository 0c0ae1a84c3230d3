//! `trailscope report` on a generated archive and snapshot, through the binary.
//!
//! The archive: one account, two regions, 2026-09-27 to 2026-10-06 with signed digests, a
//! StopLogging episode on 2026-10-02, and three plantings: a deleted log file (2026-10-03), an
//! unreadable object inside the period (2026-10-04) and one outside it (2026-09-28). The snapshot
//! is the controls' compliant baseline for that account.
//!
//! The golden file (`tests/fixtures/report-golden.json`) holds what the report must say: every
//! control's status, the failing resources, integrity counts and gap classes, activity totals.
//! `REPORT_GOLDEN_BLESS=1` rewrites it after an intended change (review the diff).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trailscope::generate::{GenerateOptions, StopEpisode, generate};

use crate::util::{plant, stderr, trailscope};

struct Fixture {
    _dir: tempfile::TempDir,
    archive: PathBuf,
    snapshot: PathBuf,
    deleted: String,
    account: String,
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

const UNREADABLE_INSIDE: &str =
    "2026/10/04/{a}_CloudTrail_us-east-1_20261004T1200Z_corrupt0000000001.json.gz";
const UNREADABLE_OUTSIDE: &str =
    "2026/09/28/{a}_CloudTrail_us-east-1_20260928T1200Z_corrupt0000000002.json.gz";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        let opts = GenerateOptions {
            start: NaiveDate::from_ymd_opt(2026, 9, 27).unwrap(),
            days: 10,
            accounts: 1,
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            events_per_day: 400,
            seed: 11,
            digests: true,
            stops: vec![StopEpisode {
                account_index: 0,
                stop: t("2026-10-02T10:00:00Z"),
                restart: Some(t("2026-10-02T14:00:00Z")),
            }],
            ..GenerateOptions::default()
        };
        let summary = generate(&archive, &opts).unwrap();
        let account = summary.accounts[0].clone();
        let logs = format!("AWSLogs/{account}/CloudTrail/us-east-1/");

        // The first log file delivered on 2026-10-03 in us-east-1 goes missing.
        let day = archive.join(&logs).join("2026/10/03");
        let mut files: Vec<_> = std::fs::read_dir(&day)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        files.sort();
        let deleted = format!("{logs}2026/10/03/{}", files[0]);
        std::fs::remove_file(archive.join(&deleted)).unwrap();
        for planted in [UNREADABLE_INSIDE, UNREADABLE_OUTSIDE] {
            let key = format!("{logs}{}", planted.replace("{a}", &account));
            plant(&archive, &key, b"this is not gzip");
        }

        let snapshot = dir.path().join("snapshot.json");
        let text = crate::controls::baseline()
            .to_string()
            .replace(crate::controls::ACCOUNT, &account);
        std::fs::write(&snapshot, text).unwrap();
        Fixture {
            _dir: dir,
            archive,
            snapshot,
            deleted,
            account,
        }
    })
}

/// Runs `trailscope report` on the fixture with `extra` arguments; returns (exit code, output).
fn run_report(format: &str, extra: &[&str]) -> (i32, Vec<u8>) {
    let f = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("report.out");
    let mut args = vec![
        "report",
        "-q",
        "-a",
        f.archive.to_str().unwrap(),
        "-s",
        f.snapshot.to_str().unwrap(),
        "--period",
        "2026-10",
        "--format",
        format,
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = trailscope(&args);
    let code = run.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "exit {code}: {}", stderr(&run));
    (code, std::fs::read(&out).unwrap())
}

fn json_report(extra: &[&str]) -> (i32, Vec<u8>, Value) {
    let (code, bytes) = run_report("json", extra);
    let value = serde_json::from_slice(&bytes).unwrap();
    (code, bytes, value)
}

/// Records in October, counted straight from the files (not through trailscope).
fn october_records(archive: &Path) -> u64 {
    let mut n = 0;
    for key in crate::util::keys_under(archive) {
        if !key.contains("/CloudTrail/") || !key.ends_with(".json.gz") {
            continue;
        }
        let bytes = std::fs::read(archive.join(&key)).unwrap();
        let mut text = String::new();
        if flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .is_err()
        {
            continue;
        }
        let doc: Value = serde_json::from_str(&text).unwrap();
        n += doc["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["eventTime"].as_str().unwrap().starts_with("2026-10"))
            .count() as u64;
    }
    n
}

/// What the golden file pins: verdicts and counts, not hashes or evidence text.
fn golden_view(report: &Value) -> Value {
    let controls: BTreeMap<String, Value> = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let failing: Vec<String> = c["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["status"] == "fail")
                .map(|f| {
                    format!(
                        "{} {}",
                        f["resource"].as_str().unwrap(),
                        f["region"].as_str().unwrap_or("")
                    )
                })
                .collect();
            (
                c["id"].as_str().unwrap().to_string(),
                json!({"status": c["status"], "failing": failing}),
            )
        })
        .collect();
    let gap_classes: BTreeMap<String, usize> = report["integrity"]["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .fold(BTreeMap::new(), |mut m, g| {
            *m.entry(g["class"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
            m
        });
    json!({
        "summary": report["summary"],
        "controls": controls,
        "frameworks": report["frameworks"].as_array().unwrap().iter()
            .map(|f| json!({"id": f["id"], "requirements_touched": f["requirements_touched"],
                "requirements_failing": f["requirements_failing"], "controls_failing": f["controls_failing"]}))
            .collect::<Vec<_>>(),
        "integrity": {"digests": report["integrity"]["digests"], "log_files": report["integrity"]["log_files"],
            "problems": report["integrity"]["problems"], "gap_classes": gap_classes,
            "stops": report["integrity"]["stops"]},
        "activity": {"totals": report["activity"]["totals"], "console_logins": report["activity"]["console_logins"]},
        "read_errors": report["read_errors"],
        "detections": {"by_level": report["detections"]["by_level"],
            "by_rule": report["detections"]["by_rule"].as_array().unwrap().iter()
                .map(|r| (r["rule_id"].as_str().unwrap().to_string(), r["detections"].clone()))
                .collect::<BTreeMap<_, _>>()},
    })
}

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-golden.json")
}

#[test]
fn the_report_says_what_the_archive_holds_and_is_the_same_bytes_twice() {
    let f = fixture();
    let (code, first, report) = json_report(&[]);
    let (_, second, _) = json_report(&[]);
    assert!(first == second, "two runs on the same inputs differ");
    assert_eq!(
        code, 1,
        "failing controls and a missing log file make exit 1"
    );

    // The golden view, with the generated account id made stable.
    let view: Value = serde_json::from_str(
        &golden_view(&report)
            .to_string()
            .replace(&f.account, "ACCOUNT"),
    )
    .unwrap();
    if std::env::var_os("REPORT_GOLDEN_BLESS").is_some() {
        std::fs::write(
            golden_path(),
            serde_json::to_string_pretty(&view).unwrap() + "\n",
        )
        .unwrap();
    }
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(golden_path()).unwrap())
        .expect("tests/fixtures/report-golden.json (REPORT_GOLDEN_BLESS=1 writes it)");
    assert_eq!(
        view, golden,
        "the report differs from tests/fixtures/report-golden.json"
    );
    // Beyond the verdicts: every byte (every input's hash, every table, every evidence text)
    // is pinned by the SHA-256 of the whole JSON, so a change in how the report reads its inputs
    // (sharing one reading between the scan, verify and the manifest) cannot change a byte.
    let whole = {
        use sha2::Digest;
        // The archive's temporary path, and the report's own hash over it, differ between runs.
        let mut stable = report.clone();
        stable["scope"]["archive"] = json!("ARCHIVE");
        stable["manifest"]["report_sha256"] = Value::Null;
        let text = stable.to_string().replace(&f.account, "ACCOUNT");
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    };
    let pinned = golden_path().with_extension("sha256");
    if std::env::var_os("REPORT_GOLDEN_BLESS").is_some() {
        std::fs::write(&pinned, format!("{whole}\n")).unwrap();
    }
    assert_eq!(
        whole,
        std::fs::read_to_string(&pinned).unwrap().trim(),
        "the report's bytes differ from those pinned in tests/fixtures/report-golden.sha256 \
         (REPORT_GOLDEN_BLESS=1 writes it after a deliberate change)"
    );

    // Independently of the golden file:
    assert_eq!(report["format"], "trailscope.report/1");
    assert_eq!(report["summary"]["events"], october_records(&f.archive));
    // The deleted log file is missing; the unreadable object planted in an attested hour is
    // also a file no digest lists.
    let problems: Vec<(&str, &str)> = report["integrity"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["key"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0], (f.deleted.as_str(), "missing"));
    assert!(problems[1].0.ends_with("corrupt0000000001.json.gz") && problems[1].1 == "unlisted");
    assert_eq!(report["integrity"]["valid"], false);
    let stops = report["integrity"]["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0]["stopped_at"], "2026-10-02T10:00:00Z");
    assert!(
        report["integrity"]["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["class"] == "explained_stop"
                && g["start"].as_str().unwrap() < "2026-10-02T10:05:00Z"),
        "the stop's silence is an explained_stop gap"
    );
    let stop = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001")
        .unwrap();
    assert_eq!(
        stop["status"], "fail",
        "the StopLogging episode is a finding"
    );
    let cited = stop["findings"][0]["evidence"].to_string();
    assert!(
        cited.contains("2026-10-02T10:00:00Z")
            && cited.contains("/CloudTrail/us-east-1/2026/10/02/"),
        "{cited}"
    );
    let errors: Vec<&str> = report["read_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "only the period's prefixes are read: {errors:?}"
    );
    assert!(errors[0].ends_with("corrupt0000000001.json.gz"));
    assert_eq!(report["frameworks"].as_array().unwrap().len(), 7);
}

#[test]
fn the_manifest_names_every_input_and_the_report_hash_checks() {
    let f = fixture();
    let (_, _, report) = json_report(&[]);
    let manifest = &report["manifest"];
    let logs = manifest["log_files"].as_array().unwrap();
    // Delivered 2026-10-01 up to the late-delivery margin after the period: the archive ends
    // 2026-10-06, so every October log file, the unreadable one included, and nothing else.
    let expected: Vec<String> = crate::util::keys_under(&f.archive)
        .into_iter()
        .filter(|k| k.contains("/CloudTrail/") && k.contains("/2026/10/"))
        .collect();
    let listed: Vec<&str> = logs.iter().map(|o| o["key"].as_str().unwrap()).collect();
    assert_eq!(
        listed,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for o in logs {
        let bytes = std::fs::read(f.archive.join(o["key"].as_str().unwrap())).unwrap();
        assert_eq!(o["size"], bytes.len() as u64);
        assert_eq!(o["sha256"], hex::encode(Sha256::digest(&bytes)));
    }
    assert!(!manifest["digests"].as_array().unwrap().is_empty());
    let snapshot_bytes = std::fs::read(&f.snapshot).unwrap();
    assert_eq!(
        manifest["snapshots"][0]["sha256"],
        hex::encode(Sha256::digest(&snapshot_bytes))
    );
    assert_eq!(
        manifest["controls"],
        trailscope::controls::builtin().unwrap().len()
    );

    // The report's own hash: canonical JSON (sorted keys, compact) with the field null.
    let mut unsealed = report.clone();
    let claimed = unsealed["manifest"]["report_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    unsealed["manifest"]["report_sha256"] = Value::Null;
    let canonical = serde_json::to_vec(&unsealed).unwrap();
    assert_eq!(claimed, hex::encode(Sha256::digest(&canonical)));
    // An edit anywhere breaks it.
    unsealed["summary"]["failing"] = json!(0);
    assert_ne!(
        claimed,
        hex::encode(Sha256::digest(serde_json::to_vec(&unsealed).unwrap()))
    );
}

#[test]
fn a_baseline_gives_new_resolved_and_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let previous = dir.path().join("previous.json");
    // The previous report counted one stop/restart cycle as recurrence.
    let (_, bytes, before) = json_report(&["--param", "recurrence_min_cycles=1"]);
    std::fs::write(&previous, &bytes).unwrap();
    // This one requires a retention the baseline bucket's lifecycle does not meet.
    let (_, _, now) = json_report(&[
        "--param",
        "required_retention_days=100000",
        "--baseline",
        previous.to_str().unwrap(),
    ]);
    let changes = &now["changes"];
    let ids = |list: &str| -> Vec<String> {
        changes[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["control_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("resolved"), vec!["CTL.CLOUDTRAIL.DISABLE.RECUR.001"]);
    let new = ids("new");
    assert!(
        new.contains(&"CTL.CLOUDTRAIL.S3.LIFECYCLE.SHORT.001".to_string()),
        "{new:?}"
    );
    assert!(!new.contains(&"CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001".to_string()));
    assert!(ids("unchanged").contains(&"CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001".to_string()));
    assert_eq!(
        changes["baseline_sha256"],
        before["manifest"]["report_sha256"]
    );
    let failing_then = before["summary"]["failing"].as_u64().unwrap() as usize;
    assert_eq!(
        ids("resolved").len() + ids("unchanged").len(),
        changes["resolved"].as_array().unwrap().len()
            + changes["unchanged"].as_array().unwrap().len()
    );
    assert!(failing_then > 0);

    // A file that is not a report is refused with a message naming it.
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{\"hello\": 1}").unwrap();
    let f = fixture();
    let run = trailscope(&[
        "report",
        "-q",
        "-a",
        f.archive.to_str().unwrap(),
        "--period",
        "2026-10",
        "--baseline",
        bogus.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        stderr(&run).contains("--baseline") && stderr(&run).contains("bogus.json"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn csv_has_one_row_per_finding_and_markdown_pastes() {
    let (_, _, report) = json_report(&[]);
    let findings: usize = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["findings"].as_array().unwrap().len())
        .sum();
    let (_, csv) = run_report("csv", &[]);
    let records = parse_csv(&String::from_utf8(csv).unwrap());
    assert_eq!(records[0][1], "control_id");
    assert_eq!(records.len() - 1, findings);
    assert!(records.iter().all(|r| r.len() == records[0].len()));
    let evidence_column = records[0].iter().position(|h| h == "evidence").unwrap();
    for r in &records[1..] {
        serde_json::from_str::<Value>(&r[evidence_column]).expect("evidence is JSON text");
    }

    let (_, md) = run_report("md", &[]);
    let md = String::from_utf8(md).unwrap();
    assert!(md.starts_with("# CloudTrail compliance report: 2026-10"));
    for heading in [
        "## Frameworks",
        "## Controls",
        "## Trail integrity",
        "## Activity",
        "## Evidence manifest",
    ] {
        assert!(md.contains(heading), "{heading}");
    }
    assert!(
        md.contains(fixture().deleted.as_str()),
        "the missing log file is named"
    );
    assert!(md.contains(report["manifest"]["report_sha256"].as_str().unwrap()));
}

#[test]
fn a_period_is_required_and_checked() {
    let f = fixture();
    let archive = f.archive.to_str().unwrap();
    for (args, says) in [
        (vec!["report", "-a", archive], "--period"),
        (
            vec!["report", "-a", archive, "--period", "2026-13"],
            "2026-13",
        ),
        (
            vec![
                "report",
                "-a",
                archive,
                "--period",
                "2026-10",
                "--framework",
                "sox",
            ],
            "sox",
        ),
    ] {
        let run = trailscope(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(stderr(&run).contains(says), "{args:?}: {}", stderr(&run));
    }
}

/// RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}
