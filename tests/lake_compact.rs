//! `compact`: a lake whose small files were merged answers exactly as before, on both ways of
//! opening it, and an interrupted compaction (test hook or a real SIGKILL) leaves the lake
//! readable and complete, and the next run finishes the job.

use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::TimestampMicrosecondType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use trailscope::archive::S3Options;
use trailscope::lake::{CompactOptions, ConvertOptions, Lake, LakeSnapshot, compact};

use crate::lake::{ALL_ROWS, SAME_ANSWERS, convert_with, generated, lake_query, open_lake};
use crate::util::{keys_under, stderr, stdout, trailscope};

/// Commits of a few dozen KiB: every partition ends up in several small files.
fn tiny_steps() -> ConvertOptions {
    ConvertOptions {
        commit_bytes: 48 << 10,
        ..ConvertOptions::default()
    }
}

async fn compact_at(
    archive: &Path,
    lake: &Path,
    options: &CompactOptions,
) -> trailscope::Result<trailscope::lake::CompactSummary> {
    let l = Lake::open(
        lake.to_str().unwrap(),
        archive.to_str().unwrap(),
        &S3Options::default(),
    )
    .await
    .unwrap();
    compact(&l, options).await
}

/// Every question's answer through the lake, opened for queries (from its checkpoint on).
async fn answers(archive: &Path, lake: &Path) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for sql in SAME_ANSWERS.iter().chain([&ALL_ROWS]) {
        out.push(lake_query(archive, lake, sql).await.0);
    }
    out
}

fn parquet_on_disk(lake: &Path) -> Vec<String> {
    let mut keys: Vec<String> = keys_under(lake)
        .into_iter()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    keys.sort();
    keys
}

fn named(snapshot: &LakeSnapshot) -> Vec<String> {
    let mut paths: Vec<String> = snapshot.files.iter().map(|f| f.path.clone()).collect();
    paths.sort();
    paths
}

/// The event times of a data file, in file order.
fn times_in(file: &Path) -> Vec<Option<i64>> {
    let bytes = bytes::Bytes::from(std::fs::read(file).unwrap());
    let reader = ParquetRecordBatchReader::try_new(bytes, 4096).unwrap();
    let mut times = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let t = batch
            .column_by_name("eventtime")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        times.extend(t.iter());
    }
    times
}

/// A generated archive converted in tiny commits: the lake as loaded, and its answers.
async fn lake_of_small_files(
    archive: &Path,
    lake: &Path,
) -> (std::sync::Arc<LakeSnapshot>, Vec<Vec<String>>) {
    generated(archive);
    convert_with(archive, lake, &tiny_steps()).await.unwrap();
    (open_lake(archive, lake).await, answers(archive, lake).await)
}

#[tokio::test]
async fn a_compacted_lake_answers_exactly_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, lake) = (dir.path().join("archive"), dir.path().join("lake"));
    let (before, answers_before) = lake_of_small_files(&archive, &lake).await;

    let s = compact_at(&archive, &lake, &CompactOptions::default())
        .await
        .unwrap();
    assert!(s.files_replaced > 2 * s.files_written, "{s:?}");
    assert_eq!(
        s.files_after,
        s.files_before - s.files_replaced + s.files_written
    );
    assert_eq!(s.version, before.version + 1);

    let after = open_lake(&archive, &lake).await;
    assert_eq!(after.files.len(), s.files_after);
    assert_eq!(after.rows(), before.rows(), "no row lost or doubled");
    assert_eq!(after.sources, before.sources, "the same objects are held");
    // Both ways of opening the lake: the whole log (above) and from the checkpoint on (below,
    // whose file list predates the compaction and must have the replaced files taken out).
    assert_eq!(answers(&archive, &lake).await, answers_before);
    assert_eq!(
        parquet_on_disk(&lake),
        named(&after),
        "replaced files are deleted"
    );
    for f in after.files.iter().filter(|f| f.path.contains("-c")) {
        let times = times_in(&lake.join(&f.path));
        assert_eq!(times.len() as u64, f.rows, "{}", f.path);
        assert!(times.is_sorted(), "{} is not in event-time order", f.path);
        assert_eq!(times.iter().flatten().min().copied(), f.min_eventtime);
        assert_eq!(times.iter().flatten().max().copied(), f.max_eventtime);
    }

    // Nothing left to merge: a second run writes nothing.
    let again = compact_at(&archive, &lake, &CompactOptions::default())
        .await
        .unwrap();
    assert_eq!((again.files_written, again.version), (0, s.version));

    // The lake stays a lake: a later whole convert (nothing new) still answers the same, and its
    // checkpoint lists the compacted files.
    let rerun = convert_with(&archive, &lake, &ConvertOptions::default())
        .await
        .unwrap();
    assert_eq!(rerun.objects_converted, 0);
    assert_eq!(answers(&archive, &lake).await, answers_before);
}

