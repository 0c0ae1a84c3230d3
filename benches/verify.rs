//! Verify benchmark: `trailscope verify` against the physical floor, in one run.
//!
//! `cargo bench --bench verify -- [--data DIR]` (or `scripts/bench.sh verify`). Uses the engine
//! benchmark's generated archive (30 days, 2 accounts, ~52k log files with hourly signed
//! digests; generated here when absent). The floor is what verification cannot avoid: read
//! every log file a digest lists, gunzip it, SHA-256 the result, in a plain single-pass loop
//! with no object store, no async, no parsing. It runs on one core and on all cores; we report
//! trailscope's time per core against the one-core floor (the target: within 1.5x).

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use sha2::{Digest, Sha256};
use trailscope::archive::{Location, S3Options, Scope};
use trailscope::integrity::{KeyRing, KeySource, VerifyOptions, load_signatures, verify};

fn main() {
    let archive = common::prepare(&common::data_dir());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let report = runtime.block_on(async {
        let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
            .await
            .unwrap();
        let options = VerifyOptions {
            keys: KeySource::Ring(
                KeyRing::from_file(&archive.join("_trailscope/public-keys.json")).unwrap(),
            ),
            signatures: load_signatures(&archive.join("_trailscope/digest-signatures.json"))
                .unwrap(),
            ..VerifyOptions::default()
        };
        verify(&location, &Scope::default(), &options)
            .await
            .unwrap()
    });
    let ours = started.elapsed().as_secs_f64();
    let invalid = report
        .digests
        .iter()
        .filter(|d| d.status.as_str() != "valid")
        .count()
        + report
            .log_files
            .iter()
            .filter(|l| l.status.as_str() != "valid")
            .count();

    // The floor over exactly the files verify hashed.
    let files: Vec<PathBuf> = report
        .log_files
        .iter()
        .map(|l| archive.join(&l.key))
        .collect();
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let started = Instant::now();
    let check_one = floor(&files);
    let floor_one = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let chunks: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(cores).max(1)).collect();
    let check_all: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = chunks.iter().map(|c| s.spawn(|| floor(c))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let floor_all = started.elapsed().as_secs_f64();
    assert_eq!(check_one, check_all);

    println!("\narchive: {}", archive.display());
    println!(
        "{} digests, {} log files ({:.0} MiB gzip), {invalid} not valid, {cores} cores",
        report.digests.len(),
        report.log_files.len(),
        bytes as f64 / 1048576.0
    );
    println!("trailscope verify (all cores):        {ours:8.2} s");
    println!("floor: gunzip + SHA-256, 1 core:      {floor_one:8.2} s");
    println!("floor: gunzip + SHA-256, {cores} cores:     {floor_all:8.2} s");
    println!(
        "trailscope per core vs the 1-core floor: {:.2}x   (vs the {cores}-core floor: {:.2}x)",
        ours * cores as f64 / floor_one,
        ours / floor_all
    );
}

/// Gunzip + SHA-256 of each file, one pass, no frills; returns a checksum so nothing is elided.
fn floor(files: &[PathBuf]) -> u64 {
    let mut check = 0u64;
    let mut raw = Vec::new();
    let mut plain = Vec::new();
    for f in files {
        raw.clear();
        plain.clear();
        std::fs::File::open(f)
            .and_then(|mut h| h.read_to_end(&mut raw))
            .unwrap();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut plain)
            .unwrap();
        let hash = Sha256::digest(&plain);
        check = check.wrapping_add(u64::from(hash[0]));
    }
    check
}
