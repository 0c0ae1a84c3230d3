//! Report benchmark: a month's `trailscope report` over ≈1.02M events, against named baselines
//! in the same run.
//!
//! `cargo bench --bench report -- [--data DIR] [--phases|--phases-only] [--per-control]
//! [--days N] [--no-detections]`. The archive is the benchmarks' shared one (see `common`), its month is
//! October 2026. Measured:
//! - **report**: `report::build` for `--period 2026-10` with the whole catalog, digest signatures
//!   checked, trailscope's rule pack (unless `--no-detections`, as `report` does), then rendered as
//!   JSON and HTML,
//!   with the process's peak memory after it;
//! - **floor**: one scan of the month that decodes every record (`SELECT eventname, count(*) ...
//!   GROUP BY`): what any engine reading the raw logs pays at least once;
//! - **per-control** (with `--per-control`): the controls alone, each scanning the archive itself,
//!   as `check` did before the shared scan;
//! - with `--phases`, each part of the report on its own, to see where the time and the memory
//!   go (each phase's own peak); `--phases-only` skips the rest;
//! - with `--bounds` (and nothing else), the least the report's scan must do against the floor,
//!   in alternating rounds: the floor's scan hashing what it reads (as the report must, for the
//!   manifest and the digests), a scan building every column the report's queries read and
//!   hashing, and the report's shared scan itself (without the rules), each with its CPU time.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Duration;
use trailscope::archive::{Location, S3Options, Scope};
use trailscope::controls::{self, ParamValues};
use trailscope::integrity::{KeyRing, KeySource, load_signatures};
use trailscope::report::render::{Format, render};
use trailscope::report::{Framework, Period, ReportInputs, build};
use trailscope::table::{ArchiveSource, evidence_session};