#[tokio::test]
async fn a_compaction_stopped_before_its_commit_leaves_the_lake_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, lake) = (dir.path().join("archive"), dir.path().join("lake"));
    let (before, answers_before) = lake_of_small_files(&archive, &lake).await;
    let stopped = CompactOptions {
        stop_after_files: Some(2),
        ..CompactOptions::default()
    };
    let err = compact_at(&archive, &lake, &stopped).await.unwrap_err();
    assert!(err.to_string().contains("before committing"), "{err}");
    assert_eq!(open_lake(&archive, &lake).await.files, before.files);
    assert_eq!(answers(&archive, &lake).await, answers_before);
    assert_eq!(parquet_on_disk(&lake).len(), before.files.len() + 2);

    let s = compact_at(&archive, &lake, &CompactOptions::default())
        .await
        .unwrap();
    assert_eq!(s.orphans_removed, 2, "the stopped run's files are swept");
    assert_eq!(answers(&archive, &lake).await, answers_before);
    let after = open_lake(&archive, &lake).await;
    assert_eq!(parquet_on_disk(&lake), named(&after));
}

/// A real `kill -9` of `trailscope compact` once it has written its first merged file: the lake
/// answers as before, and a re-run completes the compaction.
#[test]
fn compact_killed_with_sigkill_leaves_the_lake_readable_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let lake = dir.path().join("lake");
    generated(&archive);
    let (a, l) = (archive.to_str().unwrap(), lake.to_str().unwrap());
    let out = trailscope(&[
        "-q",
        "convert",
        "-a",
        a,
        "--lake",
        l,
        "--commit-mib",
        "0.03",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sql = "SELECT eventid, log_file, eventtime, count(*) FROM cloudtrail GROUP BY 1, 2, 3 ORDER BY 1, 2";
    let answer = || {
        let out = trailscope(&["query", "-q", "-a", a, "--lake", l, "--format", "csv", sql]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let raw = {
        let out = trailscope(&["query", "-q", "-a", a, "--format", "csv", sql]);
        stdout(&out)
    };
    assert!(raw.lines().count() > 1000);
    assert_eq!(answer(), raw);
    let manifests = || {
        std::fs::read_dir(lake.join("_trailscope_lake"))
            .unwrap()
            .count()
    };
    let committed = manifests();
    let files_before = parquet_on_disk(&lake).len();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args(["-q", "compact", "-a", a, "--lake", l])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let merged_file = |k: &String| k.contains("-c0") && k.ends_with(".parquet");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !keys_under(&lake).iter().any(merged_file) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "compact finished before it could be killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no merged file in 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs.
    assert!(
        !child.wait().unwrap().success(),
        "the run was killed, not finished"
    );
    assert_eq!(manifests(), committed, "killed before its commit");
    assert!(
        parquet_on_disk(&lake).len() > files_before,
        "it had written merged files"
    );
    assert_eq!(answer(), raw, "readable and complete after the kill");

    let out = trailscope(&["compact", "-a", a, "--lake", l]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("interrupted run's"),
        "{}",
        stderr(&out)
    );
    assert_eq!(manifests(), committed + 1);
    assert_eq!(answer(), raw, "the same answer after the compaction");
    assert!(parquet_on_disk(&lake).len() < files_before / 2);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snapshot = rt.block_on(open_lake(&archive, &lake));
    assert_eq!(
        parquet_on_disk(&lake),
        named(&snapshot),
        "every file on disk is named"
    );
}
