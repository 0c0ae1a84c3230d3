//! Peak memory of every command over a hostile archive: the real grycap archive (bundled under
//! `testdata/`) salted with eight small gzips that inflate to 3 GiB of whitespace each, two
//! holding a record with a 2.2 GB string, one legal log file of a million records that inflates
//! to about 1 GiB (read in slices), and 24 legal log files of 60 records of 1 MiB (CloudTrail's
//! largest event) that inflate to 60 MiB each from 1.6 MiB in all (one fetch unit). The promise
//! is under 1 GiB on any input.
//!
//! `cargo bench --bench hostile -- [--data DIR] [--bin PATH]` (default `bench-data/hostile`; the
//! binary Cargo built beside this benchmark). The baseline, in the same run, is each command over
//! the pristine archive. The process is measured as a user runs it, its peak RSS sampled from
//! /proc while it runs.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const DAY: &str = "AWSLogs/974349055189/CloudTrail/us-east-1/2017/06/01";

fn main() {
    let data =
        common::option("--data").map_or_else(|| PathBuf::from("bench-data/hostile"), PathBuf::from);
    let bin = common::option("--bin").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_trailscope")),
        PathBuf::from,
    );
    let pristine = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/grycap-archive");
    let hostile = prepare(&data, &pristine);
    println!("archive: {}\nbinary: {}", hostile.display(), bin.display());
    let lake = data.join("lake");
    println!(
        "| command | pristine: seconds, peak | hostile: seconds, peak, exit | peak / 1 GiB |\n|---|---|---|---|"
    );
    let commands: &[&[&str]] = &[
        &["query", "SELECT count(*) FROM cloudtrail"],
        &["query", "--format", "jsonl", "SELECT * FROM cloudtrail"],
        &["check"],
        &["gaps"],
        &["verify", "--format", "jsonl"],
        &["report", "--period", "2017", "--format", "json"],
        &["convert", "--lake"],
    ];
    for args in commands {
        let run = |archive: &Path| {
            let _ = std::fs::remove_dir_all(&lake);
            let mut cmd = Command::new(&bin);
            cmd.arg(args[0])
                .arg("-q")
                .arg("-a")
                .arg(archive)
                .args(&args[1..]);
            if args[0] == "convert" {
                cmd.arg(&lake);
            }
            let started = Instant::now();
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start trailscope");
            let (code, peak) = common::wait_sampling_peak(child);
            (started.elapsed().as_secs_f64(), peak as f64 / 1024.0, code)
        };
        let (ps, pp, _) = run(&pristine);
        let (hs, hp, code) = run(&hostile);
        println!(
            "| {} | {ps:.2} s, {pp:.0} MiB | {hs:.2} s, {hp:.0} MiB, {code} | {:.2} |",
            args.join(" "),
            hp / 1024.0
        );
    }
}

/// The pristine archive copied under `DIR/archive` with the hostile objects planted, once.
fn prepare(data: &Path, pristine: &Path) -> PathBuf {
    let archive = data.join("archive");
    let done = archive.join(DAY).join("salted-with-large");
    if done.exists() {
        plant_dense(&archive.join(DAY));
        return archive;
    }
    let _ = std::fs::remove_dir_all(&archive);
    copy(pristine, &archive);
    let day = archive.join(DAY);
    std::fs::create_dir_all(&day).unwrap();
    let name =
        |tag: &str| format!("974349055189_CloudTrail_us-east-1_20170601T0000Z_{tag}.json.gz");
    let bomb = gzip_of(b"", &[b' '; 1 << 20], 3 << 10, b"");
    for i in 0..8 {
        std::fs::write(day.join(name(&format!("bomb{i}"))), &bomb).unwrap();
    }
    let giant = gzip_of(
        br#"{"Records":[{"eventName":"Giant","userAgent":""#,
        &[b'A'; 1 << 20],
        2200,
        br#""}]}"#,
    );
    for i in 0..2 {
        std::fs::write(day.join(name(&format!("giant{i}"))), &giant).unwrap();
    }
    // Legal, and four times what an object may inflate to whole.
    let mut large = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    large.write_all(b"{\"Records\":[").unwrap();
    for i in 0..1_000_000u32 {
        let record = format!(
            r#"{}{{"eventVersion":"1.08","eventTime":"2017-06-01T00:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"10.0.{}.{}","userAgent":"aws-sdk-java/1.11.{} Linux/4.14 OpenJDK_64-Bit_Server_VM/25.{}","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::974349055189:assumed-role/app/i-{:08x}","accountId":"974349055189"}},"requestParameters":{{"bucketName":"bucket-{}","key":"objects/{:012}/part-{}.parquet","Host":"bucket.s3.amazonaws.com"}},"responseElements":null,"eventID":"{:08x}-0000-4000-8000-{:012x}","readOnly":true,"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::bucket-{}/objects/{:012}"}}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"974349055189","eventCategory":"Data","padding":"{}"}}"#,
            if i == 0 { "" } else { "," },
            (i / 60) % 60,
            i % 60,
            i % 250,
            i % 200,
            i % 900,
            i % 300,
            i % 5000,
            i % 40,
            i,
            i % 16,
            i,
            u64::from(i),
            i % 40,
            i,
            "x".repeat(200 + (i % 100) as usize)
        );
        large.write_all(record.as_bytes()).unwrap();
    }
    large.write_all(b"]}").unwrap();
    std::fs::write(day.join(name("large")), large.finish().unwrap()).unwrap();
    std::fs::create_dir_all(&done).unwrap();
    plant_dense(&day);
    archive
}

/// Legal log files that compress unusually well: 24 of 60 records of 1 MiB each, once.
fn plant_dense(day: &Path) {
    let done = day.join("salted-with-dense");
    if done.exists() {
        return;
    }
    let agent = "A".repeat(1 << 20);
    for object in 0..24 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"{\"Records\":[").unwrap();
        for i in 0..60 {
            let record = format!(
                r#"{}{{"eventVersion":"1.08","eventTime":"2017-06-01T01:{object:02}:{i:02}Z","eventSource":"s3.amazonaws.com","eventName":"Dense","awsRegion":"us-east-1","eventID":"dense-{object}-{i}","userAgent":"{agent}"}}"#,
                if i == 0 { "" } else { "," }
            );
            e.write_all(record.as_bytes()).unwrap();
        }
        e.write_all(b"]}").unwrap();
        let name =
            format!("974349055189_CloudTrail_us-east-1_20170601T0100Z_dense{object:02}.json.gz");
        std::fs::write(day.join(name), e.finish().unwrap()).unwrap();
    }
    std::fs::create_dir_all(&done).unwrap();
}

fn gzip_of(head: &[u8], unit: &[u8], repeat: usize, tail: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(head).unwrap();
    for _ in 0..repeat {
        e.write_all(unit).unwrap();
    }
    e.write_all(tail).unwrap();
    e.finish().unwrap()
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
