//! Trail forensics end to end: `verify` and `gaps` on generated archives with signed digests,
//! tampered in a temporary copy. Each tampering must be reported exactly once, with the right
//! status or class, and nothing else may be reported.
//!
//! Self-contained (only `trailscope::` APIs, the binary, and std), so it can be included as a
//! module of any test crate.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use trailscope::archive::{Location, S3Options, Scope};

use crate::util::{copy_tree, gzip};
use trailscope::generate::{GenerateOptions, StopEpisode, generate};
use trailscope::integrity::gaps::{GapClass, GapOptions, GapReport};
use trailscope::integrity::{
    DigestStatus, KeyRing, KeySource, LogFileCheck, LogFileStatus, VerifyOptions, VerifyReport,
    load_signatures, verify,
};
use trailscope::table::ArchiveSource;
use trailscope::table::stop_events::gaps;

const KEYS: &str = "_trailscope/public-keys.json";
const SIGNATURES: &str = "_trailscope/digest-signatures.json";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn options(stops: Vec<StopEpisode>) -> GenerateOptions {
    GenerateOptions {
        start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        days: 1,
        accounts: 1,
        regions: vec!["eu-west-1".into()],
        events_per_day: 400,
        seed: 7,
        digests: true,
        bucket: "trailscope-verify-test".into(),
        stops,
        identity_chains: false,
    }
}

/// A pristine archive, generated once per test run; tests tamper with copies.
fn base(stopped: bool) -> &'static Path {
    static PLAIN: OnceLock<tempfile::TempDir> = OnceLock::new();
    static STOPPED: OnceLock<tempfile::TempDir> = OnceLock::new();
    let (cell, stops) = if stopped {
        (
            &STOPPED,
            vec![StopEpisode {
                account_index: 0,
                stop: at("2026-10-01T10:10:00Z"),
                restart: Some(at("2026-10-01T14:40:00Z")),
            }],
        )
    } else {
        (&PLAIN, Vec::new())
    };
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &options(stops)).unwrap();
        dir
    })
    .path()
}

fn fresh(stopped: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(base(stopped), dir.path());
    dir
}

fn files_under(root: &Path, folder: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("AWSLogs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let key = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if key.contains(&format!("/{folder}/")) {
                    out.push(key);
                }
            }
        }
    }
    out.sort();
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Digests of the single chain in end-time order, with their documents.
fn digests(root: &Path) -> Vec<(String, Value)> {
    files_under(root, "CloudTrail-Digest")
        .into_iter()
        .map(|k| {
            let doc = serde_json::from_slice(&gunzip(&std::fs::read(root.join(&k)).unwrap()));
            (k, doc.unwrap())
        })
        .collect()
}

