//! Detection benchmark: every rule over the benchmarks' 30-day archive (≈1.02M events, see
//! `common`) against one decoding scan of the same archive, in one run.
//!
//! `cargo bench --bench detect -- [--data DIR] [--rules PATH]... [--floor-first] [--phases]`
//! (`--floor-first`: the floor runs first, to see whether the order, through the page cache,
//! favours either side). Measured:
//! - **detect**: loading and compiling the rules (trailscope's pack, plus `--rules`), then
//!   `detect::detect`: every rule planned, the archive decoded once, every rule's query run;
//! - **floor**: one scan that decodes every record (`SELECT eventname, count(*) ... GROUP BY`),
//!   what any tool reading the raw logs pays at least once.
//!
//! Peak memory is the process's high-water mark after the detect run (read before the floor).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use trailscope::detect::{self, load};

fn main() {
    let archive = common::prepare(&common::data_dir());
    let args: Vec<String> = std::env::args().collect();
    let extra: Vec<PathBuf> = args
        .windows(2)
        .filter(|w| w[0] == "--rules")
        .map(|w| PathBuf::from(&w[1]))
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let source = || common::archive_source(&archive);
    let floor_first = common::flag("--floor-first");
    let floor = || common::floor_scan(&runtime, &runtime.block_on(source()));
    let early = floor_first.then(&floor);

    let started = Instant::now();
    let set = load::load(&load::gather(true, &extra).unwrap());
    let runnable = set.runnable();
    let (outcome, records) = runtime.block_on(async {
        let s = source().await;
        let stats = s.stats.clone();
        let outcome = detect::detect(&s.into(), &runnable).await.unwrap();
        (outcome, trailscope::table::ScanStats::get(&stats.records))
    });
    let ours = started.elapsed().as_secs_f64();
    let peak = common::peak_rss_mib();
    let (floor, events) = early.unwrap_or_else(floor);
    assert_eq!(records, events, "detect decoded every event once");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);

    println!("\narchive: {} ({events} events)", archive.display());
    println!(
        "{}; {} run (rules only correlations use are not run alone); {} detections",
        set.summary(),
        runnable.len(),
        outcome.hits.len()
    );
    for (rule, why) in &set.skipped {
        println!("  skipped: {rule}: {why}");
    }
    println!("trailscope detect (load, compile, scan, every rule): {ours:8.2} s");
    println!("floor: one decoding scan of the archive:             {floor:8.2} s");
    println!("detect / floor: {:.2}x", ours / floor);
    println!("peak memory after detect: {peak:.0} MiB");
    if common::flag("--phases") {
        runtime.block_on(async {
            let s: trailscope::table::TableSource = source().await.into();
            let t = Instant::now();
            let ctx = trailscope::table::session(s.clone()).unwrap();
            let pass = detect::run::prepare(&ctx, &s, &runnable).await.unwrap();
            println!(
                "  plan every rule:            {:8.2} s",
                t.elapsed().as_secs_f64()
            );
            let t = Instant::now();
            let mut collector = pass.collector();
            let mut keeping = std::time::Duration::ZERO;
            let mut keep = |b| {
                let t = Instant::now();
                let kept = collector.add(b);
                keeping += t.elapsed();
                kept
            };
            trailscope::table::shared_scan::share_cloudtrail_scan(
                &ctx,
                &[],
                |_| async { Ok(()) },
                vec![pass.along(&mut keep)],
            )
            .await
            .unwrap();
            let matched = collector.register(&ctx, pass.schema()).await.unwrap();
            let kept = format!(
                "{}{}",
                matched.rows,
                if matched.spilled() { ", spilled" } else { "" }
            );
            println!(
                "  the pass ({kept} events kept): {:8.2} s, of which keeping them {:.2} s",
                t.elapsed().as_secs_f64(),
                keeping.as_secs_f64()
            );
            let mut slow: Vec<(f64, String, usize)> = Vec::new();
            for (title, sql) in pass.rule_queries() {
                let t = Instant::now();
                let rows: usize = ctx
                    .sql(&sql)
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap()
                    .iter()
                    .map(|b| b.num_rows())
                    .sum();
                slow.push((t.elapsed().as_secs_f64(), title, rows));
            }
            // Each rule's query as `--show-sql` shows it over the kept events: correlations as
            // their window SQL, which `detect` replaces by one sweep (timed below, with the rest).
            println!("  slowest rules as SQL over the kept events:");
            slow.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (seconds, title, rows) in slow.iter().take(5) {
                println!("    {seconds:6.2} s  {title} ({rows} rows)");
            }
            let t = Instant::now();
            detect::run::run_rules(&ctx, pass).await.unwrap();
            println!(
                "  the rules over them, as detect runs them: {:8.2} s",
                t.elapsed().as_secs_f64()
            );
        });
    }
}
