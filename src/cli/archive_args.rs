//! Flags shared by every command that reads an archive.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use clap::Args;

use trailscope::archive::{Location, S3Options, Scope};
use trailscope::enrich::{EnrichOptions, Enrichment};
use trailscope::error::{Error, Result};
use trailscope::lake::{ArchiveListing, Lake, LakeSnapshot};
use trailscope::table::dialect_columns::PartitionNames;
use trailscope::table::{ArchiveSource, TableSource};
use trailscope::time::{parse_duration, parse_user_time};

#[derive(Debug, Clone, Args)]
pub struct ArchiveArgs {
    /// The archive: a local directory, file:///path, or s3://bucket[/prefix].
    #[arg(long, short = 'a', env = "TRAILSCOPE_ARCHIVE", value_name = "LOCATION")]
    pub archive: String,
    /// A Parquet lake made by `trailscope convert`: `cloudtrail` reads it, plus the archive's
    /// objects it does not hold yet (same answers as the raw archive, faster).
    #[arg(long, env = "TRAILSCOPE_LAKE", value_name = "LOCATION")]
    pub lake: Option<String>,
    /// With --lake: list the whole archive and weigh every object against the lake's manifest,
    /// instead of only the folders delivered since the last whole conversion. Slower on big
    /// archives; also catches objects rewritten or deleted in older folders since.
    #[arg(long, requires = "lake")]
    pub lake_relist: bool,
    /// With --lake: answer from the lake's committed rows alone, without listing the archive.
    /// Faster, but objects delivered since the last conversion (and those it left raw) are not
    /// read; a note on stderr says so.
    #[arg(long, requires = "lake", conflicts_with = "lake_relist")]
    pub lake_only: bool,
    /// Only events at or after this time (2024-03-01, 2024-03-01T12:00:00Z, ...; UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_user_time)]
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time (exclusive).
    #[arg(long, value_name = "TIME", value_parser = parse_user_time)]
    pub to: Option<DateTime<Utc>>,
    /// Only these accounts (repeat or comma-separate).
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Only log files delivered for these regions (repeat or comma-separate).
    #[arg(long = "region", value_name = "REGION", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// How late a log file may be delivered after its events (date folders are delivery dates).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub late_margin: Duration,
    /// Fail (exit 1) on the first object that looks like CloudTrail's but cannot be read.
    #[arg(long)]
    pub strict: bool,
    /// Answer even when some objects cannot be fetched (after retries): they are named as
    /// `unfetched` in `read_errors` and the summary, and the exit code is 1. Without it, an
    /// object that cannot be fetched fails the command (exit 2).
    #[arg(long)]
    pub allow_partial: bool,
    /// How long one S3 read may keep failing (503 SlowDown, 500, resets, broken bodies) before
    /// it is given up; retries back off exponentially with jitter.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub retry_budget: Duration,
    /// AWS profile for S3 archives (otherwise AWS_PROFILE or the default credential chain).
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// The S3 bucket's region (otherwise discovered from the bucket).
    #[arg(long, value_name = "REGION")]
    pub bucket_region: Option<String>,
    /// S3-compatible endpoint, e.g. http://127.0.0.1:9000 (path-style requests are used).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL_S3")]
    pub endpoint_url: Option<String>,
    /// Your Athena table's own partition column names, when they are none of year/month/day,
    /// timestamp/date, date_partition, account/accountid/account_partition, region_partition:
    /// NAME=PART,... with PART one of year, month, day, date (yyyy/MM/dd), account, region.
    #[arg(long, value_name = "NAME=PART,...", env = "TRAILSCOPE_PARTITION_NAMES",
          value_parser = PartitionNames::parse, default_value = "")]
    pub partition_names: PartitionNames,
    #[command(flatten)]
    pub enrich: EnrichArgs,
}

