//! The benchmarks' shared archive: 30 days (October 2026), 2 accounts, 3 regions, 17,000 events
//! per account and day (≈1.02M events in ≈52k log files) with hourly signed digests. Generated
//! under `DIR/archive` the first time, never in git.

#![allow(dead_code)] // each benchmark uses a part

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::record_batch::RecordBatch;
use serde_json::Value;

use trailscope::generate::{GenerateOptions, generate};

/// `--data DIR` from the bench's arguments (default `bench-data/engine-1020000`).
pub fn data_dir() -> PathBuf {
    option("--data").map_or_else(|| PathBuf::from("bench-data/engine-1020000"), PathBuf::from)
}

/// The value after `--name`, if given.
pub fn option(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The archive at `path`, whole, as the benchmarks read it.
pub async fn archive_source(path: &Path) -> trailscope::table::ArchiveSource {
    let location = trailscope::archive::Location::open(
        path.to_str().unwrap(),
        &trailscope::archive::S3Options::default(),
    )
    .await
    .unwrap();
    trailscope::table::ArchiveSource::new(location, trailscope::archive::Scope::default(), false)
}

/// The process's peak resident memory so far (VmHWM), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// CPU seconds (user and system) this process has used so far, all threads.
pub fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given; it is read only when the call succeeded.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return f64::NAN;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Starts a new peak for [`peak_rss_mib`] (Linux: writing 5 to clear_refs resets VmHWM), so
/// the peak of one phase can be read on its own.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Whether `--flag` was given.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

pub fn prepare(data: &Path) -> PathBuf {
    // The binary's allocator settings, so memory and time are what a user's process shows.
    trailscope::bound_allocator();
    let archive = data.join("archive");
    if archive.join("_trailscope/public-keys.json").exists() {
        return archive;
    }
    let _ = std::fs::remove_dir_all(&archive);
    std::fs::create_dir_all(data).unwrap();
    let options = GenerateOptions {
        days: 30,
        accounts: 2,
        events_per_day: 17_000,
        ..GenerateOptions::default()
    };
    let summary = generate(&archive, &options).expect("generate archive");
    eprintln!(
        "generated {} events in {} log files",
        summary.events, summary.log_files
    );
    archive
}

/// What a benchmark child prints for one question: seconds, peak RSS, rows and a checksum (count
/// questions: the sum of their `n` column; row questions: the number of rows), as one JSON line.
pub fn print_child_result(batches: &[RecordBatch], seconds: f64) {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let checksum: u64 = if batches
        .first()
        .is_some_and(|b| b.schema().field_with_name("n").is_ok())
    {
        batches
            .iter()
            .map(|b| {
                let n = b.column_by_name("n").unwrap();
                let n = n
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap();
                n.iter().flatten().sum::<i64>() as u64
            })
            .sum()
    } else {
        rows as u64
    };
    println!(
        "{}",
        serde_json::json!({"seconds": seconds, "peak_rss_mb": peak_rss_mib(), "rows": rows, "checksum": checksum})
    );
}

/// Runs a benchmark child and reads the JSON line it prints last.
pub fn run_child(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("run benchmark child");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("{}")).expect("child prints one JSON line")
}

/// Waits for `child`, reading its peak RSS (`VmHWM`, KiB) from /proc every 20 ms; the figure
/// only grows, so the last sample before exit is the peak up to then.
pub fn wait_sampling_peak(mut child: std::process::Child) -> (i32, u64) {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            peak = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(peak)
                .max(peak);
        }
        if let Some(s) = child.try_wait().unwrap() {
            return (s.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One scan that decodes every record in `source`'s scope (`SELECT eventname, count(*) ...
/// GROUP BY`): what any tool reading the raw logs pays at least once. Returns the seconds it
/// took and the events it counted.
/// The floor's query: every record decoded, one column built.
pub const FLOOR_SQL: &str = "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY eventname";

/// The middle value of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `source` recording the hashes of what it reads, as the report's scan does (for verify and
/// the manifest).
pub fn recording_readings(
    mut source: trailscope::table::ArchiveSource,
) -> trailscope::table::ArchiveSource {
    source.readings = Some(std::sync::Arc::new(trailscope::archive::Readings::default()));
    source
}

pub fn floor_scan(
    runtime: &tokio::runtime::Runtime,
    source: &trailscope::table::ArchiveSource,
) -> (f64, u64) {
    let started = std::time::Instant::now();
    let events: u64 = runtime.block_on(async {
        let ctx = trailscope::table::session(source).unwrap();
        let batches = ctx.sql(FLOOR_SQL).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .map(|b| {
                arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b.column(1))
                    .values()
                    .iter()
                    .sum::<i64>() as u64
            })
            .sum()
    });
    (started.elapsed().as_secs_f64(), events)
}
