//! The control catalog, tested case by case from data.
//!
//! Each `tests/controls/cases/<ID>/<case>.json` holds a snapshot and/or events built for one
//! control and the verdict it must give:
//! ```json
//! {"description": "why",
//!  "base": true,                      // start from the compliant baseline (tests/controls/baseline/*.json)
//!  "replace": [{call}, ...],          // replace baseline calls with the same service+operation+params (or add)
//!  "remove": [{"service": "s3", "operation": "GetBucketPolicy"}],   // drop matching calls (params optional)
//!  "snapshot": {...},                 // instead of base: a whole snapshot document
//!  "events": [{CloudTrail record}],   // planted as log files in a fresh archive
//!  "params": {"bulk_delete_threshold": "5"},
//!  "expect": {"CTL.CLOUDTRAIL.X.001": "fail"}}
//! ```
//! `fail`: at least one fail finding; `pass`: findings, all pass; `inconclusive`: no fail and
//! at least one inconclusive. Without "events" the archive holds the baseline's benign events.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use trailscope::archive::{Location, S3Options, Scope};
use trailscope::controls::{self, Finding, ParamValues, Status};
use trailscope::snapshot::Snapshot;
use trailscope::table::ArchiveSource;

use crate::util::{gzip, plant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/controls")
}

pub const ACCOUNT: &str = "111122223333";

/// The compliant baseline snapshot: every `baseline/*.json` file's calls, in file order.
pub fn baseline() -> Value {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("baseline"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut calls = Vec::new();
    let mut profile = Map::new();
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        calls.extend(v["calls"].as_array().cloned().unwrap_or_default());
        if let Some(p) = v["profile"].as_object() {
            profile.extend(p.clone());
        }
    }
    json!({"format": "trailscope.snapshot/1", "captured_at": "2026-10-31T12:00:00Z",
        "account_id": ACCOUNT, "profile": profile, "calls": calls})
}

fn same_call(a: &Value, b: &Value) -> bool {
    a["service"] == b["service"]
        && a["operation"] == b["operation"]
        && (b.get("params").is_none() || a.get("params") == b.get("params"))
}

/// A case's snapshot: the baseline edited, or its own.
fn case_snapshot(case: &Value) -> Option<Value> {
    if let Some(s) = case.get("snapshot") {
        return (!s.is_null()).then(|| s.clone());
    }
    if case["base"] != json!(true) {
        return None;
    }
    let mut snap = baseline();
    let calls = snap["calls"].as_array_mut().unwrap();
    for r in case["remove"].as_array().into_iter().flatten() {
        calls.retain(|c| !same_call(c, r));
    }
    for r in case["replace"].as_array().into_iter().flatten() {
        match calls.iter_mut().find(|c| same_call(c, r)) {
            Some(c) => *c = r.clone(),
            None => calls.push(r.clone()),
        }
    }
    if let Some(p) = case["profile"].as_object() {
        snap["profile"].as_object_mut().unwrap().extend(p.clone());
    }
    Some(snap)
}

/// Fills what every record has, so cases can write only what matters.
pub fn complete(record: &Value, n: usize) -> Value {
    let mut r = record.as_object().cloned().unwrap_or_default();
    let account = r
        .get("recipientAccountId")
        .and_then(Value::as_str)
        .unwrap_or(ACCOUNT)
        .to_string();
    let defaults = json!({
        "eventVersion": "1.11", "awsRegion": "us-east-1", "recipientAccountId": account,
        "eventID": format!("00000000-0000-4000-8000-{n:012}"), "eventType": "AwsApiCall",
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/ops"),
                         "accountId": account, "userName": "ops"},
        "readOnly": false, "managementEvent": true, "eventCategory": "Management",
    });
    for (k, v) in defaults.as_object().unwrap() {
        r.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(r)
}

/// Plants `events` as log files (one per account, region and hour) under `dir`.
pub fn plant_events(dir: &Path, events: &[Value]) {
    let mut files: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
    for (n, e) in events.iter().enumerate() {
        let r = complete(e, n);
        let time = r["eventTime"]
            .as_str()
            .expect("every case event needs eventTime");
        let hour = format!(
            "{}{}{}T{}00Z",
            &time[0..4],
            &time[5..7],
            &time[8..10],
            &time[11..13]
        );
        let key = (
            r["recipientAccountId"].as_str().unwrap().to_string(),
            r["awsRegion"].as_str().unwrap().to_string(),
            hour,
        );
        files.entry(key).or_default().push(r);
    }
    for ((account, region, hour), records) in files {
        let (y, m, d) = (&hour[0..4], &hour[4..6], &hour[6..8]);
        let key = format!(
            "AWSLogs/{account}/CloudTrail/{region}/{y}/{m}/{d}/{account}_CloudTrail_{region}_{hour}_case{:08}.json.gz",
            records.len()
        );
        let body = json!({"Records": records}).to_string();
        plant(dir, &key, &gzip(body.as_bytes()));
    }
}

