//! Lake benchmark: questions a team repeats, on the Parquet lake vs the raw .json.gz archive,
//! and vs DuckDB on the same Parquet files, in one run.
//!
//! `cargo bench --bench lake -- [--events N] [--data DIR] [--runs R]` (default 5,000,000 events
//! under `bench-data/lake-N/`, not in git). Generates a 30-day, 3-account archive once, converts
//! it (timed, unless the lake is already there), prints the archive's and the lake's sizes, then
//! asks each question:
//! - of the raw archive once, in a child process timed from opening the archive to the last row;
//! - of the lake as a user does, through the `trailscope query --lake` process, timed from
//!   process start to exit;
//! - of DuckDB reading the lake's Parquet in-process (`read_parquet(..., hive_partitioning)`),
//!   timed after connecting, so DuckDB's start-up is not counted and ours is.
//!
//! Lake and DuckDB runs alternate, `--runs` times each (default 5); medians are reported, and
//! every answer is checked against the others.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use trailscope::archive::{Location, S3Options, Scope};
use trailscope::generate::{GenerateOptions, generate};
use trailscope::lake::{ConvertOptions, Lake, convert, manifest};
use trailscope::table::{ArchiveSource, TableSource, session, statements};

const DAYS: u32 = 30;
const ACCOUNTS: u32 = 3;
const DAY: &str = "2026-10-15";

/// One question: its SQL for trailscope, and the arguments of `duckdb_lake.py` for the same.
struct Question {
    name: &'static str,
    sql: String,
    duckdb: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let events: u64 = value("--events").map_or(5_000_000, |v| v.parse().expect("--events N"));
    let runs: usize = value("--runs").map_or(5, |v| v.parse().expect("--runs R"));
    let data =
        PathBuf::from(value("--data").unwrap_or_else(|| format!("bench-data/lake-{events}")));
    let archive = prepare_archive(&data, events);
    let lake = data.join("lake");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(prepare_lake(&archive, &lake));
    let gz: u64 = files_under(&archive.join("AWSLogs"))
        .iter()
        .filter(|(p, _)| p.ends_with(".json.gz") && p.contains("/CloudTrail/"))
        .map(|(_, size)| size)
        .sum();
    let lake_files: Vec<u64> = files_under(&lake)
        .into_iter()
        .filter(|(p, _)| p.ends_with(".parquet"))
        .map(|(_, size)| size)
        .collect();
    let (parquet, files) = (lake_files.iter().sum::<u64>(), lake_files.len());
    println!(
        "sizes: gzip log files {:.1} MiB, lake {:.1} MiB in {files} files (lake/gzip = {:.2})",
        mib(gz),
        mib(parquet),
        parquet as f64 / gz as f64
    );
    let (arn, account) = runtime.block_on(pick_arn_and_account(&archive, &lake));
    let questions = questions(&arn, &account);
    println!(
        "\n{:<34} {:>8} {:>8} {:>9} {:>10} {:>12}  answers",
        "question (medians)", "raw s", "lake s", "duckdb s", "raw/lake", "duckdb/lake"
    );
    let me = std::env::current_exe().unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_trailscope"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_lake.py");
    for q in questions {
        let raw = common::run_child(Command::new(&me).args([
            "--child",
            "raw",
            data.to_str().unwrap(),
            &q.sql,
        ]));
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(run_binary(&binary, &archive, &lake, &q.sql));
            theirs.push(common::run_child(
                Command::new("python3")
                    .arg(&script)
                    .arg(&lake)
                    .args(&q.duckdb),
            ));
        }
        let answers = |v: &Value| (v["rows"].clone(), v["checksum"].clone());
        let same = ours
            .iter()
            .chain(&theirs)
            .all(|v| answers(v) == answers(&raw));
        let secs = |v: &Value| v["seconds"].as_f64().unwrap();
        let median = |runs: &[Value]| common::median(runs.iter().map(secs).collect());
        let (lake_s, duck_s) = (median(&ours), median(&theirs));
        println!(
            "{:<34} {:>8.2} {:>8.3} {:>9.3} {:>9.1}x {:>11.2}x  {}",
            q.name,
            secs(&raw),
            lake_s,
            duck_s,
            secs(&raw) / lake_s,
            duck_s / lake_s,
            if same {
                "same".to_string()
            } else {
                format!("DIFFER: raw {raw} lake {ours:?} duckdb {theirs:?}")
            }
        );
    }
}

/// The questions, each answer with a count column `n` (its sum is the checksum) or rows.
fn questions(arn: &str, account: &str) -> Vec<Question> {
    let q = |name, sql: String, duckdb: &[&str]| Question {
        name,
        sql,
        duckdb: duckdb.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        q(
            "count by eventname",
            "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1".into(),
            &["by_eventname"],
        ),
        q(
            "one principal (useridentity.arn)",
            format!(
                "SELECT eventtime, eventname, sourceipaddress FROM cloudtrail WHERE useridentity.arn = '{arn}'"
            ),
            &["by_arn", arn],
        ),
        q(
            "1-day window of 30",
            format!(
                "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventtime >= '{DAY}T00:00:00Z' AND eventtime < '2026-10-16T00:00:00Z' GROUP BY 1"
            ),
            &["one_day", DAY],
        ),
        q(
            "errors by source, one account",
            format!(
                "SELECT eventsource, errorcode, count(*) AS n FROM cloudtrail WHERE account_id = '{account}' AND errorcode IS NOT NULL GROUP BY 1, 2"
            ),
            &["errors_by_source", account],
        ),
        q(
            "hourly counts",
            "SELECT date_trunc('hour', eventtime) AS hour, count(*) AS n FROM cloudtrail GROUP BY 1"
                .into(),
            &["hourly"],
        ),
    ]
}

