//! The Parquet lake: `convert` then `--lake` must answer exactly as the raw archive does, stay
//! complete as new objects arrive, survive interruption, and work on S3.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trailscope::archive::{Location, S3Options, Scope};
use trailscope::generate::{GenerateOptions, generate};
use trailscope::lake::{ConvertOptions, ConvertSummary, Lake, LakeSnapshot, convert, manifest};
use trailscope::table::{ArchiveSource, ScanStats, TableSource, session, statements};

use crate::util::{
    MOTO_ENV, copy_tree, grycap, keys_under, moto, plant, query, rows, scalar, stderr, stdout,
    trailscope, trailscope_with_env,
};

/// Questions whose answers must not depend on where the rows come from.
pub(crate) const SAME_ANSWERS: &[&str] = &[
    "SELECT count(*), count(DISTINCT eventid), count(DISTINCT log_file), min(eventtime), max(eventtime) FROM cloudtrail",
    "SELECT eventid, log_file FROM cloudtrail ORDER BY 1, 2",
    "SELECT account_id, region, eventname, count(*), count(errorcode), count(DISTINCT useridentity.arn) FROM cloudtrail GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "SELECT eventid, useridentity.type, json_extract_scalar(requestparameters, '$.bucketName') FROM cloudtrail \
     WHERE eventtime >= '2017-06-01' AND eventtime < '2017-06-02' AND region = 'us-east-1' ORDER BY 1",
    "SELECT eventid, useridentity.type FROM cloudtrail \
     WHERE eventtime >= '2026-10-02' AND eventtime < '2026-10-03' AND errorcode IS NULL ORDER BY 1",
    // Athena's partition columns come from each row's key, whether the row was read from
    // Parquet or raw.
    "SELECT year, month, day, \"timestamp\", accountid, region_partition, count(*) FROM cloudtrail \
     WHERE year = '2017' GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
];

/// Every column of every row, in one order: the lake keeps the raw table's values exactly.
pub(crate) const ALL_ROWS: &str = "SELECT * FROM cloudtrail ORDER BY eventid, log_file";

async fn lake_at(archive: &Path, lake: &Path) -> Lake {
    let (lake, archive) = (lake.to_str().unwrap(), archive.to_str().unwrap());
    Lake::open(lake, archive, &S3Options::default())
        .await
        .unwrap()
}

pub(crate) async fn open_lake(archive: &Path, lake: &Path) -> Arc<LakeSnapshot> {
    Arc::new(manifest::load(&lake_at(archive, lake).await).await.unwrap())
}

/// `sql` over the archive read through the lake; the rows and the source (its counters).
/// A query as the CLI makes it: the lake opened for queries (source lists before its checkpoint
/// unread).
pub(crate) async fn lake_query(
    archive: &Path,
    lake: &Path,
    sql: &str,
) -> (Vec<String>, TableSource) {
    let l = lake_at(archive, lake).await;
    let snapshot = Arc::new(manifest::load_for_queries(&l).await.unwrap());
    snapshot_query(archive, snapshot, sql).await
}

async fn snapshot_query(
    archive: &Path,
    lake: Arc<LakeSnapshot>,
    sql: &str,
) -> (Vec<String>, TableSource) {
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = TableSource::new(
        ArchiveSource::new(location, Scope::default(), false),
        Some(lake),
    );
    let ctx = session(&source).unwrap();
    let parsed = statements::parse_checked(sql, None).unwrap();
    let mut results = statements::execute(&ctx, parsed).await.unwrap();
    (rows(&results.pop().unwrap().batches), source)
}

/// Replaces a converted log file with one holding a single `Rewritten` event (another size).
fn rewrite_as_one_event(archive: &Path, key: &str) {
    let rewritten = r#"{"Records":[{"eventTime":"2026-10-01T08:00:00Z","eventName":"Rewritten","eventID":"rewritten-1"}]}"#;
    plant(archive, key, &crate::util::gzip(rewritten.as_bytes()));
}

async fn raw_rows(archive: &Path, sql: &str) -> Vec<String> {
    rows(&query(archive, Scope::default(), sql).await.0)
}

pub(crate) async fn convert_with(
    archive: &Path,
    lake: &Path,
    options: &ConvertOptions,
) -> trailscope::Result<ConvertSummary> {
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, Scope::default(), false);
    let l = Lake::create(
        lake.to_str().unwrap(),
        archive.to_str().unwrap(),
        &S3Options::default(),
    )
    .await
    .unwrap();
    convert(&source, &l, options).await
}

/// Small commits, so a generated archive takes several (and interruption has places to hit).
fn small_steps() -> ConvertOptions {
    ConvertOptions {
        commit_bytes: 256 << 10,
        ..ConvertOptions::default()
    }
}

pub(crate) fn generated(dir: &Path) -> u64 {
    let opts = GenerateOptions {
        days: 3,
        accounts: 2,
        events_per_day: 1500,
        digests: false,
        ..GenerateOptions::default()
    };
    generate(dir, &opts).unwrap().events
}

async fn assert_same_answers(archive: &Path, lake: &Path) {
    for sql in SAME_ANSWERS {
        let raw = raw_rows(archive, sql).await;
        let (via_lake, source) = lake_query(archive, lake, sql).await;
        assert_eq!(via_lake, raw, "{sql}");
        assert!(source.errors.all().is_empty(), "{:?}", source.errors.all());
    }
}

