//! Trace benchmark: `trace --access-key` (a key's blast radius) over the benchmarks' 30-day
//! archive (≈1.02M events, see `common`) against one decoding scan of the same archive, in one
//! run.
//!
//! `cargo bench --bench trace -- [--data DIR] [--key AKIA…]`. The key is the long-term key that
//! issued the most credentials (unless `--key`). Measured:
//! - **trace**: `trace::trace` from that key: the issued credentials, the tree below the key,
//!   every event made with any of them;
//! - **floor**: one scan that decodes every record (`SELECT eventname, count(*) ... GROUP BY`).

mod common;

use std::time::Instant;

use trailscope::trace::{Start, trace};

fn main() {
    let archive = common::prepare(&common::data_dir());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let source = || common::archive_source(&archive);
    let key = common::option("--key").unwrap_or_else(|| {
        runtime.block_on(async {
            let ctx = trailscope::table::session(source().await).unwrap();
            let batches = ctx
                .sql(
                    "SELECT issuer_access_key AS k, count(*) AS n FROM issued_credentials \
                      WHERE issuer_access_key LIKE 'AKIA%' GROUP BY 1 ORDER BY n DESC, k LIMIT 1",
                )
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            trailscope::output::text_cells(&batches[0], "k").unwrap()[0]
                .clone()
                .unwrap()
        })
    });

    let started = Instant::now();
    let traced = runtime.block_on(async {
        trace(&source().await.into(), &Start::AccessKey(key.clone()))
            .await
            .unwrap()
    });
    let ours = started.elapsed().as_secs_f64();
    let peak = common::peak_rss_mib();
    let (floor, events) = common::floor_scan(&runtime, &runtime.block_on(source()));

    println!("\narchive: {} ({events} events)", archive.display());
    println!(
        "trace --access-key {key}: {} credentials, {} events",
        traced.credentials.len(),
        traced.summary.events
    );
    println!("trailscope trace:                     {ours:8.2} s, peak {peak:.0} MiB");
    println!("floor: one decoding scan of the archive: {floor:8.2} s");
    println!("trace / floor: {:.2}x", ours / floor);
}
