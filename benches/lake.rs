//! Lake benchmark: the engine benchmark's questions on the Parquet lake vs the raw .json.gz
//! archive, and vs DuckDB on the same Parquet files, in one run.
//!
//! `cargo bench --bench lake -- [--events N] [--data DIR]` (default 5,000,000 events under
//! `bench-data/lake-N/`, not in git). Generates a 30-day, 2-account archive once, converts it
//! (timed, unless the lake is already there), prints the archive's and the lake's sizes, then
//! runs each question in its own process per engine (so peak memory is per question) and checks
//! that the three answers agree. DuckDB reads the lake with `read_parquet(..., hive_partitioning)`
//! and, for the 1-day window, is also given the `date` partition filter (its best case).

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
const ACCOUNTS: u32 = 2;
const DAY: &str = "2026-10-15";

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
    let data =
        PathBuf::from(value("--data").unwrap_or_else(|| format!("bench-data/lake-{events}")));
    let archive = prepare_archive(&data, events);
    let lake = data.join("lake");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(prepare_lake(&archive, &lake));
    let gz = bytes_under(&archive.join("AWSLogs"), ".json.gz", "/CloudTrail/");
    let parquet = bytes_under(&lake, ".parquet", "");
    println!(
        "sizes: gzip log files {:.1} MiB, lake {:.1} MiB (lake/gzip = {:.2})",
        mib(gz),
        mib(parquet),
        parquet as f64 / gz as f64
    );
    let arn = runtime.block_on(pick_arn(&archive, &lake));
    let questions: Vec<(&str, String, Vec<String>)> = vec![
        (
            "count by eventname",
            "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1".into(),
            vec!["by_eventname".into()],
        ),
        (
            "filter on useridentity.arn",
            format!(
                "SELECT eventtime, eventname, sourceipaddress FROM cloudtrail WHERE useridentity.arn = '{arn}'"
            ),
            vec!["by_arn".into(), arn.clone()],
        ),
        (
            "1-day window of 30",
            format!(
                "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventtime >= '{DAY}T00:00:00Z' AND eventtime < '2026-10-16T00:00:00Z' GROUP BY 1"
            ),
            vec!["one_day".into(), DAY.into()],
        ),
    ];
    println!(
        "\n{:<28} {:>9} {:>9} {:>9} {:>11} {:>11}  answers",
        "question", "raw s", "lake s", "duckdb s", "raw/lake", "duckdb/lake"
    );
    let me = std::env::current_exe().unwrap();
    for (name, sql, duck_args) in questions {
        let ours = |mode: &str| {
            common::run_child(Command::new(&me).args([
                "--child",
                mode,
                data.to_str().unwrap(),
                &sql,
            ]))
        };
        let (raw, lake_run) = (ours("raw"), ours("lake"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_lake.py");
        let duck = common::run_child(
            Command::new("python3")
                .arg(script)
                .arg(&lake)
                .args(&duck_args),
        );
        let same = [&raw, &duck]
            .iter()
            .all(|o| o["checksum"] == lake_run["checksum"] && o["rows"] == lake_run["rows"]);
        let secs = |v: &Value| v["seconds"].as_f64().unwrap();
        println!(
            "{name:<28} {:>9.2} {:>9.2} {:>9.2} {:>10.1}x {:>10.1}x  {}",
            secs(&raw),
            secs(&lake_run),
            secs(&duck),
            secs(&raw) / secs(&lake_run),
            secs(&duck) / secs(&lake_run),
            if same {
                "same".to_string()
            } else {
                format!("DIFFER: raw {raw} lake {lake_run} duckdb {duck}")
            }
        );
    }
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

/// Bytes of files under `dir` whose path ends with `suffix` and contains `inside`.
fn bytes_under(dir: &Path, suffix: &str, inside: &str) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let text = path.to_string_lossy();
            if path.is_dir() {
                stack.push(path);
            } else if text.ends_with(suffix) && text.contains(inside) {
                total += entry.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}

/// A principal with a few hundred events: a selective filter.
async fn pick_arn(archive: &Path, lake: &Path) -> String {
    let sql = "SELECT useridentity.arn AS arn FROM cloudtrail WHERE useridentity.arn IS NOT NULL \
               AND eventtime < '2026-10-03' GROUP BY 1 ORDER BY count(*), 1 LIMIT 1";
    let batches = query(archive, Some(lake), sql).await;
    let column = batches[0].column(0);
    arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &Default::default())
        .unwrap()
        .value(0)
        .to_string()
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
    let data = Path::new(data);
    let archive = data.join("archive");
    let lake = (mode == "lake").then(|| data.join("lake"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let batches = runtime.block_on(query(&archive, lake.as_deref(), sql));
    let seconds = started.elapsed().as_secs_f64();
    common::print_child_result(&batches, seconds);
}