#[tokio::test]
async fn grycap_lake_answers_as_the_raw_archive() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let summary = convert_with(&grycap(), &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.records, 17598);
    assert_eq!(summary.objects_converted, 1067);
    assert_eq!(summary.objects_unreadable, 0);
    assert_same_answers(&grycap(), &lake).await;
    let raw = raw_rows(&grycap(), ALL_ROWS).await;
    let (via_lake, source) = lake_query(&grycap(), &lake, ALL_ROWS).await;
    assert_eq!(raw.len(), 17598);
    assert!(
        raw == via_lake,
        "a row differs between the lake and the raw archive"
    );
    // All of it came from Parquet: not one raw object was opened.
    assert_eq!(ScanStats::get(&source.stats.objects_opened), 0);
    // Partitions by account, delivery region and event day; the metadata beside them.
    let keys = keys_under(&lake);
    assert!(
        keys.iter()
            .any(|k| k.starts_with("account_id=974349055189/region=us-east-1/date=2017-06-01/")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("_trailscope_lake/manifest-"))
    );
    assert!(
        keys.iter()
            .all(|k| k.starts_with("_trailscope_lake/") || k.ends_with(".parquet"))
    );
    // A lake keeps the columns, not each record's text: eventjson is refused, saying so.
    let l = lake_at(&grycap(), &lake).await;
    let snapshot = Arc::new(manifest::load_for_queries(&l).await.unwrap());
    let location = Location::open(grycap().to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = TableSource::new(
        ArchiveSource::new(location, Scope::default(), false),
        Some(snapshot),
    );
    let ctx = session(&source).unwrap();
    let parsed =
        statements::parse_checked("SELECT eventjson FROM cloudtrail LIMIT 1", None).unwrap();
    let refused = statements::execute(&ctx, parsed)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(refused.contains("a lake does not keep"), "{refused}");
}

#[tokio::test]
async fn generated_lake_answers_as_the_raw_archive_and_prunes() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let lake = dir.path().join("lake");
    let events = generated(&archive);
    let summary = convert_with(&archive, &lake, &small_steps()).await.unwrap();
    assert_eq!(summary.records, events);
    assert!(summary.commits > 1, "{summary:?}");
    assert_same_answers(&archive, &lake).await;
    let raw = raw_rows(&archive, ALL_ROWS).await;
    let (via_lake, _) = lake_query(&archive, &lake, ALL_ROWS).await;
    assert!(
        raw == via_lake,
        "a row differs between the lake and the raw archive"
    );

    // Files are chosen from the manifest by time and account: a one-day, one-account question
    // plans a fraction of the files a whole-lake question does.
    let files = open_lake(&archive, &lake).await.files.len() as u64;
    let (_, all) = lake_query(&archive, &lake, "SELECT count(eventname) FROM cloudtrail").await;
    assert_eq!(ScanStats::get(&all.stats.lake_files_planned), files);
    let account = raw_rows(&archive, "SELECT min(account_id) FROM cloudtrail").await[0].clone();
    let (_, day) = lake_query(
        &archive,
        &lake,
        &format!(
            "SELECT count(eventname) FROM cloudtrail WHERE eventtime >= '2026-10-02' \
             AND eventtime < '2026-10-03' AND account_id = '{account}'"
        ),
    )
    .await;
    let day = ScanStats::get(&day.stats.lake_files_planned);
    assert!(day > 0 && day * 4 <= files, "day {day} of {files} files");

    // One principal: the files whose bloom filters rule its ARN out are not read at all
    // (DataFusion prunes by bloom filter on top-level columns only; `arn` is in a struct).
    let arn = raw_rows(
        &archive,
        "SELECT useridentity.arn FROM cloudtrail WHERE useridentity.arn IS NOT NULL \
         GROUP BY 1 ORDER BY count(*), 1 LIMIT 1",
    )
    .await[0]
        .clone();
    for sql in [
        format!("SELECT eventid FROM cloudtrail WHERE useridentity.arn = '{arn}' ORDER BY 1"),
        format!(
            "SELECT eventid FROM cloudtrail WHERE useridentity.arn IN ('{arn}', 'arn:aws:iam::1:user/nobody') \
             AND eventname IS NOT NULL ORDER BY 1"
        ),
    ] {
        let raw = raw_rows(&archive, &sql).await;
        let (via_lake, source) = lake_query(&archive, &lake, &sql).await;
        assert!(!raw.is_empty());
        assert_eq!(via_lake, raw, "{sql}");
        let planned = ScanStats::get(&source.stats.lake_files_planned);
        assert!(
            planned > 0 && planned * 2 <= files,
            "{planned} of {files} files for {sql}"
        );
    }
}

/// Logs that compress unusually well: a step closes when its rows fill the memory budget, not
/// only on compressed bytes, and an object the step did not reach goes into the next one.
#[tokio::test]
async fn a_step_closes_when_its_decoded_rows_fill_the_budget() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    // Three objects of 40 records of about 1 MiB (CloudTrail's largest event): each inflates to
    // 40 MiB from about 40 KiB, so all three are one fetch unit but each a decoding group.
    let agent = "a".repeat(1 << 20);
    for object in 0..3 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"{\"Records\":[").unwrap();
        for i in 0..40 {
            let comma = if i > 0 { "," } else { "" };
            let record = format!(
                r#"{comma}{{"eventName":"Dense","eventTime":"2017-06-01T00:{object:02}:{i:02}Z","eventID":"id-{object}-{i}","userAgent":"{agent}"}}"#
            );
            e.write_all(record.as_bytes()).unwrap();
        }
        e.write_all(b"]}").unwrap();
        let key = format!(
            "AWSLogs/974349055189/CloudTrail/us-east-1/2017/06/01/974349055189_CloudTrail_us-east-1_20170601T00{object}0Z_dense{object}.json.gz"
        );
        plant(&archive, &key, &e.finish().unwrap());
    }
    let roomy = ConvertOptions {
        step_decoded_bytes: 1 << 30,
        ..ConvertOptions::default()
    };
    let whole = convert_with(&archive, &dir.path().join("whole"), &roomy)
        .await
        .unwrap();
    assert_eq!((whole.commits, whole.records), (1, 120), "{whole:?}");
    let lake = dir.path().join("lake");
    let options = ConvertOptions {
        step_decoded_bytes: 1,
        ..ConvertOptions::default()
    };
    let stepped = convert_with(&archive, &lake, &options).await.unwrap();
    assert_eq!(stepped.commits, 3, "{stepped:?}");
    assert_eq!(
        (stepped.records, stepped.objects_converted),
        (120, 3),
        "{stepped:?}"
    );
    let snapshot = open_lake(&archive, &lake).await;
    assert_eq!(snapshot.sources.len(), 3);
    assert!(snapshot.sources.values().all(|s| s.rows == 40));
    let pairs = "SELECT eventid, log_file, count(*) FROM cloudtrail GROUP BY 1, 2 ORDER BY 1, 2";
    let (via_lake, source) = lake_query(&archive, &lake, pairs).await;
    assert_eq!(via_lake.len(), 120);
    assert_eq!(via_lake, raw_rows(&archive, pairs).await);
    assert_eq!(ScanStats::get(&source.stats.objects_opened), 0);
}

