//! A Parquet lake: the `cloudtrail` table written once as Hive-partitioned Parquet, so years of
//! logs are scanned as columns instead of re-inflating millions of small JSON files.
//!
//! Layout under the lake location `L` (a local directory or `s3://bucket/prefix`):
//! ```text
//! L/account_id=111122223333/region=us-east-1/date=2026-10-01/part-<run>-<n>.parquet
//! L/_trailscope_lake/manifest-00000000000000000001.json     (one per commit)
//! ```
//! Partition values come from the log file's key (account, region) and the event's time (date,
//! UTC); `account_id` and `region` live only in the path, as Hive readers expect, and every row
//! keeps its `log_file`. The manifest is a log of commits: each names the data files it adds and
//! the source objects (key, size, ETag) whose rows they hold. Data files are written under
//! unique names first and a commit is made visible last, by creating the next numbered manifest
//! with put-if-absent, so a run killed at any point leaves the lake as it was at the last
//! commit: readers trust only files a manifest names, and the next run deletes the rest.
//!
//! - [`manifest`]: the commit log, loading it into a [`LakeSnapshot`];
//! - [`write`]: rows → sorted, partitioned Parquet files;
//! - [`convert`]: the incremental conversion of an archive;
//! - [`compact`]: a partition's small files merged into larger ones;
//!
//! The `cloudtrail` provider that reads a lake (plus the raw objects not yet in it) lives with
//! the other providers, in `table::lake`.

pub mod compact;
pub mod convert;
pub mod manifest;
mod plan;
mod step;
pub mod write;

use std::path::Path as FsPath;

use object_store::path::Path;

use crate::archive::{Location, S3Options};
use crate::error::{Error, Input, Result};

pub use compact::{CompactOptions, CompactSummary, compact};
pub use convert::{ConvertOptions, ConvertSummary, convert};
pub use manifest::{ArchiveListing, DataFile, LakeSnapshot, SourceRecord};

/// Folder of the commit log, beside the partitions. Hive-style readers (Athena, Trino, Spark,
/// DuckDB) skip folders starting with `_`.
pub const META_FOLDER: &str = "_trailscope_lake";

/// An opened lake location.
#[derive(Debug, Clone)]
pub struct Lake {
    pub location: Location,
}

impl Lake {
    /// Opens a lake for writing, creating a local directory when needed. Refuses a lake that is
    /// the archive or lies inside it (or around it): trailscope never writes to evidence.
    pub async fn create(lake: &str, archive: &str, s3: &S3Options) -> Result<Lake> {
        check_separate(archive, lake)?;
        if !lake.starts_with("s3://") {
            let dir = lake.strip_prefix("file://").unwrap_or(lake);
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::input(Input::Lake, lake, e.to_string()))?;
        }
        Ok(Lake {
            location: Location::open(lake, s3).await?,
        })
    }

    /// Opens an existing lake for reading.
    pub async fn open(lake: &str, archive: &str, s3: &S3Options) -> Result<Lake> {
        check_separate(archive, lake)?;
        Ok(Lake {
            location: Location::open(lake, s3).await?,
        })
    }

    /// The lake at `lake` as queries read it, as of its newest commit. Unless `relist`, a
    /// checkpointed lake is weighed against only the delivery folders listed since its last
    /// whole conversion (see [`manifest::load_for_queries`]); `relist` weighs every object of
    /// the archive again, which also catches objects rewritten in older folders. An error when
    /// nothing has been converted there yet.
    pub async fn open_for_queries(
        lake: &str,
        archive: &str,
        s3: &S3Options,
        listing: ArchiveListing,
    ) -> Result<LakeSnapshot> {
        let relist = listing == ArchiveListing::Whole;
        let local_missing = !lake.starts_with("s3://")
            && !FsPath::new(lake.strip_prefix("file://").unwrap_or(lake)).is_dir();
        let snapshot = if local_missing {
            None
        } else {
            let opened = Lake::open(lake, archive, s3).await?;
            Some(if relist {
                manifest::load(&opened).await?
            } else {
                manifest::load_for_queries(&opened).await?
            })
        };
        let Some(mut snapshot) = snapshot.filter(|s| s.version > 0) else {
            return Err(Error::input(
                Input::Lake,
                lake,
                format!(
                    "no trailscope lake there yet (no {META_FOLDER}/manifest-*.json); \
                     convert the archive {archive} into it first (`trailscope convert`)"
                ),
            ));
        };
        if relist {
            snapshot.checkpoint = None;
        }
        snapshot.listing = listing;
        Ok(snapshot)
    }

    /// A store path for `relative` (slash-separated) under the lake's root.
    pub fn path(&self, relative: &str) -> Path {
        let root = self.location.root.as_ref();
        if root.is_empty() {
            Path::from(relative)
        } else {
            Path::from(format!("{root}/{relative}"))
        }
    }

    /// The path of `p` relative to the lake's root, if it is below it.
    pub fn relative(&self, p: &Path) -> Option<String> {
        let root = self.location.root.as_ref();
        if root.is_empty() {
            return Some(p.to_string());
        }
        p.as_ref()
            .strip_prefix(root)
            .and_then(|r| r.strip_prefix('/'))
            .map(str::to_string)
    }

    pub fn display(&self) -> &str {
        &self.location.display
    }
}

/// Refuses an archive and a lake that are the same place or where one contains the other.
pub fn check_separate(archive: &str, lake: &str) -> Result<()> {
    let refuse = || {
        Err(Error::input(
            Input::Lake,
            lake,
            format!(
                "the lake must not be the archive ({archive}), inside it or around it; \
                 trailscope never writes to the archive: choose another directory or prefix"
            ),
        ))
    };
    let overlap = crate::archive::location::is_within(lake, archive)
        || crate::archive::location::is_within(archive, lake);
    if overlap {
        return refuse();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lake_and_archive_must_be_apart() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        std::fs::create_dir_all(&archive).unwrap();
        let a = archive.to_str().unwrap();
        assert!(check_separate(a, a).is_err());
        assert!(check_separate(a, &format!("{a}/lake")).is_err());
        assert!(check_separate(&format!("{a}/AWSLogs"), a).is_err());
        assert!(check_separate(a, &format!("{a}/../archive/x")).is_err());
        assert!(check_separate(a, dir.path().join("lake").to_str().unwrap()).is_ok());
        assert!(check_separate(a, dir.path().join("archive-lake").to_str().unwrap()).is_ok());
        assert!(check_separate("s3://b/logs", "s3://b/logs/lake").is_err());
        assert!(check_separate("s3://b/logs/", "s3://b/logs").is_err());
        assert!(check_separate("s3://b", "s3://b/lake").is_err());
        assert!(check_separate("s3://b/logs", "s3://b/lake").is_ok());
        assert!(check_separate("s3://b/logs", "s3://c/logs").is_ok());
        let err = check_separate(a, a).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            matches!(
                err,
                Error::Input {
                    input: Input::Lake,
                    ..
                }
            ),
            "{err}"
        );
    }
}
