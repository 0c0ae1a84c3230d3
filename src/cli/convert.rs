//! `trailscope convert`: the archive's log files → a Parquet lake (incremental, resumable).

use std::time::Instant;

use clap::Args;

use super::archive_args::ArchiveArgs;
use super::query::report_read_errors;
use trailscope::error::{Error, Result};
use trailscope::lake::{ConvertOptions, ConvertSummary, Lake, convert};

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// `--lake` (required here) is where the Parquet goes: a local directory or s3://bucket/prefix,
    /// never inside the archive. `--from/--to/--account/--region` choose the log files to convert
    /// (by delivery folder; every row of a chosen file is converted).
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// Commit after this many MiB of source log files. It bounds memory (decoded rows take about
    /// six times that, twice while sorting); smaller commits lose less work to an interruption.
    #[arg(long, value_name = "MIB", default_value_t = 32.0)]
    pub commit_mib: f64,
    /// Convert on an Apache DataFusion Ballista cluster (`df://HOST:PORT`): executors read the
    /// log files and write the Parquet (the archive and the lake at the same path on each, or
    /// in S3); this process commits each wave of 100,000 log files once all its tasks have
    /// succeeded.
    #[cfg(feature = "cluster")]
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
}

pub async fn run(args: ConvertArgs, quiet: bool) -> Result<u8> {
    let Some(lake) = args.archive.lake.clone() else {
        return Err(Error::usage(
            "convert needs --lake LOCATION: the directory or s3://bucket/prefix to write the Parquet lake to",
        ));
    };
    let scope = args.archive.scope()?;
    let s3 = args.archive.s3_options();
    let lake = Lake::create(&lake, &args.archive.archive, &s3).await?;
    let location = trailscope::archive::Location::open(&args.archive.archive, &s3).await?;
    let source = args.archive.source(location, scope);
    let started = Instant::now();
    let options = ConvertOptions {
        commit_bytes: commit_bytes(args.commit_mib)?,
        ..ConvertOptions::default()
    };
    #[cfg(feature = "cluster")]
    let summary = match &args.cluster {
        Some(url) => {
            trailscope::cluster::convert::convert_on_cluster(url, &source, &lake, &options).await?
        }
        None => convert(&source, &lake, &options).await?,
    };
    #[cfg(not(feature = "cluster"))]
    let summary = convert(&source, &lake, &options).await?;
    if !quiet {
        eprintln!("{}", summary_line(&summary, lake.display(), started));
    }
    if !summary.changed.is_empty() {
        eprintln!(
            "trailscope: warning: {} object{} changed size since converted (queries with --lake read them raw): {}",
            summary.changed.len(),
            if summary.changed.len() == 1 { "" } else { "s" },
            summary
                .changed
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !summary.converted_in_slices.is_empty() && !quiet {
        eprintln!(
            "trailscope: {} log file{} too large to inflate whole (over {} MiB) converted a slice at a time",
            summary.converted_in_slices.len(),
            if summary.converted_in_slices.len() == 1 {
                ""
            } else {
                "s"
            },
            trailscope::decode::gzip::MAX_LOG_INFLATED >> 20,
        );
    }
    Ok(report_read_errors(&(&source).into(), quiet))
}

fn commit_bytes(mib: f64) -> Result<u64> {
    if !(mib.is_finite() && mib > 0.0) {
        return Err(Error::usage(format!(
            "--commit-mib {mib}: give a positive size in MiB, e.g. 32"
        )));
    }
    Ok(((mib * 1024.0 * 1024.0) as u64).max(1))
}

fn summary_line(s: &ConvertSummary, lake: &str, started: Instant) -> String {
    if s.commits == 0 {
        return format!(
            "{lake}: nothing new to convert ({} of {} log files in scope already in the lake, version {}{})",
            s.objects_already,
            s.objects_in_scope,
            s.version,
            if s.orphans_removed > 0 {
                format!(
                    "; {} uncommitted files of an interrupted run removed",
                    s.orphans_removed
                )
            } else {
                String::new()
            }
        );
    }
    format!(
        "{lake}: converted {} log files ({} records) into {} Parquet files ({:.1} MiB) in {:.2}s; \
         {} already in the lake; version {} → {}{}",
        s.objects_converted,
        s.records,
        s.files_written,
        s.bytes_written as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64(),
        s.objects_already,
        s.version_before,
        s.version,
        if s.orphans_removed > 0 {
            format!(
                "; {} uncommitted files of an interrupted run removed",
                s.orphans_removed
            )
        } else {
            String::new()
        }
    )
}