/// Copies the archive's files delivered on or before `last_day` (`YYYY/MM/DD`), or after it.
fn copy_delivered(from: &Path, to: &Path, last_day: &str, before: bool) -> usize {
    let mut n = 0;
    for key in keys_under(from) {
        let Some(day) = key
            .split("/CloudTrail/")
            .nth(1)
            .and_then(|rest| rest.split_once('/').map(|(_, d)| d))
            .map(|d| &d[..10])
        else {
            continue;
        };
        if (day <= last_day) == before {
            plant(to, &key, &std::fs::read(from.join(&key)).unwrap());
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn incremental_rerun_converts_only_new_objects_and_a_noop_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    generated(&full);
    let archive = dir.path().join("archive");
    let lake = dir.path().join("lake");
    let first_part = copy_delivered(&full, &archive, "2026/10/01", true);
    let first = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(first.objects_converted, first_part);
    // One commit of data, then the run's listing checkpoint.
    assert_eq!((first.commits, first.version), (1, 2));

    let second_part = copy_delivered(&full, &archive, "2026/10/01", false);
    let second = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(second.objects_already, first_part);
    assert_eq!(second.objects_converted, second_part);
    assert_eq!(second.version_before, 2);
    assert_eq!(second.version, 4);
    assert_same_answers(&archive, &lake).await;

    let before = keys_under(&lake);
    let noop = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(noop.objects_converted, 0);
    assert_eq!(noop.commits, 0);
    assert_eq!(noop.objects_already, first_part + second_part);
    assert_eq!(keys_under(&lake), before, "a no-op run wrote something");
}

#[tokio::test]
async fn late_delivery_lands_in_its_event_day_partition() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let lake = dir.path().join("lake");
    generated(&archive);
    convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    let account = raw_rows(&archive, "SELECT min(account_id) FROM cloudtrail").await[0].clone();
    // Delivered five days after its events, in that later date folder.
    let key = format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/2026/10/07/{account}_CloudTrail_us-east-1_20261007T0905Z_LateDelivery0001.json.gz"
    );
    let records = r#"{"Records":[
        {"eventVersion":"1.08","eventTime":"2026-10-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"late-0001","addendum":{"reason":"DELIVERY_DELAY"}},
        {"eventVersion":"1.08","eventTime":"2026-10-01T12:00:01Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","eventID":"late-0002"}]}"#;
    plant(&archive, &key, &crate::util::gzip(records.as_bytes()));
    let late = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(late.objects_converted, 1);
    assert_eq!(late.records, 2);

    let snapshot = open_lake(&archive, &lake).await;
    let source = &snapshot.sources[&key];
    assert_eq!(source.rows, 2);
    let newest: Vec<_> = snapshot
        .files
        .iter()
        .rev()
        .take(source.files.len())
        .collect();
    assert_eq!(newest.len(), 1);
    assert_eq!(
        newest[0].path.rsplit_once('/').unwrap().0,
        format!("account_id={account}/region=us-east-1/date=2026-10-01")
    );
    assert!(
        keys_under(&lake).contains(&newest[0].path),
        "new file in the old partition"
    );
    // A one-day question finds the late events in the lake by their time. (The raw archive
    // finds them only when --late-margin reaches the later folder.)
    let (found, _) = lake_query(
        &archive,
        &lake,
        "SELECT eventid, log_file FROM cloudtrail WHERE eventtime >= '2026-10-01' AND eventtime < '2026-10-02' \
         AND eventid LIKE 'late-%' ORDER BY 1",
    )
    .await;
    assert_eq!(
        found,
        [format!("late-0001|{key}"), format!("late-0002|{key}")]
    );
    assert_same_answers(&archive, &lake).await;
}