fn main() {
    let archive = common::prepare(&common::data_dir());
    // `--days N`: only the first N days of the month (for quick looks at where time goes).
    let month = Period::parse("2026-10").unwrap();
    let period = match common::option("--days").and_then(|d| d.parse::<i64>().ok()) {
        Some(days) => Period::between(month.from, month.from + Duration::days(days)),
        None => month,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let source = || {
        let path = archive.to_str().unwrap().to_string();
        let scope = Scope {
            from: Some(period.from),
            to: Some(period.to),
            late_margin: Duration::hours(24),
            ..Scope::default()
        };
        async move {
            let location = Location::open(&path, &S3Options::default()).await.unwrap();
            ArchiveSource::new(location, scope, false)
        }
    };
    let catalog = controls::builtin().unwrap();
    if common::flag("--bounds") {
        bounds(&runtime, &source, &catalog);
        return;
    }
    if common::flag("--phases-only") {
        phases(&runtime, &source, &catalog, &period);
        return;
    }

    let (started, cpu) = (Instant::now(), common::cpu_seconds());
    let (report, html_bytes) = runtime.block_on(async {
        let inputs = ReportInputs {
            period: period.clone(),
            archive: "bench".into(),
            snapshots: Vec::new(),
            controls: catalog.clone(),
            values: ParamValues::default(),
            frameworks: Framework::ALL.to_vec(),
            keys: KeySource::Ring(
                KeyRing::from_file(&archive.join("_trailscope/public-keys.json")).unwrap(),
            ),
            signatures: load_signatures(&archive.join("_trailscope/digest-signatures.json"))
                .unwrap(),
            gap_threshold: Duration::minutes(60),
            baseline: None,
            // `report` runs trailscope's pack unless told not to (`--no-detections`).
            rules: (!common::flag("--no-detections")).then(|| {
                trailscope::detect::load::load(
                    &trailscope::detect::load::gather(true, &[]).unwrap(),
                )
            }),
        };
        let report = build(&source().await.into(), &inputs).await.unwrap();
        render(&report, Format::Json).unwrap();
        let html = render(&report, Format::Html).unwrap();
        (report, html.len())
    });
    let ours = started.elapsed().as_secs_f64();
    let cpu = common::cpu_seconds() - cpu;
    let peak = common::peak_rss_mib();

    let (floor, scanned) = common::floor_scan(&runtime, &runtime.block_on(source()));
    assert_eq!(scanned, report.summary.events, "the report saw every event");

    println!("\narchive: {}", archive.display());
    println!(
        "period {}: {} events, {} log files, {} digests; {} controls ({} failing); HTML {:.1} MiB",
        report.period.label,
        report.summary.events,
        report.manifest.log_files.len(),
        report.manifest.digests.len(),
        report.summary.controls,
        report.summary.failing,
        html_bytes as f64 / 1048576.0
    );
    if let Some(d) = &report.detections {
        println!("detections: {} from {} rules", d.detections, d.rules_run);
    }
    println!(
        "trailscope report (all of it):          {ours:8.2} s, peak {peak:.0} MiB, CPU {cpu:.2} s"
    );
    println!("floor: one decoding scan of the month:  {floor:8.2} s");
    println!("report / floor: {:.2}x", ours / floor);

    if common::flag("--phases") {
        phases(&runtime, &source, &catalog, &period);
    }
    if common::flag("--per-control") {
        let started = Instant::now();
        runtime.block_on(async {
            let ctx = evidence_session(&source().await, &[]).await.unwrap();
            let values = ParamValues::new(BTreeMap::new(), &[]);
            controls::run_controls(&ctx, &catalog, &values)
                .await
                .unwrap();
        });
        let separate = started.elapsed().as_secs_f64();
        println!("controls, each scanning the archive:    {separate:8.2} s");
        println!("report / per-control controls: {:.2}x", ours / separate);
    }
}

/// The report's one scan as `report::build` runs it, the rules aside: the shared rows kept in
/// `ctx`, every event counted into `rollup`.
async fn shared_scan(
    ctx: &datafusion::prelude::SessionContext,
    catalog: &[controls::Control],
    values: &ParamValues,
    rollup: &mut trailscope::report::activity::Rollup,
) -> trailscope::table::shared_scan::Needs {
    let mut count = |b: arrow::record_batch::RecordBatch| rollup.add(&b);
    controls::share_scan(
        ctx,
        catalog,
        values,
        &[trailscope::integrity::gaps::STOP_EVENTS],
        vec![trailscope::table::shared_scan::AlongSide {
            select: &trailscope::report::activity::rows_sql(false).unwrap(),
            sink: &mut count,
        }],
    )
    .await
    .unwrap()
}

/// The floor, the scans between it and the report's, and the report's shared scan: wall and CPU
/// seconds, medians of alternating rounds.
fn bounds<F, Fut>(runtime: &tokio::runtime::Runtime, source: &F, catalog: &[controls::Control])
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ArchiveSource>,
{
    const ROUNDS: usize = 3;
    let hashing = common::recording_readings;
    // The report's scan; returns the columns it keeps.
    let shared = || async {
        let s = hashing(source().await);
        let ctx = evidence_session(&s, &[]).await.unwrap();
        let mut rollup = trailscope::report::activity::Rollup::default();
        let needs = shared_scan(&ctx, catalog, &ParamValues::default(), &mut rollup).await;
        needs.columns.expect("the catalog reads some columns")
    };
    let query = |s: ArchiveSource, sql: String| async move {
        let ctx = trailscope::table::session(&s).unwrap();
        ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    };
    let columns = runtime.block_on(shared());
    println!(
        "the report's scan keeps {} columns: {}",
        columns.len(),
        columns.join(", ")
    );
    // Every kept column built (a count of each), the filter and the rollup left out.
    let every_column = format!(
        "SELECT {} FROM cloudtrail",
        columns
            .iter()
            .map(|c| format!("count({c})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let steps = [
        "floor: one decoding scan",
        "the floor's scan, hashing",
        "the report's columns, hashing",
        "the report's shared scan",
    ];
    let mut times: Vec<Vec<(f64, f64)>> = vec![Vec::new(); steps.len()];
    for _ in 0..ROUNDS {
        for (step, times) in times.iter_mut().enumerate() {
            let (started, cpu) = (Instant::now(), common::cpu_seconds());
            runtime.block_on(async {
                match step {
                    0 => query(source().await, common::FLOOR_SQL.into()).await,
                    1 => query(hashing(source().await), common::FLOOR_SQL.into()).await,
                    2 => query(hashing(source().await), every_column.clone()).await,
                    _ => drop(shared().await),
                }
            });
            times.push((started.elapsed().as_secs_f64(), common::cpu_seconds() - cpu));
        }
    }
    let median = common::median;
    let floor = median(times[0].iter().map(|t| t.0).collect());
    for (label, times) in steps.iter().zip(times) {
        let wall = median(times.iter().map(|t| t.0).collect());
        let cpu = median(times.iter().map(|t| t.1).collect());
        println!(
            "{label:<32} {wall:6.2} s, CPU {cpu:6.2} s, {:.2}x the floor",
            wall / floor
        );
    }
}

/// Each part of `report::build` timed on its own.
fn phases<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    source: &F,
    catalog: &[controls::Control],
    period: &Period,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ArchiveSource>,
{
    // Each phase's time and its own peak memory.
    let time = |label: &str, started: Instant| {
        println!(
            "  {label:<38} {:8.2} s, peak {:6.0} MiB",
            started.elapsed().as_secs_f64(),
            common::peak_rss_mib()
        );
        common::reset_peak_rss();
    };
    common::reset_peak_rss();
    runtime.block_on(async {
        let values = ParamValues::default();
        // As the report does: the scan records what it read, for verify and the manifest.
        let s = common::recording_readings(source().await);
        let ctx = evidence_session(&s, &[]).await.unwrap();
        let started = Instant::now();
        let mut rollup = trailscope::report::activity::Rollup::default();
        let needs = shared_scan(&ctx, catalog, &values, &mut rollup).await;
        time("the one scan (shared rows + activity)", started);
        let started = Instant::now();
        trailscope::report::activity::summarize(rollup, period, false)
            .await
            .unwrap();
        time("activity tables from the rollup", started);
        println!(
            "    ({} columns kept)",
            needs.columns.map_or(0, |c| c.len())
        );
        let kept = ctx
            .sql("SELECT count(*) FROM cloudtrail")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        println!(
            "    ({} rows kept)",
            arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(kept[0].column(0))
                .value(0)
        );
        let started = Instant::now();
        let mut each = Vec::new();
        for control in catalog {
            let one = Instant::now();
            controls::run_controls(&ctx, std::slice::from_ref(control), &values)
                .await
                .unwrap();
            each.push((one.elapsed().as_secs_f64(), control.meta.id.clone()));
        }
        time("controls over the shared rows", started);
        each.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (secs, id) in each.iter().take(6) {
            println!("    {secs:6.2} s  {id}");
        }
        // As the report does: the digests read once, for the gaps and verify.
        let started = Instant::now();
        let mut options = trailscope::integrity::VerifyOptions {
            readings: s.readings.clone(),
            ..Default::default()
        };
        let digests = trailscope::integrity::read_digests_once(&s.location, &s.scope, &options)
            .await
            .unwrap();
        options.digests = Some(digests.clone());
        time("the period's digests", started);
        let started = Instant::now();
        trailscope::integrity::verify(&s.location, &s.scope, &options)
            .await
            .unwrap();
        time("verify (no signatures), digests read", started);
        let started = Instant::now();
        // As the report does: the stop events from the shared rows.
        let gap_options = trailscope::integrity::GapOptions {
            digests: Some(digests),
            ..Default::default()
        };
        trailscope::table::stop_events::gaps(&s.clone().into(), &gap_options, Some(&ctx))
            .await
            .unwrap();
        time("gaps, digests read", started);
        let started = Instant::now();
        let inputs = ReportInputs {
            period: period.clone(),
            archive: "bench".into(),
            snapshots: Vec::new(),
            controls: catalog.to_vec(),
            values: ParamValues::default(),
            frameworks: Vec::new(),
            keys: KeySource::Skip,
            signatures: Default::default(),
            gap_threshold: Duration::minutes(60),
            baseline: None,
            rules: None,
        };
        trailscope::report::manifest::collect(&s, &inputs)
            .await
            .unwrap();
        time("the manifest (every input hashed)", started);
    });
}
