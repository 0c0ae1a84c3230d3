//! Flags shared by every command that reads an archive.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use clap::Args;

use crate::archive::{Location, S3Options, Scope};
use crate::error::{Error, Result};
use crate::lake::{Lake, LakeSnapshot};
use crate::table::ArchiveSource;

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
    /// Only events at or after this time (2024-03-01, 2024-03-01T12:00:00Z, ...; UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time (exclusive).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
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
    /// AWS profile for S3 archives (otherwise AWS_PROFILE or the default credential chain).
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// The S3 bucket's region (otherwise discovered from the bucket).
    #[arg(long, value_name = "REGION")]
    pub bucket_region: Option<String>,
    /// S3-compatible endpoint, e.g. http://127.0.0.1:9000 (path-style requests are used).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL_S3")]
    pub endpoint_url: Option<String>,
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
            if !crate::archive::layout::is_account_id(account) {
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
            delivered_from: Default::default(),
        })
    }

    pub fn s3_options(&self) -> S3Options {
        S3Options {
            profile: self.profile.clone(),
            region: self.bucket_region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    pub async fn open(&self) -> Result<ArchiveSource> {
        let scope = self.scope()?;
        let location = Location::open(&self.archive, &self.s3_options()).await?;
        let lake = self.open_lake().await?;
        Ok(ArchiveSource::new(location, scope, self.strict).with_lake(lake))
    }

    /// The lake named by `--lake`, loaded as of its newest commit; an error when it has none.
    pub async fn open_lake(&self) -> Result<Option<Arc<LakeSnapshot>>> {
        let Some(lake) = &self.lake else {
            return Ok(None);
        };
        let local_missing = !lake.starts_with("s3://")
            && !std::path::Path::new(lake.strip_prefix("file://").unwrap_or(lake)).is_dir();
        let snapshot = if local_missing {
            None
        } else {
            let opened = Lake::open(lake, &self.archive, &self.s3_options()).await?;
            Some(if self.lake_relist {
                crate::lake::manifest::load(&opened).await?
            } else {
                crate::lake::manifest::load_for_queries(&opened).await?
            })
        };
        let Some(mut snapshot) = snapshot.filter(|s| s.version > 0) else {
            return Err(Error::usage(format!(
                "--lake {lake}: no trailscope lake there yet (no {}/manifest-*.json); \
                 run `trailscope convert --archive {} --lake {lake}` first",
                crate::lake::META_FOLDER,
                self.archive
            )));
        };
        if self.lake_relist {
            snapshot.checkpoint = None;
        }
        Ok(Some(Arc::new(snapshot)))
    }
}

/// Parses a UTC time: RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` or with a space.
pub fn parse_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    Err(format!(
        "{s:?} is not a time: use 2024-03-01, 2024-03-01T12:00 or 2024-03-01T12:00:00Z (UTC)"
    ))
}

/// Parses `90m`, `24h`, `2d`, `3600s`.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let err = || format!("{s:?} is not a duration: use e.g. 90m, 24h or 2d");
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?);
    let n: i64 = number.parse().map_err(|_| err())?;
    match unit {
        "s" => Ok(Duration::seconds(n)),
        "m" => Ok(Duration::minutes(n)),
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(
            parse_time("2024-03-01").unwrap().to_rfc3339(),
            "2024-03-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2024-03-01T12:30").unwrap().to_rfc3339(),
            "2024-03-01T12:30:00+00:00"
        );
        assert_eq!(
            parse_time("2024-03-01T12:30:00Z").unwrap().to_rfc3339(),
            "2024-03-01T12:30:00+00:00"
        );
        assert!(
            parse_time("last tuesday")
                .unwrap_err()
                .contains("not a time")
        );
        assert_eq!(parse_duration("90m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("2d").unwrap(), Duration::days(2));
        assert!(parse_duration("2 weeks").is_err());
    }
}