#[tokio::test]
async fn interrupted_convert_resumes_without_duplicates_or_loss() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    generated(&archive);
    let reference = dir.path().join("reference");
    let whole = convert_with(&archive, &reference, &small_steps())
        .await
        .unwrap();
    assert!(whole.files_written > 8, "{whole:?}");
    let pairs = "SELECT eventid, log_file, count(*) FROM cloudtrail GROUP BY 1, 2 ORDER BY 1, 2";
    let expected = raw_rows(&archive, pairs).await;
    assert_eq!(lake_query(&archive, &reference, pairs).await.0, expected);
    // Stopped after the first file, mid-way through a later step, and at the very end.
    for stop in [1, whole.files_written / 2, whole.files_written] {
        let lake = dir.path().join(format!("lake-{stop}"));
        let options = ConvertOptions {
            stop_after_files: Some(stop),
            ..small_steps()
        };
        let err = convert_with(&archive, &lake, &options).await.unwrap_err();
        assert!(err.to_string().contains("stopped after"), "{err}");
        let interrupted = open_lake(&archive, &lake).await;
        let committed_files = interrupted.files.len();
        let on_disk = keys_under(&lake)
            .iter()
            .filter(|k| k.ends_with(".parquet"))
            .count();
        assert!(
            on_disk > committed_files,
            "the stopped run left uncommitted files"
        );
        if interrupted.version > 0 {
            // Readers trust the manifest only: uncommitted files add nothing.
            let (rows_now, _) = lake_query(&archive, &lake, pairs).await;
            assert_eq!(rows_now, expected, "stop {stop}");
        }
        let resumed = convert_with(&archive, &lake, &small_steps()).await.unwrap();
        assert_eq!(resumed.orphans_removed, on_disk - committed_files);
        assert_eq!(
            resumed.objects_already + resumed.objects_converted,
            whole.objects_converted
        );
        let snapshot = open_lake(&archive, &lake).await;
        assert_eq!(snapshot.rows(), whole.records, "stop {stop}");
        assert_eq!(snapshot.sources.len(), whole.objects_converted);
        let (after, source) = lake_query(&archive, &lake, pairs).await;
        assert_eq!(after, expected, "stop {stop}");
        assert_eq!(ScanStats::get(&source.stats.objects_opened), 0);
        let parquet_on_disk = keys_under(&lake)
            .iter()
            .filter(|k| k.ends_with(".parquet"))
            .count();
        assert_eq!(parquet_on_disk, snapshot.files.len());
    }
}

/// A real `kill -9` of `trailscope convert` part-way (after its first commit, before its last),
/// then a plain re-run: the lake holds exactly what an uninterrupted run's holds.
#[test]
fn convert_killed_with_sigkill_resumes_to_the_same_lake() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    generated(&archive);
    let a = archive.to_str().unwrap();
    // Small commits: many commit points, so the kill lands between two of them.
    let convert = |lake: &Path| -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"));
        cmd.args(["-q", "convert", "-a", a, "--lake", lake.to_str().unwrap()])
            .args(["--commit-mib", "0.05"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let reference = dir.path().join("reference");
    let whole = convert(&reference).output().unwrap();
    assert!(whole.status.success(), "{}", stderr(&whole));
    let manifests = |lake: &Path| {
        let named = |e: &std::fs::DirEntry| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with("manifest-") && name.ends_with(".json")
        };
        std::fs::read_dir(lake.join("_trailscope_lake"))
            .map_or(0, |d| d.flatten().filter(named).count())
    };
    let commits = manifests(&reference);
    assert!(commits >= 10, "only {commits} commits: the kill needs room");

    let lake = dir.path().join("lake");
    let mut child = convert(&lake).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while manifests(&lake) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "convert finished before it could be killed"
        );
        assert!(std::time::Instant::now() < deadline, "no commit in 120 s");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no cleanup runs.
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run was killed, not finished");
    let at_kill = manifests(&lake);
    assert!(
        (2..commits).contains(&at_kill),
        "killed after {at_kill} of {commits} commits"
    );

    let resumed = convert(&lake).output().unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let sql = "SELECT eventid, log_file, count(*) FROM cloudtrail GROUP BY 1, 2 ORDER BY 1, 2";
    let answer = |lake: Option<&Path>| {
        let mut args = vec!["query", "-q", "-a", a, "--format", "csv", sql];
        if let Some(lake) = lake {
            args.extend(["--lake", lake.to_str().unwrap()]);
        }
        let out = trailscope(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let raw = answer(None);
    assert!(raw.lines().count() > 1000);
    assert_eq!(answer(Some(&reference)), raw);
    assert_eq!(answer(Some(&lake)), raw, "no row lost or doubled");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (resumed_lake, reference_lake) = rt.block_on(async {
        (
            open_lake(&archive, &lake).await,
            open_lake(&archive, &reference).await,
        )
    });
    let sources = |l: &LakeSnapshot| {
        let mut s: Vec<(String, u64, u64)> = l
            .sources
            .values()
            .map(|s| (s.key.clone(), s.size, s.rows))
            .collect();
        s.sort();
        s
    };
    assert_eq!(sources(&resumed_lake), sources(&reference_lake));
    assert_eq!(resumed_lake.rows(), reference_lake.rows());
    // Files the killed run wrote without committing are gone: every file on disk is named.
    let on_disk = keys_under(&lake)
        .iter()
        .filter(|k| k.ends_with(".parquet"))
        .count();
    assert_eq!(on_disk, resumed_lake.files.len());
}

/// A whole-archive conversion leaves a checkpoint: queries list only the folders from the day
/// before each region's newest one, read raw what it could not convert, and report what it
/// skipped. `--lake-relist` weighs every object again.
#[tokio::test]
async fn checkpoint_lists_recent_folders_only_and_relist_weighs_every_object() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    generated(&archive);
    let account = raw_rows(&archive, "SELECT min(account_id) FROM cloudtrail").await[0].clone();
    let old_folder = format!("AWSLogs/{account}/CloudTrail/us-east-1/2026/10/01");
    let broken = format!(
        "{old_folder}/{account}_CloudTrail_us-east-1_20261001T2355Z_NotGzipAtAll0001.json.gz"
    );
    plant(&archive, &broken, b"not gzip");
    let stray = format!("{old_folder}/notes.txt");
    plant(&archive, &stray, b"not a log file");
    let lake = dir.path().join("lake");
    let summary = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.objects_unreadable, 1);
    let snapshot = open_lake(&archive, &lake).await;
    let checkpoint = snapshot
        .checkpoint
        .clone()
        .expect("a whole conversion leaves one");
    assert_eq!(checkpoint.read_raw, vec![broken.clone()]);
    assert_eq!(checkpoint.skipped.len(), 1);
    // Queries need no source list of a commit before the checkpoint: its `recent` stands in.
    let l = lake_at(&archive, &lake).await;
    let for_queries = manifest::load_for_queries(&l).await.unwrap();
    assert!(for_queries.sources.is_empty());
    // ... nor its file list: the checkpoint lists every data file.
    assert_eq!(for_queries.files, snapshot.files);
    assert_eq!(for_queries.version, snapshot.version);
    assert!(!checkpoint.recent.is_empty());
    assert!(checkpoint.recent.len() < snapshot.sources.len());

    let sql = "SELECT count(*), count(DISTINCT eventid), max(eventtime) FROM cloudtrail";
    let (raw, raw_source) = query(&archive, Scope::default(), sql).await;
    let (via_lake, source) = lake_query(&archive, &lake, sql).await;
    assert_eq!(via_lake, rows(&raw));
    // Only the unreadable object is read, and both it and the stray file are reported, though
    // their folder was not listed.
    assert_eq!(ScanStats::get(&source.stats.objects_opened), 1);
    let reported = |s: &ArchiveSource| {
        let mut keys: Vec<String> = s.errors.all().iter().map(|e| e.key.clone()).collect();
        keys.sort();
        keys
    };
    assert_eq!(reported(&source), reported(&raw_source));
    assert_eq!(reported(&source), {
        let mut k = vec![broken.clone(), stray.clone()];
        k.sort();
        k
    });
    // --strict fails on the recorded stray object as it would on a listed one.
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let strict = TableSource::new(
        ArchiveSource::new(location, Scope::default(), true),
        Some(Arc::new(for_queries.clone())),
    );
    let parsed = statements::parse_checked(sql, None).unwrap();
    let Err(err) = statements::execute(&session(&strict).unwrap(), parsed).await else {
        panic!("--strict ran over a recorded stray object");
    };
    assert!(err.to_string().contains(&stray), "{err}");
    assert!(
        ScanStats::get(&source.stats.objects_planned)
            < ScanStats::get(&raw_source.stats.objects_planned) / 2,
        "the checkpoint should leave most folders unlisted"
    );

    // An object rewritten in a folder older than the checkpoint: the lake keeps the rows it
    // converted (what `verify` flags as tampering); a relist reads the new bytes, as raw does.
    let converted = keys_under(&archive)
        .into_iter()
        .find(|k| k.starts_with(&old_folder) && k.contains("_CloudTrail_") && *k != broken)
        .unwrap();
    rewrite_as_one_event(&archive, &converted);
    let sql = "SELECT count(*) FILTER (WHERE eventname = 'Rewritten') FROM cloudtrail";
    assert_eq!(raw_rows(&archive, sql).await, vec!["1"]);
    assert_eq!(lake_query(&archive, &lake, sql).await.0, vec!["0"]);
    let mut relisted = (*open_lake(&archive, &lake).await).clone();
    relisted.checkpoint = None;
    let (answer, _) = snapshot_query(&archive, Arc::new(relisted), sql).await;
    assert_eq!(answer, vec!["1"]);
    // The next whole conversion records the change, and plain lake queries read it raw again.
    let again = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(again.changed, vec![converted]);
    assert_eq!(lake_query(&archive, &lake, sql).await.0, vec!["1"]);
    // ... and its converted rows are left out: nothing counted twice.
    let all = "SELECT count(*), count(DISTINCT eventid), count(DISTINCT log_file) FROM cloudtrail";
    assert_eq!(
        lake_query(&archive, &lake, all).await.0,
        raw_rows(&archive, all).await
    );

    // Queries read the newest checkpoint and what follows it, not the older commit log: a
    // damaged first manifest stops a convert (it reads them all), not a query.
    let first = lake.join(format!("_trailscope_lake/{}", manifest::manifest_name(1)));
    std::fs::write(&first, b"damaged").unwrap();
    assert_eq!(
        lake_query(&archive, &lake, all).await.0,
        raw_rows(&archive, all).await
    );
    let err = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a trailscope lake manifest"),
        "{err}"
    );
}

