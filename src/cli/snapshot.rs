//! `trailscope snapshot`: capture a configuration snapshot (raw AWS API answers) to a file.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use trailscope::archive::S3Options;
use trailscope::error::Result;
use trailscope::snapshot::capture::{CaptureOptions, capture, parse_regions};

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// File to write the snapshot JSON to (written atomically).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// AWS profile (otherwise AWS_PROFILE or the default credential chain).
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Regions to look for trails in: `all` (the 17 default-enabled commercial regions) or a
    /// comma-separated list such as us-east-1,eu-west-1.
    #[arg(long, value_name = "all|LIST", default_value = "all")]
    pub regions: String,
    /// Endpoint for every AWS API call, e.g. http://127.0.0.1:5000 (S3 uses path-style requests).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

pub async fn run(args: SnapshotArgs, quiet: bool) -> Result<u8> {
    let options = CaptureOptions {
        aws: S3Options {
            profile: args.profile,
            region: None,
            endpoint_url: args.endpoint_url,
            retry_budget: None,
        },
        regions: parse_regions(&args.regions)?,
    };
    let started = Instant::now();
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let snapshot = capture(&options, &mut progress).await?;
    snapshot.write(&args.output)?;
    if !quiet {
        eprintln!(
            "{} calls, {} errors, written to {} in {:.1}s",
            snapshot.calls.len(),
            snapshot.errors(),
            args.output.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(0)
}