fn listed(doc: &Value) -> Vec<String> {
    doc["logFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["s3Object"].as_str().unwrap().to_string())
        .collect()
}

/// Index of a mid-day digest that lists at least `n` log files, followed by `after` more digests
/// that each list at least one.
fn busy_digest(all: &[(String, Value)], n: usize, after: usize) -> usize {
    (all.len() / 3..all.len() - after - 2)
        .find(|&i| {
            listed(&all[i].1).len() >= n && (1..=after).all(|k| !listed(&all[i + k].1).is_empty())
        })
        .expect("a busy hour in the generated archive")
}

/// Rewrites the log file at `path` with its first event name prefixed by `mark`, re-gzipped:
/// a well-formed file whose content no longer matches its digest.
fn forge_first_event_name(path: &Path, mark: &str) {
    let text = String::from_utf8(gunzip(&std::fs::read(path).unwrap())).unwrap();
    let forged = text.replacen("\"eventName\":\"", &format!("\"eventName\":\"{mark}"), 1);
    assert_ne!(text, forged);
    std::fs::write(path, gzip(forged.as_bytes())).unwrap();
}

async fn run_verify(root: &Path) -> VerifyReport {
    let location = Location::open(root.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let options = VerifyOptions {
        keys: KeySource::Ring(KeyRing::from_file(&root.join(KEYS)).unwrap()),
        signatures: load_signatures(&root.join(SIGNATURES)).unwrap(),
        ..VerifyOptions::default()
    };
    verify(&location, &Scope::default(), &options)
        .await
        .unwrap()
}

async fn run_gaps(root: &Path) -> GapReport {
    let location = Location::open(root.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, Scope::default(), false);
    gaps(&source.into(), &GapOptions::default(), None)
        .await
        .unwrap()
}

/// Every non-valid item: (type, key, status).
/// The findings: what is not valid, leaving out the log files that are only unattested (the
/// digest they depend on carries the finding; tests of that look at them on their own).
fn problems(report: &VerifyReport) -> BTreeSet<(&'static str, String, &'static str)> {
    let digests = report
        .digests
        .iter()
        .filter(|d| d.status != DigestStatus::Valid)
        .map(|d| ("digest", d.key.clone(), d.status.as_str()));
    let logs = report
        .log_files
        .iter()
        .filter(|l| !matches!(l.status, LogFileStatus::Valid | LogFileStatus::Unattested))
        .map(|l| ("log_file", l.key.clone(), l.status.as_str()));
    digests.chain(logs).collect()
}

fn one(
    kind: &'static str,
    key: &str,
    status: &'static str,
) -> BTreeSet<(&'static str, String, &'static str)> {
    BTreeSet::from([(kind, key.to_string(), status)])
}

#[tokio::test]
async fn pristine_archive_verifies_and_its_quiet_hours_are_attested() {
    let root = base(false);
    let report = run_verify(root).await;
    assert_eq!(problems(&report), BTreeSet::new());
    let (valid, total) = report.digest_counts();
    assert!(valid == total && total >= 24, "{valid}/{total}");
    assert!(report.log_file_counts().1 > 20);
    let gaps = run_gaps(root).await;
    // A quiet night: CloudTrail itself attests it with empty digests.
    let quiet: Vec<_> = gaps
        .gaps
        .iter()
        .filter(|g| g.class == GapClass::AttestedQuiet)
        .collect();
    assert!(!quiet.is_empty(), "{:?}", gaps.gaps);
    assert!(
        quiet
            .iter()
            .all(|g| g.evidence["digests"].as_u64().unwrap() >= 1)
    );
    assert_eq!(
        gaps.gaps
            .iter()
            .filter(|g| g.class != GapClass::AttestedQuiet)
            .count(),
        0,
        "{:?}",
        gaps.gaps
    );
}

#[tokio::test]
async fn deleted_log_file_is_missing() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let victim = listed(&all[busy_digest(&all, 2, 0)].1)[0].clone();
    std::fs::remove_file(dir.path().join(&victim)).unwrap();
    assert_eq!(
        problems(&run_verify(dir.path()).await),
        one("log_file", &victim, "missing")
    );
}

#[tokio::test]
async fn modified_log_file_has_invalid_hash() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let victim = listed(&all[busy_digest(&all, 1, 0)].1)[0].clone();
    forge_first_event_name(&dir.path().join(&victim), "X");
    assert_eq!(
        problems(&run_verify(dir.path()).await),
        one("log_file", &victim, "invalid_hash")
    );
}

