//! `trailscope generate`: a synthetic archive in the delivered layout, with signed digests.

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use clap::Args;

use trailscope::error::Result;
use trailscope::generate::{GenerateOptions, StopEpisode, generate};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write the archive into (must not already hold an archive).
    pub out: PathBuf,
    /// First day (UTC).
    #[arg(long, default_value = "2026-10-01")]
    pub start: NaiveDate,
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    #[arg(long, default_value_t = 2)]
    pub accounts: u32,
    /// Regions (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "us-east-1,eu-west-1,us-west-2"
    )]
    pub regions: Vec<String>,
    /// Events per account per day, all regions together.
    #[arg(long, default_value_t = 2000)]
    pub events_per_day: u32,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Do not write digest files (as if log file validation were off).
    #[arg(long)]
    pub no_digests: bool,
    /// Bucket name written into digests.
    #[arg(long, default_value = "trailscope-demo-logs")]
    pub bucket: String,
    /// A logging stop episode: ACCOUNT_INDEX,STOP[,RESTART] (times as 2026-10-02T01:00:00Z).
    #[arg(long = "stop", value_name = "I,STOP[,RESTART]", value_parser = parse_stop)]
    pub stops: Vec<StopEpisode>,
    /// Plant identity chains on the first day (role chains across up to three accounts, SAML,
    /// web identity, Identity Center, an EC2 instance role, a chain issued before the archive),
    /// with their true origins in _trailscope/identity-chains.json.
    #[arg(long)]
    pub identity_chains: bool,
}

fn parse_stop(s: &str) -> std::result::Result<StopEpisode, String> {
    let parts: Vec<&str> = s.split(',').collect();
    let (index, stop, restart) = match parts.as_slice() {
        [i, stop] => (i, stop, None),
        [i, stop, restart] => (i, stop, Some(restart)),
        _ => return Err(format!("{s:?}: expected ACCOUNT_INDEX,STOP[,RESTART]")),
    };
    Ok(StopEpisode {
        account_index: index
            .parse()
            .map_err(|_| format!("{index:?} is not an account index"))?,
        stop: trailscope::time::parse_user_time(stop)?,
        restart: restart
            .map(|r| trailscope::time::parse_user_time(r))
            .transpose()?,
    })
}

pub fn run(args: GenerateArgs, quiet: bool) -> Result<u8> {
    let options = GenerateOptions {
        start: args.start,
        days: args.days,
        accounts: args.accounts,
        regions: args.regions,
        events_per_day: args.events_per_day,
        seed: args.seed,
        digests: !args.no_digests,
        bucket: args.bucket,
        stops: args.stops,
        identity_chains: args.identity_chains,
    };
    let started = Instant::now();
    let summary = generate(&args.out, &options)?;
    if !quiet {
        eprintln!(
            "wrote {} events in {} log files and {} digest files for accounts {}{} to {} in {:.1}s",
            summary.events,
            summary.log_files,
            summary.digest_files,
            summary.accounts.join(", "),
            summary
                .org_id
                .map(|o| format!(" (organization {o})"))
                .unwrap_or_default(),
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(0)
}