/// A generated archive under `dir/full`, its deliveries up to 2026-10-02 copied to
/// `dir/archive` and converted into `dir/lake`: (full, archive, lake).
async fn converted_up_to_october_2(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let full = dir.join("full");
    generated(&full);
    let archive = dir.join("archive");
    let lake = dir.join("lake");
    copy_delivered(&full, &archive, "2026/10/02", true);
    convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    (full, archive, lake)
}

#[tokio::test]
async fn lake_falls_back_to_raw_objects_it_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (full, archive, lake) = converted_up_to_october_2(dir.path()).await;
    // New deliveries after the conversion, and one object that became unreadable (read raw,
    // reported as the raw table reports it).
    let added = copy_delivered(&full, &archive, "2026/10/02", false);
    assert!(added > 10);
    assert_same_answers(&archive, &lake).await;
    let (_, source) = lake_query(&archive, &lake, "SELECT count(eventname) FROM cloudtrail").await;
    assert_eq!(ScanStats::get(&source.stats.objects_opened), added as u64);

    let account = raw_rows(&archive, "SELECT min(account_id) FROM cloudtrail").await[0].clone();
    let broken = format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/2026/10/03/{account}_CloudTrail_us-east-1_20261003T2355Z_NotGzipAtAll0001.json.gz"
    );
    plant(&archive, &broken, b"not gzip");
    let sql = "SELECT count(*), count(DISTINCT eventid) FROM cloudtrail";
    let raw = query(&archive, Scope::default(), sql).await;
    let (via_lake, source) = lake_query(&archive, &lake, sql).await;
    assert_eq!(via_lake, rows(&raw.0));
    assert_eq!(
        source
            .errors
            .all()
            .iter()
            .map(|e| e.key.clone())
            .collect::<Vec<_>>(),
        vec![broken.clone()]
    );
    // An object rewritten since its conversion (another size) is read raw, and its old rows in
    // the lake are left out.
    let converted = keys_under(&archive)
        .into_iter()
        .find(|k| k.contains("/2026/10/01/") && k.ends_with(".json.gz"))
        .unwrap();
    rewrite_as_one_event(&archive, &converted);
    let sql = "SELECT count(*), count(DISTINCT eventid), count(*) FILTER (WHERE eventname = 'Rewritten') FROM cloudtrail";
    let raw = rows(&query(&archive, Scope::default(), sql).await.0);
    assert!(raw[0].ends_with("|1"), "{raw:?}");
    assert_eq!(lake_query(&archive, &lake, sql).await.0, raw);
    // Converting again leaves the broken object raw and says so.
    let again = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(again.objects_unreadable, 1);
    assert_eq!(again.objects_converted, added);
    assert_eq!(again.changed, vec![converted.clone()]);
    assert!(
        !open_lake(&archive, &lake)
            .await
            .sources
            .contains_key(&broken)
    );
    let (_, source) = lake_query(&archive, &lake, "SELECT count(eventname) FROM cloudtrail").await;
    assert_eq!(ScanStats::get(&source.stats.objects_opened), 2);
}