#[tokio::test]
async fn appended_gzip_member_is_trailing_data() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let victim = listed(&all[busy_digest(&all, 1, 0)].1)[0].clone();
    let path = dir.path().join(&victim);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(gzip(br#"{"Records":[{"eventName":"Forged"}]}"#));
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(
        problems(&run_verify(dir.path()).await),
        one("log_file", &victim, "trailing_data")
    );
}

/// The report's scan records the hashes of what it decoded, and verify judges those files from
/// them: the same verdicts as reading them again, on the bytes the events came from.
#[tokio::test]
async fn verdicts_from_a_scans_readings_are_those_of_reading_again() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let files = listed(&all[busy_digest(&all, 4, 0)].1);
    // One forged, one with a member appended, one deleted.
    forge_first_event_name(&dir.path().join(&files[0]), "X");
    let appended = dir.path().join(&files[1]);
    let mut bytes = std::fs::read(&appended).unwrap();
    bytes.extend(gzip(br#"{"Records":[{"eventName":"Forged"}]}"#));
    std::fs::write(&appended, bytes).unwrap();
    std::fs::remove_file(dir.path().join(&files[2])).unwrap();

    let location = Location::open(dir.path().to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let mut source = ArchiveSource::new(location.clone(), Scope::default(), false);
    let readings = std::sync::Arc::new(trailscope::archive::Readings::default());
    source.readings = Some(readings.clone());
    let ctx = trailscope::table::session(source).unwrap();
    ctx.sql("SELECT count(*) FROM cloudtrail")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let read_files = files_under(dir.path(), "CloudTrail").len();
    assert_eq!(
        readings.len(),
        read_files,
        "every log file read was recorded"
    );

    let judge = |readings: Option<std::sync::Arc<trailscope::archive::Readings>>| {
        let location = location.clone();
        let root = dir.path().to_path_buf();
        async move {
            let options = VerifyOptions {
                keys: KeySource::Ring(KeyRing::from_file(&root.join(KEYS)).unwrap()),
                signatures: load_signatures(&root.join(SIGNATURES)).unwrap(),
                readings,
                ..VerifyOptions::default()
            };
            verify(&location, &Scope::default(), &options)
                .await
                .unwrap()
        }
    };
    let from_readings = judge(Some(readings.clone())).await;
    let expected: BTreeSet<_> = [
        ("log_file", files[0].clone(), "invalid_hash"),
        ("log_file", files[1].clone(), "trailing_data"),
        ("log_file", files[2].clone(), "missing"),
    ]
    .into_iter()
    .collect();
    assert_eq!(problems(&from_readings), expected);
    assert_eq!(
        from_readings.log_files,
        judge(None).await.log_files,
        "every verdict as when reading again"
    );

    // Verify recorded each digest's hash as stored, which the report's manifest takes.
    for (key, _) in &all {
        use sha2::Digest;
        let bytes = std::fs::read(dir.path().join(key)).unwrap();
        let reading = readings
            .get(key)
            .unwrap_or_else(|| panic!("{key} not recorded"));
        assert_eq!(
            reading.stored_sha256,
            hex::encode(sha2::Sha256::digest(&bytes))
        );
        assert_eq!(reading.size, bytes.len() as u64);
    }

    // They were judged from the readings: a file forged after the scan still shows what was read.
    forge_first_event_name(&dir.path().join(&files[3]), "Y");
    assert_eq!(problems(&judge(Some(readings)).await), expected);
    assert!(problems(&judge(None).await).contains(&("log_file", files[3].clone(), "invalid_hash")));
}

#[tokio::test]
async fn injected_log_file_is_unlisted() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let original = listed(&all[busy_digest(&all, 1, 0)].1)[0].clone();
    // Same folder and stamp, another unique suffix: what a forger would write.
    let (head, _) = original.rsplit_once('_').unwrap();
    let injected = format!("{head}_INJECTEDforgery1.json.gz");
    std::fs::copy(dir.path().join(&original), dir.path().join(&injected)).unwrap();
    assert_eq!(
        problems(&run_verify(dir.path()).await),
        one("log_file", &injected, "unlisted")
    );
}

#[tokio::test]
async fn deleted_digest_is_missing() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let victim = &all[all.len() / 2].0;
    std::fs::remove_file(dir.path().join(victim)).unwrap();
    assert_eq!(
        problems(&run_verify(dir.path()).await),
        one("digest", victim, "missing")
    );
}

#[tokio::test]
async fn every_log_file_gets_one_verdict_and_a_deleted_digests_files_are_unattested() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let (victim, doc) = &all[busy_digest(&all, 2, 0)];
    let orphans: BTreeSet<String> = listed(doc).into_iter().collect();
    assert!(!orphans.is_empty());
    std::fs::remove_file(dir.path().join(victim)).unwrap();
    let report = run_verify(dir.path()).await;
    let mut verdicts: std::collections::BTreeMap<&str, Vec<&LogFileCheck>> = Default::default();
    for l in &report.log_files {
        verdicts.entry(l.key.as_str()).or_default().push(l);
    }
    let in_archive: BTreeSet<String> = files_under(dir.path(), "CloudTrail").into_iter().collect();
    let reported: BTreeSet<String> = verdicts.keys().map(|k| k.to_string()).collect();
    assert_eq!(reported, in_archive, "reported = listed");
    assert!(
        verdicts.values().all(|v| v.len() == 1),
        "one verdict per file"
    );
    for key in &orphans {
        let v = verdicts[key.as_str()][0];
        assert_eq!(v.status, LogFileStatus::Unattested, "{key}");
        assert_eq!(v.digest_key.as_deref(), Some(victim.as_str()), "{key}");
    }
    let unattested = report
        .log_files
        .iter()
        .filter(|l| l.status == LogFileStatus::Unattested);
    assert!(
        unattested.clone().all(|l| orphans.contains(&l.key)),
        "only its files"
    );
    assert_eq!(unattested.count(), orphans.len());
}

#[tokio::test]
async fn two_consecutive_deleted_digests_are_two_findings() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let i = all.len() / 2;
    for (key, _) in &all[i..i + 2] {
        std::fs::remove_file(dir.path().join(key)).unwrap();
    }
    let expected: BTreeSet<_> = all[i..i + 2]
        .iter()
        .map(|(k, _)| ("digest", k.clone(), "missing"))
        .collect();
    assert_eq!(problems(&run_verify(dir.path()).await), expected);
}