/// `trailscope query --lake` as a user runs it, timed from process start to exit; its CSV
/// answer is summarised as the other sides' are.
fn run_binary(binary: &Path, archive: &Path, lake: &Path, sql: &str) -> Value {
    let started = Instant::now();
    let out = Command::new(binary)
        .args(["query", "-q", "--format", "csv", "-a"])
        .arg(archive)
        .arg("--lake")
        .arg(lake)
        .arg(sql)
        .output()
        .expect("run trailscope");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "trailscope query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    // Every count question puts its `n` last.
    let counted = header.last() == Some(&"n");
    let (mut rows, mut sum) = (0u64, 0u64);
    for line in lines {
        rows += 1;
        if counted {
            sum += line
                .rsplit(',')
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    serde_json::json!({"seconds": seconds, "rows": rows, "checksum": if counted { sum } else { rows }})
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn prepare_archive(data: &Path, events: u64) -> PathBuf {
    let archive = data.join("archive");
    if archive.join("_trailscope/public-keys.json").exists() {
        return archive;
    }
    let _ = std::fs::remove_dir_all(&archive);
    std::fs::create_dir_all(data).unwrap();
    let options = GenerateOptions {
        days: DAYS,
        accounts: ACCOUNTS,
        events_per_day: u32::try_from(events / u64::from(DAYS * ACCOUNTS)).unwrap(),
        ..GenerateOptions::default()
    };
    let started = Instant::now();
    let summary = generate(&archive, &options).expect("generate archive");
    eprintln!(
        "generated {} events in {} log files in {:.1}s",
        summary.events,
        summary.log_files,
        started.elapsed().as_secs_f64()
    );
    archive
}

async fn prepare_lake(archive: &Path, lake: &Path) {
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
    let started = Instant::now();
    let s = convert(&source, &l, &ConvertOptions::default())
        .await
        .expect("convert");
    if s.commits > 0 {
        println!(
            "convert: {} log files, {} records → {} files in {} commits, {:.1}s ({:.0} records/s)",
            s.objects_converted,
            s.records,
            s.files_written,
            s.commits,
            started.elapsed().as_secs_f64(),
            s.records as f64 / started.elapsed().as_secs_f64()
        );
    } else {
        println!(
            "convert: the lake already holds all {} log files",
            s.objects_already
        );
    }
}

/// Files under `dir` (path, bytes).
fn files_under(dir: &Path) -> Vec<(String, u64)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let size = entry.metadata().map_or(0, |m| m.len());
                files.push((path.to_string_lossy().into_owned(), size));
            }
        }
    }
    files
}

/// A principal with a few hundred events (a selective filter), and the first account.
async fn pick_arn_and_account(archive: &Path, lake: &Path) -> (String, String) {
    let first = |sql| async move {
        let batches = query(archive, Some(lake), sql).await;
        let column = batches[0].column(0);
        arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &Default::default())
            .unwrap()
            .value(0)
            .to_string()
    };
    let arn = first(
        "SELECT useridentity.arn AS arn FROM cloudtrail WHERE useridentity.arn IS NOT NULL \
         AND eventtime < '2026-10-03' GROUP BY 1 ORDER BY count(*), 1 LIMIT 1",
    )
    .await;
    let account = first("SELECT min(account_id) FROM cloudtrail").await;
    (arn, account)
}

async fn query(
    archive: &Path,
    lake: Option<&Path>,
    sql: &str,
) -> Vec<arrow::record_batch::RecordBatch> {
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let snapshot = match lake {
        Some(lake) => {
            let l = Lake::open(
                lake.to_str().unwrap(),
                archive.to_str().unwrap(),
                &S3Options::default(),
            )
            .await
            .unwrap();
            // As the CLI opens it: source lists before the checkpoint are not read.
            Some(Arc::new(manifest::load_for_queries(&l).await.unwrap()))
        }
        None => None,
    };
    let source = TableSource::new(
        ArchiveSource::new(location, Scope::default(), false),
        snapshot,
    );
    let ctx = session(&source).unwrap();
    let parsed = statements::parse_checked(sql, None).unwrap();
    statements::execute(&ctx, parsed)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .batches
}

/// Runs one question in this (child) process and prints seconds, peak RSS, rows, checksum.
fn child(mode: &str, data: &str, sql: &str) {
    trailscope::bound_allocator();
    let data = Path::new(data);
    let archive = data.join("archive");
    let lake = (mode == "lake").then(|| data.join("lake"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let batches = runtime.block_on(query(&archive, lake.as_deref(), sql));
    let seconds = started.elapsed().as_secs_f64();
    common::print_child_result(&batches, seconds);
}
