//! `trailscope verify`: digest and log file integrity validation, like `aws cloudtrail
//! validate-logs` but offline-capable, multi-region and multi-account in one run.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::archive_args::ArchiveArgs;
use trailscope::archive::Location;
use trailscope::error::{Error, Result};
use trailscope::integrity::{
    DigestStatus, KeyRing, KeySource, LogFileStatus, VerifyOptions, VerifyReport, load_signatures,
    verify,
};
use trailscope::output::{Column, jsonl, records, write_all};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvidenceFormat {
    /// Problems, then validate-logs style totals.
    Text,
    /// One JSON object per checked item.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// Only this trail's digest chains (by name).
    #[arg(long, value_name = "NAME")]
    pub trail: Option<String>,
    /// Public keys from `aws cloudtrail list-public-keys --output json` (offline); otherwise
    /// cloudtrail:ListPublicKeys is called in each region that has digests.
    #[arg(long, value_name = "FILE")]
    pub public_keys: Option<PathBuf>,
    /// Digest signatures a local copy lost with the S3 metadata: `{"<digest key>": "<hex>"}` or
    /// `{"<key>": {"signature": "<hex>"}}` (trailscope generate writes one).
    #[arg(long, value_name = "FILE")]
    pub signatures: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: EvidenceFormat,
}

pub async fn run(args: VerifyArgs, quiet: bool) -> Result<u8> {
    let scope = args.archive.scope()?;
    let location = Location::open(&args.archive.archive, &args.archive.s3_options()).await?;
    let keys = match &args.public_keys {
        Some(path) => KeySource::Ring(KeyRing::from_file(path)?),
        None => KeySource::ListPublicKeys(args.archive.s3_options()),
    };
    let signatures = match &args.signatures {
        Some(path) => load_signatures(path)?,
        None => Default::default(),
    };
    let options = VerifyOptions {
        trail: args.trail.clone(),
        keys,
        signatures,
        allow_partial: args.archive.allow_partial,
        ..VerifyOptions::default()
    };
    let report = verify(&location, &scope, &options).await?;
    if let Some(cause) = &report.signatures_skipped {
        eprintln!(
            "trailscope: warning: digest signatures not checked: {}",
            super::no_credentials(cause)
        );
    }
    let mut out = std::io::BufWriter::new(std::io::stdout());
    match args.format {
        EvidenceFormat::Text => write_text(&mut out, &location.display, &report, quiet)
            .and_then(|()| out.flush())
            .map_err(|e| Error::io("output", e))?,
        EvidenceFormat::Jsonl => write_jsonl(&mut out, &report)?,
    }
    Ok(if report.is_valid() { 0 } else { 1 })
}

fn iso(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// One JSON object per checked digest, then per checked log file, through the output seam.
pub fn write_jsonl(out: &mut (dyn Write + Send), report: &VerifyReport) -> Result<()> {
    let text = |s: &str| Some(s.to_string());
    let digests = records(
        &[
            "type",
            "key",
            "account_id",
            "region",
            "trail",
            "end_time",
            "status",
            "detail",
        ]
        .map(|c| (c, Column::Text)),
        report.digests.iter().map(|d| {
            vec![
                text("digest"),
                text(&d.key),
                text(&d.account_id),
                text(&d.region),
                text(&d.trail),
                iso(d.end_time),
                text(d.status.as_str()),
                text(&d.detail),
            ]
        }),
    )?;
    let log_files = records(
        &[
            "type",
            "key",
            "account_id",
            "region",
            "status",
            "digest_key",
            "detail",
        ]
        .map(|c| (c, Column::Text)),
        report.log_files.iter().map(|l| {
            vec![
                text("log_file"),
                text(&l.key),
                text(&l.account_id),
                text(&l.region),
                text(l.status.as_str()),
                l.digest_key.clone(),
                text(&l.detail),
            ]
        }),
    )?;
    // Two shapes of item, so two batches, each written whole.
    for batch in [digests, log_files] {
        write_all(jsonl(), &mut *out, &batch.schema(), &[batch], false)?;
    }
    Ok(())
}

pub fn write_text(
    out: &mut dyn Write,
    display: &str,
    report: &VerifyReport,
    quiet: bool,
) -> std::io::Result<()> {
    let bound = |t: Option<chrono::DateTime<chrono::Utc>>, open: &str| {
        iso(t).unwrap_or_else(|| open.to_string())
    };
    let requested = format!(
        "{} to {}",
        bound(report.range.from, "the beginning"),
        bound(report.range.to, "the end")
    );
    if !quiet {
        writeln!(
            out,
            "Validating digest and log files in {display} from {requested}"
        )?;
        if !report.signatures_checked {
            writeln!(out, "(signatures not checked)")?;
        }
    }
    for d in report
        .digests
        .iter()
        .filter(|d| d.status != DigestStatus::Valid)
    {
        writeln!(
            out,
            "Digest {:<17} {} ({} {} {}, ends {}): {}",
            d.status.as_str(),
            d.key,
            d.account_id,
            d.region,
            d.trail,
            bound(d.end_time, "?"),
            d.detail
        )?;
    }
    // Files in hours no digest covers are counted, not listed one by one (`--format jsonl`
    // lists them): an archive without validation would otherwise print every file.
    let uncovered = |l: &&trailscope::integrity::LogFileCheck| {
        l.status == LogFileStatus::Unattested && l.digest_key.is_none()
    };
    for l in report
        .log_files
        .iter()
        .filter(|l| l.status != LogFileStatus::Valid && !uncovered(l))
    {
        writeln!(
            out,
            "Log file {:<13} {}: {}",
            l.status.as_str(),
            l.key,
            l.detail
        )?;
    }
    let restarts = report.digests.iter().filter(|d| d.chain_start).count();
    if restarts > 0 && !quiet {
        writeln!(
            out,
            "{restarts} chain start(s) (previous* null): validation or logging (re)started"
        )?;
    }
    let times = report.digests.iter().filter_map(|d| d.end_time);
    let first = times.clone().min();
    let last = times.max();
    writeln!(out, "Results requested for {requested}")?;
    if let (Some(first), Some(last)) = (first, last) {
        writeln!(
            out,
            "Results found for {} to {}:",
            bound(Some(first - trailscope::integrity::chain::CADENCE), "?"),
            bound(Some(last), "?")
        )?;
    }
    let (dv, dt) = report.digest_counts();
    let (lv, lt) = report.log_file_counts();
    writeln!(out, "{dv}/{dt} digest files valid")?;
    writeln!(out, "{lv}/{lt} log files valid")?;
    let count = |status: LogFileStatus| {
        report
            .log_files
            .iter()
            .filter(|l| l.status == status)
            .count()
    };
    let unattested = count(LogFileStatus::Unattested);
    if unattested > 0 {
        let no_digest = report.log_files.iter().filter(uncovered).count();
        writeln!(
            out,
            "{unattested}/{lt} log files unattested ({no_digest} in hours no digest covers)"
        )?;
    }
    let unfetched = count(LogFileStatus::Unfetched)
        + report
            .digests
            .iter()
            .filter(|d| d.status == DigestStatus::Unfetched)
            .count();
    if unfetched > 0 {
        writeln!(
            out,
            "{unfetched} files could not be fetched: these results are partial"
        )?;
    }
    Ok(())
}