#[tokio::test]
async fn edited_digest_has_invalid_signature() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let victim = &all[all.len() / 2].0;
    let path = dir.path().join(victim);
    // Same JSON meaning, different bytes: the signature and the successor's hash both break.
    let mut body = gunzip(&std::fs::read(&path).unwrap());
    body.push(b' ');
    std::fs::write(&path, gzip(&body)).unwrap();
    let report = run_verify(dir.path()).await;
    assert_eq!(
        problems(&report),
        one("digest", victim, "invalid_signature")
    );
    let check = report.digests.iter().find(|d| &d.key == victim).unwrap();
    assert!(check.detail.contains("recorded"), "{}", check.detail);
}

#[tokio::test]
async fn three_hour_hole_is_three_missing_digests_and_one_unattested_gap() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let i = busy_digest(&all, 1, 3);
    let hole = &all[i + 1..i + 4];
    for (key, doc) in hole {
        for log in listed(doc) {
            std::fs::remove_file(dir.path().join(log)).unwrap();
        }
        std::fs::remove_file(dir.path().join(key)).unwrap();
    }
    let expected: BTreeSet<_> = hole
        .iter()
        .map(|(k, _)| ("digest", k.clone(), "missing"))
        .collect();
    assert_eq!(problems(&run_verify(dir.path()).await), expected);

    let report = run_gaps(dir.path()).await;
    let critical: Vec<_> = report
        .gaps
        .iter()
        .filter(|g| g.class != GapClass::AttestedQuiet)
        .collect();
    assert_eq!(critical.len(), 1, "{critical:?}");
    let gap = critical[0];
    assert_eq!(gap.class, GapClass::Unattested);
    let missing = gap.evidence["missing_digests"].as_array().unwrap();
    assert_eq!(missing.len(), 3, "{}", gap.evidence);
    let hole_start = at(hole[0].1["digestStartTime"].as_str().unwrap());
    let hole_end = at(hole[2].1["digestEndTime"].as_str().unwrap());
    assert!(gap.start <= hole_start && gap.end >= hole_end, "{gap:?}");
}