/// Benign activity for cases without events: the archive is not empty, nothing is alarming.
fn benign_events() -> Vec<Value> {
    (0..24)
        .map(|h| {
            json!({"eventTime": format!("2026-10-15T{h:02}:10:00Z"),
                "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
                "readOnly": true})
        })
        .collect()
}

/// Runs the whole catalog (built-ins plus `queries/controls` as a user directory, so edits are
/// seen without a rebuild) over a case.
pub async fn evaluate(snapshot: Option<Value>, events: &[Value], params: &Value) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    plant_events(dir.path(), events);
    evaluate_archive(dir.path(), snapshot, params, &[]).await
}

/// Runs the catalog over an archive directory: every control, or those whose id contains one of
/// `only`.
pub async fn evaluate_archive(
    dir: &Path,
    snapshot: Option<Value>,
    params: &Value,
    only: &[&str],
) -> Vec<Finding> {
    let snapshots = match snapshot {
        Some(s) => vec![Snapshot::parse(&s.to_string(), "case snapshot").unwrap()],
        None => Vec::new(),
    };
    let overrides = params
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    let values = ParamValues::new(overrides, &snapshots);
    let location = Location::open(dir.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, Scope::default(), false);
    // CONTROLS_DIR narrows the run to one directory while developing a control.
    let dir = std::env::var_os("CONTROLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/controls"));
    let catalog: Vec<_> = controls::catalog(&[dir])
        .unwrap()
        .into_iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| c.meta.id.contains(o)))
        .collect();
    let report = controls::check(&source.into(), &snapshots, &catalog, &values)
        .await
        .unwrap();
    assert!(
        report.errors.is_empty(),
        "controls failed to run: {:?}",
        report.errors
    );
    report.findings
}

/// The verdict the findings of one control add up to.
pub fn verdict(findings: &[Finding], id: &str) -> Option<Status> {
    let mine: Vec<&Finding> = findings.iter().filter(|f| f.control_id == id).collect();
    if mine.is_empty() {
        return None;
    }
    Some(if mine.iter().any(|f| f.status == Status::Fail) {
        Status::Fail
    } else if mine.iter().any(|f| f.status == Status::Inconclusive) {
        Status::Inconclusive
    } else {
        Status::Pass
    })
}

fn show(findings: &[Finding], id: &str) -> String {
    findings
        .iter()
        .filter(|f| f.control_id == id)
        .map(|f| format!("  {} {} {}", f.status.as_str(), f.resource, f.evidence))
        .collect::<Vec<_>>()
        .join("\n")
}

