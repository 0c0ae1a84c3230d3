//! `trailscope compact`: a lake's small data files merged into larger ones (same rows, same
//! answers, fewer files for every query to open).

use std::time::Instant;

use clap::Args;

use super::archive_args::ArchiveArgs;
use trailscope::error::{Error, Result};
use trailscope::lake::{CompactOptions, Lake, compact};

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// `--lake` (required here) is the lake to compact; `-a` its archive, which is not read (it
    /// is named so the lake can be checked to lie outside it). The whole lake is compacted:
    /// `--from/--to/--account/--region` are refused.
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// Rows of a compacted file at most; a partition's files under half of it are merged.
    #[arg(long, value_name = "ROWS", default_value_t = 1_000_000)]
    pub target_rows: u64,
}

pub async fn run(args: CompactArgs, quiet: bool) -> Result<u8> {
    let Some(lake) = args.archive.lake.clone() else {
        return Err(Error::usage(
            "compact needs --lake LOCATION: the lake made by `trailscope convert`",
        ));
    };
    let a = &args.archive;
    if a.from.is_some() || a.to.is_some() || !a.accounts.is_empty() || !a.regions.is_empty() {
        return Err(Error::usage(
            "compact works on the whole lake: drop --from/--to/--account/--region",
        ));
    }
    if args.target_rows < 2 {
        return Err(Error::usage(format!(
            "--target-rows {}: give at least 2 (default 1000000)",
            args.target_rows
        )));
    }
    let lake = Lake::open(&lake, &a.archive, &a.s3_options()).await?;
    let started = Instant::now();
    let options = CompactOptions {
        target_rows: args.target_rows,
        ..CompactOptions::default()
    };
    let s = compact(&lake, &options).await?;
    if !quiet {
        let swept = if s.orphans_removed > 0 {
            format!(
                "; {} files no manifest names (an interrupted run's) removed",
                s.orphans_removed
            )
        } else {
            String::new()
        };
        if s.files_written == 0 {
            eprintln!(
                "{}: nothing to compact ({} data files, version {}){swept}",
                lake.display(),
                s.files_before,
                s.version
            );
        } else {
            eprintln!(
                "{}: merged {} small files ({} rows) into {} in {:.2}s; {} → {} data files; version {} → {}{swept}",
                lake.display(),
                s.files_replaced,
                s.rows_rewritten,
                s.files_written,
                started.elapsed().as_secs_f64(),
                s.files_before,
                s.files_after,
                s.version_before,
                s.version
            );
        }
    }
    Ok(0)
}