#[tokio::test]
async fn logs_deleted_under_intact_digests_are_a_deleted_logs_gap() {
    let dir = fresh(false);
    let all = digests(dir.path());
    let i = busy_digest(&all, 1, 3);
    let mut gone = Vec::new();
    for (_, doc) in &all[i + 1..i + 3] {
        for log in listed(doc) {
            std::fs::remove_file(dir.path().join(&log)).unwrap();
            gone.push(log);
        }
    }
    let report = run_gaps(dir.path()).await;
    let critical: Vec<_> = report
        .gaps
        .iter()
        .filter(|g| g.class != GapClass::AttestedQuiet)
        .collect();
    assert_eq!(critical.len(), 1, "{critical:?}");
    assert_eq!(critical[0].class, GapClass::DeletedLogs);
    let named: BTreeSet<&str> = critical[0].evidence["missing_log_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!named.is_empty() && named.iter().all(|k| gone.iter().any(|g| g == k)));
}

#[tokio::test]
async fn stop_and_restart_is_an_explained_gap_and_a_valid_chain() {
    let root = base(true);
    let report = run_verify(root).await;
    assert_eq!(problems(&report), BTreeSet::new());
    assert!(report.digests.iter().filter(|d| d.chain_start).count() >= 2);
    let g = run_gaps(root).await;
    let not_quiet: Vec<_> = g
        .gaps
        .iter()
        .filter(|g| g.class != GapClass::AttestedQuiet)
        .collect();
    assert_eq!(not_quiet.len(), 1, "{not_quiet:?}");
    let stop = not_quiet[0];
    assert_eq!(stop.class, GapClass::ExplainedStop);
    // The gap runs from the final flush right after the stop to the first delivery after the restart.
    assert!(
        stop.start <= at("2026-10-01T10:12:00Z") && stop.end >= at("2026-10-01T14:40:00Z"),
        "{stop:?}"
    );
    assert_eq!(stop.evidence["event"], "StopLogging");
    assert_eq!(stop.evidence["restarted_at"], "2026-10-01T14:40:00Z");
    assert!(
        stop.evidence["stopped_by"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::")
    );
    assert!(stop.evidence["source_ip"].is_string());
    assert!(
        g.timelines[0].cells.contains("SSS"),
        "{}",
        g.timelines[0].cells
    );
}

/// A range that starts during the stop: the StopLogging before the range is found by looking
/// back (only because the gap at the range's start would otherwise be unexplained), and without
/// the lookback the same gap is not called explained.
#[tokio::test]
async fn a_stop_before_the_range_explains_the_gap_at_its_start() {
    let root = base(true);
    let location = Location::open(root.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let scope = Scope {
        from: Some(at("2026-10-01T12:00:00Z")),
        ..Scope::default()
    };
    let first = |options: GapOptions| {
        let (location, scope) = (location.clone(), scope.clone());
        async move {
            let source = ArchiveSource::new(location, scope, false);
            let report = gaps(&source.into(), &options, None).await.unwrap();
            let g = report
                .gaps
                .into_iter()
                .find(|g| g.start == at("2026-10-01T12:00:00Z"))
                .expect("a gap at the range's start");
            (g.class, report.stops.len())
        }
    };
    let (class, stops) = first(GapOptions::default()).await;
    assert_eq!(class, GapClass::ExplainedStop);
    assert_eq!(stops, 1);
    let (class, stops) = first(GapOptions {
        stop_lookback: chrono::Duration::zero(),
        ..GapOptions::default()
    })
    .await;
    assert_ne!(class, GapClass::ExplainedStop);
    assert_eq!(stops, 0);
}

// ---- the command line ----

fn trailscope(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailscope"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn path_arg(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn cli_verify_exit_codes_and_jsonl() {
    let dir = fresh(false);
    let root = dir.path();
    let all = digests(root);
    let victim = all[all.len() / 2].0.clone();
    let archive = path_arg(root);
    let keys = path_arg(&root.join(KEYS));
    let sigs = path_arg(&root.join(SIGNATURES));
    let args = [
        "verify",
        "-a",
        &archive,
        "--public-keys",
        &keys,
        "--signatures",
        &sigs,
    ];

    let clean = trailscope(&args, &[]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let text = String::from_utf8_lossy(&clean.stdout);
    assert!(
        text.contains(&format!("{0}/{0} digest files valid", all.len())),
        "{text}"
    );

    std::fs::remove_file(root.join(&victim)).unwrap();
    let mut jsonl = args.to_vec();
    jsonl.extend(["--format", "jsonl"]);
    let tampered = trailscope(&jsonl, &[]);
    assert_eq!(tampered.status.code(), Some(1));
    let lines: Vec<Value> = String::from_utf8_lossy(&tampered.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bad: Vec<&Value> = lines
        .iter()
        .filter(|l| l["status"] != "valid" && l["status"] != "unattested")
        .collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    let unattested = lines.iter().filter(|l| l["status"] == "unattested");
    assert!(
        unattested.clone().count() > 0
            && unattested
                .clone()
                .all(|l| l["digest_key"] == victim.as_str()),
        "the deleted digest's files are unattested, naming it"
    );
    assert_eq!(bad[0]["type"], "digest");
    assert_eq!(bad[0]["key"], victim.as_str());
    assert_eq!(bad[0]["status"], "missing");
    for key in ["account_id", "region", "trail", "end_time", "detail"] {
        assert!(bad[0].get(key).is_some(), "{key} in {}", bad[0]);
    }
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "log_file" && l["status"] == "valid")
    );

    // Offline without signatures: only the newest digest is unverifiable.
    let offline = trailscope(
        &[
            "verify",
            "-a",
            &archive,
            "--public-keys",
            &keys,
            "--format",
            "jsonl",
        ],
        &[],
    );
    let unsigned = String::from_utf8_lossy(&offline.stdout)
        .lines()
        .filter(|l| l.contains("\"unsigned\""))
        .count();
    assert!(unsigned >= 1);

    let usage = trailscope(
        &[
            "verify",
            "-a",
            &archive,
            "--public-keys",
            "/no/such/keys.json",
        ],
        &[],
    );
    assert_eq!(usage.status.code(), Some(2));
}

/// The stop events `gaps` reads come from decoding log files: one that cannot be decoded is
/// named on stderr (it used to vanish), and fails the run under --strict.
#[test]
fn gaps_names_a_log_file_its_stop_events_could_not_be_read_from() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(Path::new("testdata/archive"), dir.path());
    let key = "AWSLogs/566424620868/CloudTrail/us-east-1/2026/10/01/\
               566424620868_CloudTrail_us-east-1_20261001T1200Z_corruptcorrupt01.json.gz";
    crate::util::plant(dir.path(), key, &gzip(b"{\"Records\": [ not json"));
    let archive = dir.path().to_str().unwrap();
    let out = trailscope(&["gaps", "-a", archive, "--format", "jsonl"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(key), "{stderr}");
    let strict = trailscope(&["gaps", "-a", archive, "--strict"], &[]);
    assert_eq!(
        strict.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
}

#[test]
fn cli_gaps_jsonl_and_timeline() {
    let root = base(true);
    let archive = path_arg(root);
    let out = trailscope(&["gaps", "-a", &archive, "--format", "jsonl"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gaps: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        gaps.iter()
            .all(|g| g["type"] == "gap" && g["start"].is_string() && g["evidence"].is_object())
    );
    assert!(gaps.iter().any(|g| g["class"] == "explained_stop"));
    let text = trailscope(&["gaps", "-a", &archive], &[]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Timeline from") && text.contains("SSS"),
        "{text}"
    );
}

/// `cloudtrail:ListPublicKeys` against a loopback endpoint speaking the JSON 1.1 protocol
/// (moto does not implement it).
#[test]
fn cli_verify_fetches_public_keys_from_the_endpoint() {
    let root = base(false);
    let der = trailscope::generate::test_public_key_der();
    use base64::Engine as _;
    let body = serde_json::json!({
        "PublicKeyList": [{
            "Value": base64::engine::general_purpose::STANDARD.encode(&der),
            "ValidityStartTime": 1.7e9,
            "ValidityEndTime": 1.9e9,
            "Fingerprint": trailscope::generate::test_key_fingerprint(),
        }]
    })
    .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut targets = Vec::new();
        // One request per region with digests (one region here); answer until the client is done.
        listener.set_nonblocking(false).unwrap();
        if let Ok((mut stream, _)) = listener.accept() {
            let request = read_http_request(&mut stream);
            targets.push(request);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
        }
        targets
    });
    let archive = path_arg(root);
    let sigs = path_arg(&root.join(SIGNATURES));
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = trailscope(
        &[
            "verify",
            "-a",
            &archive,
            "--signatures",
            &sigs,
            "--endpoint-url",
            &endpoint,
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    let requests = server.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request.contains("x-amz-target: CloudTrail_20131101.ListPublicKeys"),
        "{request}"
    );
    assert!(
        request.contains("StartTime") && request.contains("EndTime"),
        "{request}"
    );
}

fn read_http_request(stream: &mut std::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= head_end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

/// The SQL tables: a deleted digest and the gap it leaves, joinable with `cloudtrail`.
#[tokio::test]
async fn sql_tables_show_findings_and_join_with_events() {
    use trailscope::table::{ArchiveSource, session};
    let dir = fresh(false);
    let all = digests(dir.path());
    let i = busy_digest(&all, 1, 3);
    let victim = all[i + 1].0.clone();
    for log in listed(&all[i + 1].1) {
        std::fs::remove_file(dir.path().join(log)).unwrap();
    }
    std::fs::remove_file(dir.path().join(&victim)).unwrap();
    let location = Location::open(dir.path().to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let ctx = session(ArchiveSource::new(location, Scope::default(), false)).unwrap();
    let text = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string()
        }
    };
    let missing = text("SELECT key FROM digests WHERE status = 'missing'").await;
    assert!(missing.contains(&victim), "{missing}");
    let results = text("SELECT type, status, count(*) AS n FROM verify_results WHERE status <> 'valid' GROUP BY 1, 2").await;
    assert!(results.contains("| digest | missing | 1 |"), "{results}");
    let present = text("SELECT count(*) AS n FROM digest_log_files WHERE NOT present").await;
    assert!(present.contains("| 0 |"), "{present}");
    let joined = text(
        "SELECT g.class, count(c.eventid) > 0 AS events_before \
         FROM gaps g LEFT JOIN cloudtrail c \
           ON c.recipientaccountid = g.account_id \
          AND c.eventtime BETWEEN g.start - INTERVAL '2 hours' AND g.start \
         WHERE g.class <> 'attested_quiet' GROUP BY g.class",
    )
    .await;
    assert!(joined.contains("| unattested | true "), "{joined}");
}

/// The archive served by moto_server on 127.0.0.1 with each digest's signature in its S3 object
/// metadata (`x-amz-meta-signature`), keys from a file: every digest verifies, the newest too
/// (offline it would be unsigned), and an edited digest is caught through the metadata path.
#[tokio::test]
async fn s3_metadata_signatures_verify_every_digest() {
    let moto = crate::util::moto();
    let dir = fresh(false);
    let root = dir.path();
    let signatures: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(SIGNATURES)).unwrap()).unwrap();
    let metadata: Vec<(String, String, String)> = signatures
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, v)| {
            let sig = v["signature"].as_str().or(v.as_str()).unwrap().to_string();
            (key.clone(), "signature".to_string(), sig)
        })
        .collect();
    let all = digests(root);
    assert_eq!(metadata.len(), all.len());
    // The keys file stays local (--public-keys); the archive in the bucket is what AWS holds.
    let keys = tempfile::tempdir().unwrap();
    std::fs::copy(root.join(KEYS), keys.path().join("keys.json")).unwrap();
    std::fs::remove_dir_all(root.join("_trailscope")).unwrap();
    moto.upload("verify-metadata", root, &metadata).await;

    let keys_arg = path_arg(&keys.path().join("keys.json"));
    let args = [
        "verify",
        "-a",
        "s3://verify-metadata",
        "--endpoint-url",
        &moto.endpoint,
        "--public-keys",
        &keys_arg,
        "--format",
        "jsonl",
    ];
    let out = trailscope(&args, crate::util::MOTO_ENV);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let digest_items: Vec<&Value> = items.iter().filter(|i| i["type"] == "digest").collect();
    assert_eq!(digest_items.len(), all.len());
    assert!(
        digest_items.iter().all(|d| d["status"] == "valid"),
        "{text}"
    );
    assert!(items.iter().any(|i| i["type"] == "log_file"));
    assert!(items.iter().all(|i| i["status"] == "valid"), "{text}");

    // Edit one digest in the bucket (same metadata signature): its signature no longer matches.
    let (victim, doc) = &all[all.len() / 2];
    let mut edited = doc.clone();
    edited["logFiles"] = serde_json::json!([]);
    let sig = metadata
        .iter()
        .find(|(k, _, _)| k == victim)
        .unwrap()
        .2
        .clone();
    let staged = tempfile::tempdir().unwrap();
    crate::util::plant(staged.path(), victim, &gzip(edited.to_string().as_bytes()));
    moto.upload_more(
        "verify-metadata",
        staged.path(),
        &[(victim.clone(), "signature".into(), sig)],
    )
    .await;
    let out = trailscope(&args, crate::util::MOTO_ENV);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|i| i["status"] != "valid")
        .collect();
    assert!(
        bad.iter()
            .any(|i| i["key"] == victim.as_str() && i["status"] == "invalid_signature"),
        "{bad:?}"
    );
}