/// `count(*)` over a lake that holds every object is the manifest's row count, no file opened;
/// as soon as raw objects, a changed object or a filter are in play it is counted.
#[tokio::test]
async fn count_star_comes_from_the_manifest_only_when_the_lake_alone_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (full, archive, lake) = converted_up_to_october_2(dir.path()).await;
    let count = "SELECT count(*) FROM cloudtrail";
    let plan = |rows: Vec<String>| rows.join("\n");
    let explain = format!("EXPLAIN {count}");
    let (lines, _) = lake_query(&archive, &lake, &explain).await;
    assert!(
        !plan(lines.clone()).contains("DataSourceExec"),
        "{}",
        plan(lines)
    );
    assert_eq!(
        lake_query(&archive, &lake, count).await.0,
        raw_rows(&archive, count).await
    );

    async fn counts_as_raw(archive: &Path, lake: &Path) {
        for sql in [
            "SELECT count(*) FROM cloudtrail",
            "SELECT count(*) FROM cloudtrail WHERE eventname = 'GetObject'",
            "SELECT count(*) FROM cloudtrail WHERE eventtime >= '2026-10-02T12:00:00Z'",
        ] {
            let raw = raw_rows(archive, sql).await;
            assert_eq!(lake_query(archive, lake, sql).await.0, raw, "{sql}");
        }
    }
    counts_as_raw(&archive, &lake).await;
    // New deliveries the lake does not hold: counted from their objects too.
    copy_delivered(&full, &archive, "2026/10/02", false);
    let (lines, _) = lake_query(&archive, &lake, &explain).await;
    assert!(
        plan(lines.clone()).contains("CloudTrailScan"),
        "{}",
        plan(lines)
    );
    counts_as_raw(&archive, &lake).await;
    // A converted object rewritten since: its lake rows are left out, the new ones counted.
    let converted = keys_under(&archive)
        .into_iter()
        .find(|k| k.contains("/2026/10/01/") && k.ends_with(".json.gz"))
        .unwrap();
    rewrite_as_one_event(&archive, &converted);
    counts_as_raw(&archive, &lake).await;
}