fn case_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("cases")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_gives_its_verdict() {
    let filter = std::env::var("CASE").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in case_files() {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        if !name.contains(&filter) {
            continue;
        }
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let events = match case.get("events").and_then(Value::as_array) {
            Some(e) => e.clone(),
            None => benign_events(),
        };
        // Only the controls a case judges run (a meta control needs them all): each run costs.
        let expected: Vec<&str> = case["expect"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let only: Vec<&str> = if expected.iter().any(|id| id.contains("INCOMPLETE")) {
            Vec::new()
        } else {
            expected
        };
        let dir = tempfile::tempdir().unwrap();
        plant_events(dir.path(), &events);
        let findings =
            evaluate_archive(dir.path(), case_snapshot(&case), &case["params"], &only).await;
        ran += 1;
        for (id, want) in case["expect"].as_object().expect("case needs expect") {
            let want = Status::parse(want.as_str().unwrap()).unwrap();
            let got = verdict(&findings, id);
            if got != Some(want) {
                failures.push(format!(
                    "{name}: {id} expected {} got {:?}\n{}",
                    want.as_str(),
                    got.map(Status::as_str),
                    show(&findings, id)
                ));
            }
        }
    }
    assert!(ran > 0 || !filter.is_empty(), "no control cases found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every built-in control has a case that fires and one that passes.
#[test]
fn every_control_has_a_fire_and_a_pass_case() {
    let mut seen: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for path in case_files() {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (id, want) in case["expect"].as_object().unwrap() {
            let e = seen.entry(id.clone()).or_default();
            match want.as_str() {
                Some("fail") => e.0 = true,
                Some("pass") => e.1 = true,
                _ => {}
            }
        }
    }
    let catalog = controls::builtin().unwrap();
    let missing: Vec<String> = catalog
        .iter()
        .filter(|c| seen.get(&c.meta.id) != Some(&(true, true)))
        .map(|c| format!("{} {:?}", c.meta.id, seen.get(&c.meta.id)))
        .collect();
    assert!(
        missing.is_empty(),
        "controls without a fire and a pass case: {missing:#?}"
    );
}

/// The built-in catalog lints clean: metadata sound, SQL plans, output shape right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_lints_clean() {
    let out = crate::util::trailscope(&["lint"]);
    assert!(
        out.status.success(),
        "{}{}",
        crate::util::stdout(&out),
        crate::util::stderr(&out)
    );
    let ids: Vec<String> = controls::builtin()
        .unwrap()
        .iter()
        .map(|c| c.meta.id.clone())
        .collect();
    assert!(!ids.is_empty());
}

/// The bundled archive with its snapshot, through the binary: the StopLogging episode fails the
/// alarm control's event half and is cited with its log file; exit 1; every control answered.
#[test]
fn check_on_the_bundled_archive() {
    let out = crate::util::trailscope(&[
        "check",
        "-q",
        "-a",
        "testdata/archive",
        "--account",
        "566424620868",
        "-s",
        "testdata/snapshot-566424620868.json",
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", crate::util::stderr(&out));
    let findings: Vec<Value> = crate::util::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|f| f["control_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), controls::builtin().unwrap().len());
    let stop = findings
        .iter()
        .find(|f| {
            f["control_id"] == "CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001"
                && f["status"] == "fail"
                && f["evidence"]["check"] == "events"
        })
        .expect("the StopLogging episode is a finding");
    let events: Value = serde_json::from_str(stop["evidence"]["events"].as_str().unwrap()).unwrap();
    assert_eq!(
        events[0]["principal"],
        "arn:aws:iam::566424620868:user/ops-admin"
    );
    assert!(
        events[0]["log_file"]
            .as_str()
            .unwrap()
            .contains("/CloudTrail/us-east-1/2026/10/02/")
    );
    // Fail first, by severity.
    let first_pass = findings.iter().position(|f| f["status"] != "fail").unwrap();
    assert!(findings[..first_pass].iter().all(|f| f["status"] == "fail"));
    assert_eq!(findings[0]["severity"], "critical");
}

/// `check` reads `cloudtrail` once, keeping only the rows and columns the catalog can look at:
/// fewer rows than the archive holds, and every control's findings the same as when each control
/// scans the archive itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_scan_keeps_what_controls_read_and_changes_no_finding() {
    let location = Location::open("testdata/archive", &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, Scope::default(), false);
    let snapshots = Snapshot::load_all(&["testdata/snapshot-566424620868.json"]).unwrap();
    let catalog = controls::builtin().unwrap();
    let values = ParamValues::new(BTreeMap::new(), &snapshots);
    let count = |ctx: datafusion::prelude::SessionContext| async move {
        let batches = ctx
            .sql("SELECT count(*) AS n FROM cloudtrail")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(batches[0].column(0))
            .value(0)
    };

    let separate = trailscope::table::evidence_session(&source, &snapshots)
        .await
        .unwrap();
    let all_rows = count(separate.clone()).await;
    let unshared = controls::run_controls(&separate, &catalog, &values)
        .await
        .unwrap();

    let shared = trailscope::table::evidence_session(&source, &snapshots)
        .await
        .unwrap();
    let needs = controls::share_scan(&shared, &catalog, &values, &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(needs.queries, catalog.len(), "every control planned");
    assert!(needs.rows.is_some() && needs.columns.is_some(), "{needs:?}");
    let kept = count(shared.clone()).await;
    assert!(
        kept > 0 && kept < all_rows / 2,
        "kept {kept} of {all_rows} rows"
    );
    let with_sharing = controls::run_controls(&shared, &catalog, &values)
        .await
        .unwrap();
    assert_eq!(with_sharing.findings, unshared.findings);
}
