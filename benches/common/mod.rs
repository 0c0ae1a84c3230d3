//! The benchmarks' shared archive: 30 days (October 2026), 2 accounts, 3 regions, 17,000 events
//! per account and day (≈1.02M events in ≈52k log files) with hourly signed digests. Generated
//! under `DIR/archive` the first time, never in git.

#![allow(dead_code)] // each benchmark uses a part

use std::path::{Path, PathBuf};

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

/// Whether `--flag` was given.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

pub fn prepare(data: &Path) -> PathBuf {
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