/// The newest digests of one region, deleted from its last two busy hours on: no successor
/// names them, but log files were delivered after the remaining chain's end while the trail's
/// digests in the other region go on, so each digest whose hour holds such log files is reported
/// missing on its own, and nothing else is reported.
#[tokio::test]
async fn deleted_newest_digests_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(Vec::new());
    opts.regions = vec!["eu-west-1".into(), "us-west-2".into()];
    generate(dir.path(), &opts).unwrap();
    let pristine = run_verify(dir.path()).await;
    assert!(problems(&pristine).is_empty(), "{:?}", problems(&pristine));

    let mut west: Vec<(String, Value)> = digests(dir.path())
        .into_iter()
        .filter(|(k, _)| k.contains("/us-west-2/"))
        .collect();
    west.sort_by(|a, b| {
        a.1["digestEndTime"]
            .as_str()
            .cmp(&b.1["digestEndTime"].as_str())
    });
    let busy: Vec<usize> = (0..west.len())
        .filter(|i| !listed(&west[*i].1).is_empty())
        .collect();
    let from = busy[busy.len() - 2];
    let deleted = &west[from..];
    for (key, _) in deleted {
        std::fs::remove_file(dir.path().join(key)).unwrap();
    }
    let latest_log = files_under(dir.path(), "CloudTrail")
        .iter()
        .filter(|k| k.contains("/us-west-2/"))
        .filter_map(|k| trailscope::archive::parse_key(k).and_then(|p| p.stamp))
        .max()
        .unwrap();
    // Due: the deleted digests whose hour began before the last log file was delivered.
    let due: BTreeSet<String> = deleted
        .iter()
        .filter(|(_, v)| at(v["digestStartTime"].as_str().unwrap()) < latest_log)
        .map(|(_, v)| v["digestEndTime"].as_str().unwrap()[..13].to_string())
        .collect();
    assert!(due.len() >= 2, "{due:?}");

    let report = run_verify(dir.path()).await;
    let found = problems(&report);
    assert_eq!(found.len(), due.len(), "{found:?}");
    assert!(
        found
            .iter()
            .all(|(kind, _, status)| *kind == "digest" && *status == "missing"),
        "{found:?}"
    );
    let ends: BTreeSet<String> = report
        .digests
        .iter()
        .filter(|d| d.status == DigestStatus::Missing)
        .map(|d| d.end_time.unwrap().format("%Y-%m-%dT%H").to_string())
        .collect();
    assert_eq!(ends, due);
}

