//! Streaming output: how soon `trailscope query "SELECT * FROM cloudtrail" | head -3` prints, and
//! the peak memory of `SELECT *` over the whole archive, every row read.
//!
//! `cargo bench --bench stream -- [--data DIR] [--bin PATH]` (default: the engine benchmark's
//! archive, `bench-data/engine-1020000`; the binary Cargo built beside this benchmark). The
//! baseline, in the same run, is the whole scan: the time of `SELECT *` read to the end, which is
//! what a collecting printer made `| head` wait for. The process is measured as a user runs it,
//! start to exit, its peak RSS sampled from /proc while it runs.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const SQL: &str = "SELECT * FROM cloudtrail";

fn main() {
    let data = common::data_dir();
    let archive = common::prepare(&data);
    let bin = common::option("--bin").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_trailscope")),
        PathBuf::from,
    );
    println!("archive: {}\nbinary: {}", archive.display(), bin.display());

    let (first, head_exit, head_code) = first_rows(&bin, &archive, 3);
    let (whole, peak_mib, rows) = whole_scan(&bin, &archive);
    println!(
        "| SELECT * | seconds | peak RSS |\n|---|---|---|\n\
         | `| head -3`: first 3 lines | {first:.2} | |\n\
         | `| head -3`: process exit (code {head_code}) | {head_exit:.2} | |\n\
         | every row as jsonl, {rows} rows (baseline) | {whole:.2} | {peak_mib:.0} MiB |"
    );
    println!(
        "first rows after {:.3} of the whole scan's time; peak memory {:.2} of 1 GiB",
        first / whole,
        peak_mib / 1024.0
    );
}

fn query(bin: &Path, archive: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["query", "-q", "-a"])
        .arg(archive)
        .arg(SQL)
        .stdin(Stdio::null());
    cmd
}

/// Seconds until `lines` lines of output arrived, and until the process exited once its
/// reader went away (a closed pipe, as `head` leaves it), with its exit code.
fn first_rows(bin: &Path, archive: &Path, lines: usize) -> (f64, f64, i32) {
    let started = Instant::now();
    let mut child = query(bin, archive)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start trailscope");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..lines {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
    }
    let first = started.elapsed().as_secs_f64();
    drop(out);
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (first, started.elapsed().as_secs_f64(), code)
}

/// Seconds, peak RSS (MiB) and rows of `SELECT *` over everything, as jsonl (one row a line),
/// read and counted by this process as fast as it comes.
fn whole_scan(bin: &Path, archive: &Path) -> (f64, f64, usize) {
    let started = Instant::now();
    let mut child = query(bin, archive)
        .args(["--format", "jsonl"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start trailscope");
    let out = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || BufReader::new(out).lines().count());
    let (code, peak) = common::wait_sampling_peak(child);
    let rows = counter.join().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(code, 0, "SELECT * failed");
    (seconds, peak as f64 / 1024.0, rows)
}