/// Offline IP enrichment: the files `ip_country()`, `ip_asn()`, `ip_as_org()`,
/// `ip_aws_service()`, `ip_in()` and `known_bad()` answer from. Outputs that use them name the
/// files with their SHA-256 and build dates.
#[derive(Debug, Clone, Args)]
pub struct EnrichArgs {
    /// A country or city database in MaxMind DB format (GeoLite2-Country.mmdb,
    /// GeoLite2-City.mmdb, dbip-country-lite.mmdb).
    #[arg(long, value_name = "FILE", env = "TRAILSCOPE_GEOIP")]
    pub geoip: Option<std::path::PathBuf>,
    /// An ASN database in MaxMind DB format (GeoLite2-ASN.mmdb, dbip-asn-lite.mmdb).
    #[arg(long, value_name = "FILE", env = "TRAILSCOPE_ASN")]
    pub asn: Option<std::path::PathBuf>,
    /// AWS's published ip-ranges.json, for ip_aws_service().
    #[arg(long, value_name = "FILE", env = "TRAILSCOPE_IP_RANGES")]
    pub ip_ranges: Option<std::path::PathBuf>,
    /// A list of addresses or CIDR networks, one per line (tor-exits.txt): ip_in(ip, 'tor-exits')
    /// and known_bad(ip) check it. Repeat for several.
    #[arg(
        long = "ip-list",
        value_name = "FILE",
        env = "TRAILSCOPE_IP_LISTS",
        value_delimiter = ','
    )]
    pub ip_lists: Vec<std::path::PathBuf>,
    /// A YAML file naming these files (keys geoip, asn, ip_ranges, ip_lists; relative paths
    /// from its folder), so a team pins them once. The options above win over its entries.
    #[arg(long, value_name = "FILE", env = "TRAILSCOPE_ENRICH_CONFIG")]
    pub enrich_config: Option<std::path::PathBuf>,
}

impl EnrichArgs {
    /// The files, loaded (once per command).
    pub fn load(&self) -> Result<Arc<Enrichment>> {
        let given = EnrichOptions {
            geoip: self.geoip.clone(),
            asn: self.asn.clone(),
            ip_ranges: self.ip_ranges.clone(),
            ip_lists: self.ip_lists.clone(),
        };
        let options = match &self.enrich_config {
            Some(path) => given.over(EnrichOptions::from_config(path, "--enrich-config")?),
            None => given,
        };
        Ok(Arc::new(Enrichment::load(&options)?))
    }
}

impl ArchiveArgs {
    pub fn scope(&self) -> Result<Scope> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(Error::usage(format!(
                "--from {} is not before --to {}: give an earlier --from",
                from.to_rfc3339(),
                to.to_rfc3339()
            )));
        }
        for account in &self.accounts {
            if !trailscope::archive::layout::is_account_id(account) {
                return Err(Error::usage(format!(
                    "--account {account}: an account id has 12 digits"
                )));
            }
        }
        Ok(Scope {
            from: self.from,
            to: self.to,
            accounts: self.accounts.iter().cloned().collect::<BTreeSet<_>>(),
            regions: self.regions.iter().cloned().collect(),
            late_margin: self.late_margin,
            ..Scope::default()
        })
    }

    pub fn s3_options(&self) -> S3Options {
        S3Options {
            profile: self.profile.clone(),
            region: self.bucket_region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            retry_budget: self.retry_budget.to_std().ok(),
        }
    }

    pub async fn open(&self) -> Result<TableSource> {
        let scope = self.scope()?;
        let location = Location::open(&self.archive, &self.s3_options()).await?;
        let lake = self.open_lake().await?;
        Ok(TableSource::new(self.source(location, scope), lake)
            .with_partition_names(self.partition_names.clone())
            .with_enrichment(self.enrich.load()?))
    }

    /// The scan context for `location`, with this command line's evidence policy.
    pub fn source(&self, location: Location, scope: Scope) -> ArchiveSource {
        let mut source = ArchiveSource::new(location, scope, self.strict);
        source.allow_partial = self.allow_partial;
        source
    }

    /// The lake named by `--lake`, loaded as of its newest commit; an error when it has none.
    pub async fn open_lake(&self) -> Result<Option<Arc<LakeSnapshot>>> {
        let Some(lake) = &self.lake else {
            return Ok(None);
        };
        let listing = match (self.lake_relist, self.lake_only) {
            (true, _) => ArchiveListing::Whole,
            (_, true) => ArchiveListing::Skip,
            _ => ArchiveListing::SinceCheckpoint,
        };
        let snapshot =
            Lake::open_for_queries(lake, &self.archive, &self.s3_options(), listing).await?;
        if self.lake_only {
            // Said whatever the verbosity: the answer leaves out what the lake does not hold.
            let raw = snapshot.checkpoint.as_ref().map_or(0, |c| c.read_raw.len());
            eprintln!(
                "trailscope: note: --lake-only: answered from the lake (commit {}) alone; log \
                 objects delivered since its last conversion{} are not read",
                snapshot.version,
                match raw {
                    0 => String::new(),
                    n => format!(", and the {n} it left raw,"),
                }
            );
        }
        Ok(Some(Arc::new(snapshot)))
    }
}