#[tokio::test]
async fn verify_over_s3_gives_the_same_verdicts_through_throttling_resets_and_broken_bodies() {
    use crate::fault_proxy::{Fault, FaultProxy, Rule};
    let root = base(false);
    let moto = crate::util::moto();
    moto.upload("verify-faults", root, &[]).await;
    let (keys, signatures) = (path_arg(&root.join(KEYS)), path_arg(&root.join(SIGNATURES)));
    let run_with = |endpoint: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "-q",
            "-a",
            "s3://verify-faults",
            "--endpoint-url",
            endpoint,
            "--public-keys",
            &keys,
            "--signatures",
            &signatures,
            "--format",
            "jsonl",
        ];
        args.extend_from_slice(extra);
        let out = trailscope(&args, crate::util::MOTO_ENV);
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        (out.status.code(), lines, out)
    };
    let run = |endpoint: &str| run_with(endpoint, &[]);
    let (healthy_code, healthy, out) = run(&moto.endpoint);
    assert_eq!(
        healthy_code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(healthy.len() > 100);
    let proxy = FaultProxy::start(
        &moto.endpoint,
        vec![
            Rule::burst(Fault::SlowDown, std::time::Duration::from_secs(5)),
            Rule::times(Fault::Reset, "/CloudTrail-Digest/", 10),
            Rule::times(Fault::TruncateBody, "/CloudTrail-Digest/", 10),
            Rule::times(Fault::TruncateBody, "/CloudTrail/", 10),
            Rule::times(Fault::InternalError, "/CloudTrail/", 10),
        ],
    );
    let (code, faulty, out) = run(&proxy.endpoint);
    assert_eq!(
        code,
        healthy_code,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(faulty, healthy);
    for fault in [
        Fault::SlowDown,
        Fault::Reset,
        Fault::TruncateBody,
        Fault::InternalError,
    ] {
        assert!(proxy.count(fault) >= 10, "{fault:?} was not applied");
    }

    // A digest that never arrives fails verify, naming it; with --allow-partial it is
    // `unfetched`, the files it lists are `unattested` naming it, and nothing else changes.
    let all = digests(root);
    let (victim, doc) = &all[busy_digest(&all, 2, 0)];
    let name = victim.rsplit('/').next().unwrap();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        vec![Rule::always(Fault::InternalError, name)],
    );
    let budget = ["--retry-budget", "1s"];
    let (code, _, out) = run_with(&proxy.endpoint, &budget);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(name) && stderr.contains("--allow-partial"),
        "{stderr}"
    );
    let (code, partial, _) = run_with(&proxy.endpoint, &[budget[0], budget[1], "--allow-partial"]);
    assert_eq!(code, Some(1));
    let orphans: BTreeSet<String> = listed(doc).into_iter().collect();
    let changed: Vec<Value> = partial
        .iter()
        .filter(|l| !healthy.contains(l))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(changed.len(), orphans.len() + 1, "{changed:?}");
    for item in &changed {
        if item["type"] == "digest" {
            assert_eq!(
                (&item["key"], &item["status"]),
                (&Value::from(victim.as_str()), &Value::from("unfetched"))
            );
        } else {
            assert!(orphans.contains(item["key"].as_str().unwrap()), "{item}");
            assert_eq!(item["status"], "unattested");
            assert_eq!(item["digest_key"], victim.as_str());
        }
    }
}

