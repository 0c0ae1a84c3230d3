//! Engine benchmark: trailscope vs DuckDB on the same generated archive, in one run.
//!
//! `cargo bench --bench engine -- [--events N] [--data DIR]` (or `scripts/bench.sh`).
//! Generates a 30-day, 2-account archive of N events (default 1,020,000) once, then asks three
//! questions of it: count by eventname (whole archive), a selective filter on
//! useridentity.arn, and a 1-day window. Each engine runs each question in its own process so
//! peak memory is per question; DuckDB reads the same .json.gz files (`read_json` +
//! `unnest(Records)`), globbing only the day folders for the 1-day window, as a fair user would.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use trailscope::archive::{Location, S3Options, Scope};
use trailscope::generate::{GenerateOptions, generate};
use trailscope::table::{ArchiveSource, session, statements};

const DAYS: u32 = 30;
const ACCOUNTS: u32 = 2;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(&args[i + 1], &args[i + 2]);
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let events: u64 = value("--events").map_or(1_020_000, |v| v.parse().expect("--events N"));
    let data =
        PathBuf::from(value("--data").unwrap_or_else(|| format!("bench-data/engine-{events}")));
    let archive = prepare(&data, events);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let arn = runtime.block_on(pick_arn(&archive));
    let day = "2026-10-15";
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
                "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventtime >= '{day}T00:00:00Z' AND eventtime < '2026-10-16T00:00:00Z' GROUP BY 1"
            ),
            vec!["one_day".into(), day.into()],
        ),
    ];
    println!(
        "\narchive: {} ({events} events requested)\n",
        archive.display()
    );
    println!(
        "{:<28} {:>12} {:>10} {:>12} {:>10} {:>8}  answers",
        "question", "trailscope s", "peak MB", "duckdb s", "peak MB", "speedup"
    );
    for (name, sql, duck_args) in questions {
        let ours = common::run_child(Command::new(std::env::current_exe().unwrap()).args([
            "--child",
            archive.to_str().unwrap(),
            &sql,
        ]));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_engine.py");
        let duck = common::run_child(
            Command::new("python3")
                .arg(script)
                .arg(&archive)
                .args(&duck_args),
        );
        let same = ours["checksum"] == duck["checksum"] && ours["rows"] == duck["rows"];
        println!(
            "{name:<28} {:>12.2} {:>10.0} {:>12.2} {:>10.0} {:>7.1}x  {}",
            ours["seconds"].as_f64().unwrap(),
            ours["peak_rss_mb"].as_f64().unwrap(),
            duck["seconds"].as_f64().unwrap(),
            duck["peak_rss_mb"].as_f64().unwrap(),
            duck["seconds"].as_f64().unwrap() / ours["seconds"].as_f64().unwrap(),
            if same {
                "same".to_string()
            } else {
                format!("DIFFER: ours {ours} duckdb {duck}")
            }
        );
    }
}

fn prepare(data: &Path, events: u64) -> PathBuf {
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

/// A principal with a few hundred events: a selective filter.
async fn pick_arn(archive: &Path) -> String {
    let sql = "SELECT useridentity.arn AS arn FROM cloudtrail WHERE useridentity.arn IS NOT NULL \
               AND eventtime < '2026-10-03' GROUP BY 1 ORDER BY count(*), 1 LIMIT 1";
    let batches = query(archive, sql).await;
    let column = batches[0].column(0);
    arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &Default::default())
        .unwrap()
        .value(0)
        .to_string()
}

async fn query(archive: &Path, sql: &str) -> Vec<arrow::record_batch::RecordBatch> {
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, Scope::default(), false);
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
fn child(archive: &str, sql: &str) {
    trailscope::bound_allocator();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let batches = runtime.block_on(query(Path::new(archive), sql));
    let seconds = started.elapsed().as_secs_f64();
    common::print_child_result(&batches, seconds);
}