#[test]
fn convert_and_query_through_the_binary_and_refuse_a_lake_in_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    copy_tree(&grycap(), &archive);
    let a = archive.to_str().unwrap();
    let inside = archive.join("lake");
    let out = trailscope(&["convert", "-a", a, "--lake", inside.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--lake"), "{}", stderr(&out));
    assert!(!inside.exists(), "nothing may be written into the archive");

    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    let missing = trailscope(&["query", "-a", a, "--lake", l, "SELECT 1"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("trailscope convert"),
        "{}",
        stderr(&missing)
    );

    let out = trailscope(&["convert", "-a", a, "--lake", l]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("converted 1067 log files (17598 records)"),
        "{}",
        stderr(&out)
    );
    let again = trailscope(&["convert", "-a", a, "--lake", l]);
    assert!(
        stderr(&again).contains("nothing new to convert"),
        "{}",
        stderr(&again)
    );
    let sql = "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventtime >= '2017-06-01' GROUP BY 1 ORDER BY 2 DESC, 1";
    let raw = trailscope(&["query", "-q", "-a", a, "--format", "csv", sql]);
    let via = trailscope(&["query", "-q", "-a", a, "--lake", l, "--format", "csv", sql]);
    assert!(via.status.success(), "{}", stderr(&via));
    assert_eq!(stdout(&via), stdout(&raw));
    let relisted = trailscope(&[
        "query",
        "-q",
        "-a",
        a,
        "--lake",
        l,
        "--lake-relist",
        "--format",
        "csv",
        sql,
    ]);
    assert_eq!(stdout(&relisted), stdout(&raw), "{}", stderr(&relisted));
    let alone = trailscope(&["query", "-q", "-a", a, "--lake-relist", sql]);
    assert_eq!(alone.status.code(), Some(2), "--lake-relist needs --lake");
    assert!(stdout(&raw).lines().count() > 5);
    // --from/--to restrict rows exactly on the lake side too.
    let window = ["--from", "2017-06-01T10:00", "--to", "2017-06-02"];
    let count = "SELECT count(*) AS n, min(eventtime) AS first FROM cloudtrail";
    let raw = trailscope(
        &[
            &["query", "-q", "-a", a, "--format", "csv"][..],
            &window,
            &[count],
        ]
        .concat(),
    );
    let via = trailscope(
        &[
            &["query", "-q", "-a", a, "--lake", l, "--format", "csv"][..],
            &window,
            &[count],
        ]
        .concat(),
    );
    assert_eq!(stdout(&via), stdout(&raw));
    assert!(!stdout(&raw).contains("\n0,"), "{}", stdout(&raw));
}

#[test]
fn lake_only_answers_from_the_lake_alone_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    copy_tree(&grycap(), &archive);
    let (a, lake) = (archive.to_str().unwrap(), dir.path().join("lake"));
    let l = lake.to_str().unwrap();
    let out = trailscope(&["convert", "-q", "-a", a, "--lake", l]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Delivered after the conversion.
    crate::controls::plant_events(
        &archive,
        &[serde_json::json!({"eventTime": "2017-06-02T10:00:00Z", "eventName": "StopLogging"})],
    );
    let count = "SELECT count(*) AS n FROM cloudtrail";
    let query = |extra: &[&str]| {
        let out = trailscope(
            &[
                &["query", "-a", a, "--lake", l, "--format", "csv"],
                extra,
                &[count],
            ]
            .concat(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        out
    };
    let current = query(&[]);
    let alone = query(&["--lake-only"]);
    assert_eq!(stdout(&current), "n\n17599\n");
    assert_eq!(stdout(&alone), "n\n17598\n", "the lake's rows alone");
    let said = stderr(&alone);
    assert!(
        said.contains("trailscope: note: --lake-only: answered from the lake (commit ")
            && said.contains("are not read"),
        "{said}"
    );
    assert!(
        said.contains(", 0 list requests)"),
        "the archive is not listed: {said}"
    );
    assert!(!stderr(&current).contains("--lake-only"));
    // It only means something with a lake, and not with a whole relisting.
    let bad = trailscope(&["query", "-a", a, "--lake-only", count]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = trailscope(&[
        "query",
        "-a",
        a,
        "--lake",
        l,
        "--lake-only",
        "--lake-relist",
        count,
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn s3_lake_answers_as_the_raw_archive() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    generated(&archive);
    moto.upload("lake-source", &archive, &[]).await;
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    moto.upload("lake-target", &empty, &[]).await;
    let endpoint = moto.endpoint.as_str();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--endpoint-url", endpoint]);
        trailscope_with_env(&all, MOTO_ENV)
    };
    let refused = run(&[
        "convert",
        "-a",
        "s3://lake-source",
        "--lake",
        "s3://lake-source/lake",
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let out = run(&[
        "convert",
        "-a",
        "s3://lake-source",
        "--lake",
        "s3://lake-target/trail/lake",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("testing"),
        "credentials must never be printed"
    );
    let again = run(&[
        "convert",
        "-a",
        "s3://lake-source",
        "--lake",
        "s3://lake-target/trail/lake",
    ]);
    assert!(
        stderr(&again).contains("nothing new to convert"),
        "{}",
        stderr(&again)
    );
    let raw_csv = |sql: &str| {
        let a = archive.to_str().unwrap();
        stdout(&trailscope(&[
            "query", "-q", "-a", a, "--format", "csv", sql,
        ]))
    };
    for sql in [
        "SELECT account_id, region, eventname, count(*) AS n FROM cloudtrail GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "SELECT eventid, log_file FROM cloudtrail WHERE eventtime >= '2026-10-02' AND eventtime < '2026-10-02T06:00:00Z' ORDER BY 1, 2",
    ] {
        let raw = raw_csv(sql);
        let via = run(&[
            "query",
            "-q",
            "-a",
            "s3://lake-source",
            "--lake",
            "s3://lake-target/trail/lake",
            "--format",
            "csv",
            sql,
        ]);
        assert!(via.status.success(), "{sql}: {}", stderr(&via));
        assert!(raw.lines().count() > 10, "{sql}");
        assert_eq!(stdout(&via), raw, "{sql}");
    }
    // A principal lookup reads each file's footer and bloom filter from S3 and leaves out the
    // files that cannot hold it (the summary line counts the files read).
    let arn = scalar(
        &query(
            &archive,
            Scope::default(),
            "SELECT useridentity.arn FROM cloudtrail WHERE useridentity.arn IS NOT NULL \
             GROUP BY 1 ORDER BY count(*), 1 LIMIT 1",
        )
        .await
        .0,
    );
    let sql = format!("SELECT eventid FROM cloudtrail WHERE useridentity.arn = '{arn}' ORDER BY 1");
    let lake_files = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let err = stderr(&out);
        let n: usize = err
            .split(" lake files")
            .next()
            .and_then(|s| s.rsplit('(').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no lake file count in {err}"));
        (stdout(&out), n)
    };
    let lake_args = [
        "query",
        "-a",
        "s3://lake-source",
        "--lake",
        "s3://lake-target/trail/lake",
    ];
    let (_, all_files) =
        lake_files(&[&lake_args[..], &["SELECT count(*) FROM cloudtrail"]].concat());
    let (found, principal_files) =
        lake_files(&[&lake_args[..], &["--format", "csv", &sql]].concat());
    let raw = raw_csv(&sql);
    assert_eq!(found, raw);
    assert!(raw.lines().count() > 1);
    assert!(
        principal_files > 0 && principal_files * 2 <= all_files,
        "{principal_files} of {all_files} files read for one principal"
    );

    // The lake holds Parquet under the prefix, partitioned, and its manifest.
    let count = run(&[
        "query",
        "-q",
        "-a",
        "s3://lake-source",
        "--lake",
        "s3://lake-target/trail/lake",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM cloudtrail",
    ]);
    assert_eq!(
        stdout(&count).lines().nth(1).unwrap(),
        scalar(
            &query(
                &archive,
                Scope::default(),
                "SELECT count(*) FROM cloudtrail"
            )
            .await
            .0
        )
    );
}

#[test]
fn check_and_gaps_give_the_same_findings_with_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/archive");
    let a = archive.to_str().unwrap();
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    let out = trailscope(&["convert", "-q", "-a", a, "--lake", l]);
    assert!(out.status.success(), "{}", stderr(&out));
    let snapshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/snapshot-566424620868.json");
    let check = |lake: Option<&str>| {
        let mut args = vec!["check", "-q", "-a", a, "--account", "566424620868"];
        args.extend(["-s", snapshot.to_str().unwrap(), "--format", "jsonl"]);
        if let Some(l) = lake {
            args.extend(["--lake", l]);
        }
        trailscope(&args)
    };
    let (raw, via) = (check(None), check(Some(l)));
    assert_eq!(via.status.code(), raw.status.code(), "{}", stderr(&via));
    assert!(
        stdout(&raw).contains("\"fail\""),
        "the bundled archive has failing controls"
    );
    // Findings compared as sets, their evidence lists as sets too: the order of rows in a scan
    // is not part of a verdict (and the lake's differs from the raw archive's).
    assert_eq!(findings(&stdout(&via)), findings(&stdout(&raw)));
    let gaps =
        |extra: &[&str]| trailscope(&[&["gaps", "-a", a, "--format", "jsonl"][..], extra].concat());
    let (raw, via) = (gaps(&[]), gaps(&["--lake", l]));
    assert!(stdout(&raw).contains("explained_stop"), "{}", stdout(&raw));
    assert_eq!(stdout(&via), stdout(&raw));
}

/// JSONL findings with every list (and JSON text holding a list) in a canonical order.
fn findings(jsonl: &str) -> Vec<String> {
    fn canonical(v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Array(items) => {
                let mut items: Vec<Value> = items.into_iter().map(canonical).collect();
                items.sort_by_key(|i| i.to_string());
                Value::Array(items)
            }
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, canonical(v))).collect())
            }
            Value::String(s) if s.starts_with('[') => match serde_json::from_str(&s) {
                Ok(inner) => canonical(inner),
                Err(_) => Value::String(s),
            },
            other => other,
        }
    }
    let mut out: Vec<String> = jsonl
        .lines()
        .map(|l| canonical(serde_json::from_str(l).unwrap()).to_string())
        .collect();
    out.sort();
    out
}

/// GROUP BY on the lake's low-cardinality text columns runs on their dictionary keys
/// (`DictionaryGroupsExec` in the plan) and answers as the raw archive does: one column and two,
/// the NULL group, sums, averages and extremes beside counts, a time window's exact cut, a
/// filter that tests a group column for NULL, DISTINCT. Queries it leaves to DataFusion (a filter
/// on a group column's value, an aggregate of one, a group by an expression) answer the same too.
#[test]
fn grouping_on_dictionary_keys_answers_as_the_raw_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    copy_tree(&grycap(), &archive);
    let a = archive.to_str().unwrap();
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    let out = trailscope(&["convert", "-q", "-a", a, "--lake", l]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cases = [
        (
            "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 1",
            true,
        ),
        (
            "SELECT eventsource, errorcode, count(*) AS n, min(eventtime) AS first, \
             max(eventtime) AS last, count(useridentity.arn) AS arns FROM cloudtrail \
             WHERE errorcode IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
            true,
        ),
        (
            "SELECT errorcode, awsregion, sum(length(sourceipaddress)) AS s, \
             avg(length(eventid)) AS a FROM cloudtrail GROUP BY 1, 2 ORDER BY 1, 2",
            true,
        ),
        (
            "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventtime >= '2017-06-01' \
             AND eventtime < '2017-06-15' GROUP BY 1 ORDER BY 1",
            true,
        ),
        (
            "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventname LIKE 'Describe%' \
             GROUP BY 1 ORDER BY 1",
            false,
        ),
        // DataFusion plans DISTINCT as a grouping by both columns first: that one is on keys.
        (
            "SELECT eventsource, count(DISTINCT eventname) AS names FROM cloudtrail GROUP BY 1 \
             ORDER BY 1",
            true,
        ),
        (
            "SELECT eventname, min(eventname) AS same FROM cloudtrail GROUP BY 1 ORDER BY 1",
            false,
        ),
        (
            "SELECT lower(eventname) AS name, count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 1",
            false,
        ),
    ];
    for (sql, on_keys) in cases {
        let raw = trailscope(&["query", "-q", "-a", a, "--format", "csv", sql]);
        assert!(raw.status.success(), "{sql}: {}", stderr(&raw));
        let via = trailscope(&["query", "-q", "-a", a, "--lake", l, "--format", "csv", sql]);
        assert!(via.status.success(), "{sql}: {}", stderr(&via));
        assert_eq!(stdout(&via), stdout(&raw), "{sql}");
        assert!(stdout(&raw).lines().count() > 2, "{sql}: {}", stdout(&raw));
        let explain = format!("EXPLAIN {sql}");
        let plan = trailscope(&[
            "query", "-q", "-a", a, "--lake", l, "--format", "csv", &explain,
        ]);
        assert_eq!(
            stdout(&plan).contains("DictionaryGroupsExec"),
            on_keys,
            "{sql}: {}",
            stdout(&plan)
        );
    }

    // A lake behind its archive: the lake's branch of the union groups on keys, the raw
    // objects' branch as before.
    let behind = dir.path().join("behind");
    let b = behind.to_str().unwrap();
    let out = trailscope(&["convert", "-q", "-a", a, "--lake", b, "--to", "2017-07-01"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (sql, _) = cases[1];
    let raw = trailscope(&["query", "-q", "-a", a, "--format", "csv", sql]);
    let via = trailscope(&["query", "-q", "-a", a, "--lake", b, "--format", "csv", sql]);
    assert_eq!(stdout(&via), stdout(&raw), "{}", stderr(&via));
    let explain = format!("EXPLAIN {sql}");
    let plan = trailscope(&[
        "query", "-q", "-a", a, "--lake", b, "--format", "csv", &explain,
    ]);
    let plan = stdout(&plan);
    assert!(
        plan.contains("DictionaryGroupsExec") && plan.contains("CloudTrailScan"),
        "{plan}"
    );
}