/// `gaps --account A` reads stop events of A only: another account's StopLogging neither costs
/// a scan of that account nor appears among A's stops.
#[tokio::test]
async fn gaps_for_one_account_read_only_that_accounts_stop_events() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(
        dir.path(),
        &GenerateOptions {
            accounts: 2,
            ..options(vec![StopEpisode {
                account_index: 1,
                stop: at("2026-10-01T10:10:00Z"),
                restart: Some(at("2026-10-01T14:40:00Z")),
            }])
        },
    )
    .unwrap();
    let location = Location::open(dir.path().to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let for_account = |i: usize| {
        let location = location.clone();
        let account = summary.accounts[i].clone();
        async move {
            let scope = Scope {
                from: Some(at("2026-10-01T12:00:00Z")),
                accounts: BTreeSet::from([account.clone()]),
                ..Scope::default()
            };
            let source = ArchiveSource::new(location, scope, false);
            let stats = source.stats.clone();
            let report = gaps(&source.into(), &GapOptions::default(), None)
                .await
                .unwrap();
            (report.stops, stats, account)
        }
    };
    let (stops, _, owner) = for_account(1).await;
    assert_eq!(stops.len(), 1);
    assert!(stops[0].accounts.contains(&owner));
    let (stops, stats, _) = for_account(0).await;
    assert!(stops.is_empty(), "{stops:?}");
    let opened = trailscope::table::ScanStats::get(&stats.objects_opened);
    let own_files = files_under(dir.path(), "CloudTrail")
        .iter()
        .filter(|k| k.contains(&summary.accounts[0]))
        .count() as u64;
    assert!(
        opened <= own_files,
        "{opened} objects read, {own_files} are the account's"
    );
}
