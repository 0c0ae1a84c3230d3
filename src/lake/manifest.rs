//! The lake's commit log: `_trailscope_lake/manifest-<n>.json`, numbered from 1 without gaps.
//!
//! Each manifest holds one commit's additions (data files, and the source objects whose rows they
//! hold), so a commit writes only what it adds however large the lake grows. The lake's state is
//! the union of manifests 1..=n. A whole-archive conversion ends with a listing mark that also
//! lists every data file, so queries read only the newest such mark and the commits after it.
//! A commit creates manifest n+1 with put-if-absent (a local
//! link/rename, or S3 `If-None-Match: *`): two writers can never both commit version n+1, and a
//! reader never sees a half-written manifest.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Lake, META_FOLDER};
use crate::error::{Error, Result};

/// Written into every manifest, so a future layout can be told apart.
pub const FORMAT: &str = "trailscope-lake/1";
/// Written into a commit that replaces data files (`compact`). A reader that knows only
/// [`FORMAT`] refuses it instead of reading the replaced rows twice.
pub const FORMAT_REPLACING: &str = "trailscope-lake/2";

/// One Parquet data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Relative to the lake root: `account_id=A/region=R/date=D/part-....parquet`.
    pub path: String,
    pub account_id: String,
    pub region: String,
    /// `YYYY-MM-DD` of the events' time, or Hive's default partition for events without one.
    pub date: String,
    pub rows: u64,
    pub bytes: u64,
    /// Microseconds since the epoch; `None` when no row has an event time.
    pub min_eventtime: Option<i64>,
    pub max_eventtime: Option<i64>,
}

/// A source object whose rows are all in the lake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub key: String,
    pub size: u64,
    pub e_tag: Option<String>,
    pub rows: u64,
    /// Indices into the same commit's `files` that hold its rows (empty for an object without
    /// records: it is in the lake, with nothing to read).
    pub files: Vec<usize>,
}

/// One manifest: one commit's additions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub format: String,
    pub version: u64,
    /// The run that wrote it (also in its data files' names).
    pub run: String,
    pub committed_at: String,
    pub files: Vec<DataFile>,
    pub sources: Vec<SourceRecord>,
    /// Set by a run that listed the whole archive, on a commit of its own made after all its
    /// data: the lake's listing checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<ListingMark>,
    /// Data files of earlier commits whose rows this commit's files hold instead (`compact`):
    /// from this commit on they are not part of the lake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

/// What a whole-archive conversion saw: the newest delivery folder of each account and region,
/// and the objects it listed but could not put in the lake. Every log object in an older folder
/// is then in the lake or named here, so queries list only the folders from about that day on
/// (see [`Checkpoint`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingMark {
    /// When the listing began (RFC 3339); for people, queries do not use it.
    pub started_at: String,
    pub newest_folders: Vec<NewestFolder>,
    /// Unreadable objects, and objects whose size changed since they were converted: queries
    /// read them raw (and report them as the raw table does).
    pub read_raw: Vec<String>,
    /// Objects that sit where log files live but are not named like one: queries report them.
    pub skipped: Vec<SkippedRecord>,
    /// The objects in the lake that sit in the folders queries will still list (from `since`
    /// on): with these, a query needs no source list of any earlier commit.
    #[serde(default)]
    pub recent: Vec<HeldObject>,
    /// Every data file of the lake as of this mark: with it, opening the lake for a query reads
    /// this manifest and the newer ones only, not the whole commit log. Absent in marks written
    /// before it existed; then every manifest is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<DataFile>>,
}

/// A converted object, as far as a query needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldObject {
    pub key: String,
    pub size: u64,
}

/// The newest delivery folder (`YYYY-MM-DD`) listed for an account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewestFolder {
    pub account_id: String,
    pub region: String,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRecord {
    pub key: String,
    pub reason: String,
}

/// The newest listing mark, as queries use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Per (account, region), the first delivery folder that can hold objects the lake has not
    /// seen: the day before the newest folder listed. Anchored in the archive, not in a clock,
    /// so a mirror synced days later still gets its new objects read: a sync copies whatever
    /// arrived since, and CloudTrail files a delivery under its own date, at most a day
    /// before the newest folder a listing can have seen. Regions not listed then have no entry:
    /// all their folders are listed.
    pub since: BTreeMap<(String, String), NaiveDate>,
    pub read_raw: Vec<String>,
    pub skipped: Vec<SkippedRecord>,
    /// Key → size of the lake's objects in those folders.
    pub recent: HashMap<String, u64>,
    /// Whether the mark also lists every data file (see [`ListingMark::files`]).
    pub files_listed: bool,
}

impl ListingMark {
    /// Per (account, region), the first folder queries still list (see [`Checkpoint::since`]).
    pub fn since(&self) -> BTreeMap<(String, String), NaiveDate> {
        self.newest_folders
            .iter()
            .map(|f| {
                let id = (f.account_id.clone(), f.region.clone());
                (id, f.date - chrono::Days::new(1))
            })
            .collect()
    }
}

impl From<ListingMark> for Checkpoint {
    fn from(mark: ListingMark) -> Self {
        let files_listed = mark.files.is_some();
        Checkpoint {
            since: mark.since(),
            read_raw: mark.read_raw,
            skipped: mark.skipped,
            recent: mark.recent.into_iter().map(|o| (o.key, o.size)).collect(),
            files_listed,
        }
    }
}

/// The lake as of its newest manifest.
#[derive(Debug, Clone)]
pub struct LakeSnapshot {
    pub lake: Lake,
    /// Newest manifest number (0 for a lake with no commit yet).
    pub version: u64,
    pub files: Vec<DataFile>,
    /// Source key → what was converted: every commit's sources, or, when loaded for queries
    /// with a checkpoint, only those of commits after it (the checkpoint's `recent` stands in
    /// for the earlier ones).
    pub sources: HashMap<String, SourceRecord>,
    /// From the newest whole-archive conversion; `None` when there was none, or when the user
    /// asked for the whole archive to be listed again (`--lake-relist`).
    pub checkpoint: Option<Checkpoint>,
    /// How queries reach the archive beside the lake.
    pub listing: ArchiveListing,
}

/// What a query over a lake lists of the archive, for the objects the lake does not hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArchiveListing {
    /// The folders delivered since the newest whole-archive conversion (all of it without one).
    #[default]
    SinceCheckpoint,
    /// The whole archive (`--lake-relist`): also catches objects rewritten in older folders.
    Whole,
    /// Nothing (`--lake-only`): the answer is the lake's committed rows alone, without objects
    /// delivered since its last conversion or those it left raw. The user said so.
    Skip,
}

impl LakeSnapshot {
    pub fn empty(lake: Lake) -> Self {
        LakeSnapshot {
            lake,
            version: 0,
            files: Vec::new(),
            sources: HashMap::new(),
            checkpoint: None,
            listing: ArchiveListing::default(),
        }
    }

    /// Whether the object with this key and size is wholly in the lake. The ETag is recorded but
    /// not compared: a local copy of an archive (`aws s3 sync`, `cp -r`) gets new ETags from
    /// the filesystem while its bytes are the same.
    pub fn holds(&self, key: &str, size: u64) -> bool {
        self.held_size(key) == Some(size)
    }

    /// The size the object had when converted, if the lake holds it.
    pub fn held_size(&self, key: &str) -> Option<u64> {
        self.sources.get(key).map(|s| s.size).or_else(|| {
            let checkpoint = self.checkpoint.as_ref()?;
            checkpoint.recent.get(key).copied()
        })
    }

    fn apply(&mut self, mut commit: Commit) {
        self.version = commit.version;
        let listed = commit.listing.as_mut().and_then(|m| m.files.take());
        let files_listed = listed.is_some();
        if let Some(files) = listed {
            // The whole file list as of the mark (a mark's commit adds no file of its own).
            self.files = files;
        }
        if !commit.replaces.is_empty() {
            let gone: HashSet<&str> = commit.replaces.iter().map(String::as_str).collect();
            self.files.retain(|f| !gone.contains(f.path.as_str()));
        }
        self.files.extend(commit.files);
        for s in commit.sources {
            self.sources.insert(s.key.clone(), s);
        }
        if let Some(mark) = commit.listing {
            self.checkpoint = Some(Checkpoint {
                files_listed,
                ..mark.into()
            });
        }
    }

    /// Records a commit made by this process.
    pub(crate) fn applied(&mut self, commit: Commit) {
        self.apply(commit)
    }

    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

pub fn manifest_name(version: u64) -> String {
    format!("manifest-{version:020}.json")
}

fn parse_version(name: &str) -> Option<u64> {
    name.strip_prefix("manifest-")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// A manifest as read: the source list is kept as raw JSON until it is known to be needed.
#[derive(Deserialize)]
struct StoredCommit {
    format: String,
    version: u64,
    run: String,
    committed_at: String,
    files: Vec<DataFile>,
    sources: Box<RawValue>,
    #[serde(default)]
    listing: Option<ListingMark>,
    #[serde(default)]
    replaces: Vec<String>,
}

/// Reads every manifest of the lake, with every source list (none: an empty snapshot). What
/// `convert` needs.
pub async fn load(lake: &Lake) -> Result<LakeSnapshot> {
    load_with(lake, true).await
}

/// Reads the lake for queries: the newest listing checkpoint that lists the lake's files, and
/// the commits after it; source lists before the checkpoint are not parsed either (a query
/// lists only folders its `recent` covers). Opening a lake of years costs a read or two.
/// Without such a checkpoint every manifest is read.
pub async fn load_for_queries(lake: &Lake) -> Result<LakeSnapshot> {
    load_with(lake, false).await
}

async fn load_with(lake: &Lake, every_source: bool) -> Result<LakeSnapshot> {
    let versions = versions(lake).await?;
    let stored = if every_source {
        let read = read_manifests(lake, &versions).await?;
        read.iter()
            .map(|(v, bytes)| parse_manifest(lake, *v, bytes))
            .collect::<Result<Vec<_>>>()?
    } else {
        since_newest_file_list(lake, &versions).await?
    };
    let newest_mark = stored.iter().rposition(|c| c.listing.is_some());
    let mut snapshot = LakeSnapshot::empty(lake.clone());
    for (i, c) in stored.into_iter().enumerate() {
        let needed = every_source || newest_mark.is_none_or(|m| i > m);
        let sources = if needed {
            serde_json::from_str(c.sources.get()).map_err(|e| not_a_manifest(lake, c.version, e))?
        } else {
            Vec::new()
        };
        snapshot.apply(Commit {
            format: c.format,
            version: c.version,
            run: c.run,
            committed_at: c.committed_at,
            files: c.files,
            sources,
            listing: c.listing,
            replaces: c.replaces,
        });
    }
    Ok(snapshot)
}

/// Manifest `version`, its source list left unparsed; refused if another format wrote it.
fn parse_manifest(lake: &Lake, version: u64, bytes: &[u8]) -> Result<StoredCommit> {
    let c: StoredCommit =
        serde_json::from_slice(bytes).map_err(|e| not_a_manifest(lake, version, e))?;
    if c.format != FORMAT && c.format != FORMAT_REPLACING {
        return Err(Error::Archive {
            location: lake.display().to_string(),
            reason: format!(
                "manifest {} has format {:?}; this trailscope reads {FORMAT} and {FORMAT_REPLACING}",
                c.version, c.format
            ),
        });
    }
    Ok(c)
}

fn not_a_manifest(lake: &Lake, version: u64, e: serde_json::Error) -> Error {
    Error::Archive {
        location: lake.display().to_string(),
        reason: format!(
            "{META_FOLDER}/{}: not a trailscope lake manifest ({e})",
            manifest_name(version)
        ),
    }
}

/// The lake's manifest numbers, checked to run from 1 without a hole.
async fn versions(lake: &Lake) -> Result<Vec<u64>> {
    let meta = lake.path(META_FOLDER);
    let listed: Vec<object_store::ObjectMeta> =
        lake.location.store.list(Some(&meta)).try_collect().await?;
    let mut versions: Vec<u64> = listed
        .iter()
        .filter_map(|m| m.location.filename().and_then(parse_version))
        .collect();
    versions.sort_unstable();
    for (i, v) in versions.iter().enumerate() {
        if *v != i as u64 + 1 {
            return Err(Error::Archive {
                location: lake.display().to_string(),
                reason: format!(
                    "the lake's commit log has a hole: {META_FOLDER}/{} is missing; \
                     restore it, or convert into a new lake",
                    manifest_name(i as u64 + 1)
                ),
            });
        }
    }
    Ok(versions)
}

/// The bytes of the manifests numbered `versions`, in that order.
async fn read_manifests(lake: &Lake, versions: &[u64]) -> Result<Vec<(u64, Bytes)>> {
    stream::iter(versions.iter().copied())
        .map(|v| {
            let store = Arc::clone(&lake.location.store);
            let retry = lake.location.retry;
            let path = lake.path(&format!("{META_FOLDER}/{}", manifest_name(v)));
            async move {
                let bytes = retry
                    .run(|| async { store.get(&path).await?.bytes().await })
                    .await
                    .map_err(|e| Error::Archive {
                        location: lake.display().to_string(),
                        reason: format!("reading manifest {path}: {e}"),
                    })?;
                Ok::<_, Error>((v, bytes))
            }
        })
        .buffered(16)
        .try_collect()
        .await
}

/// The newest manifest whose listing mark lists every data file, and those after it (all of
/// them when no mark does), in commit order. Read newest first, the newest alone, then 16 at a
/// time, each parsed once: a query opens a lake of years with one read instead of its whole
/// commit log, and never parses a manifest before that mark.
async fn since_newest_file_list(lake: &Lake, versions: &[u64]) -> Result<Vec<StoredCommit>> {
    let mut newest_first = Vec::new();
    // The newest alone first: after a whole-archive convert it is the mark itself.
    let (older, newest) = versions.split_at(versions.len().saturating_sub(1));
    for batch in std::iter::once(newest).chain(older.rchunks(16)) {
        for (v, bytes) in read_manifests(lake, batch).await?.iter().rev() {
            let c = parse_manifest(lake, *v, bytes)?;
            let base = c.listing.as_ref().is_some_and(|m| m.files.is_some());
            newest_first.push(c);
            if base {
                newest_first.reverse();
                return Ok(newest_first);
            }
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// Makes `commit` visible: creates its manifest only if no other writer has taken its number.
pub async fn publish(lake: &Lake, commit: &Commit) -> Result<()> {
    let path = lake.path(&format!("{META_FOLDER}/{}", manifest_name(commit.version)));
    let json = serde_json::to_vec(commit).map_err(|e| Error::Archive {
        location: lake.display().to_string(),
        reason: format!("encoding manifest: {e}"),
    })?;
    let options = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match lake
        .location
        .store
        .put_opts(&path, PutPayload::from(Bytes::from(json)), options)
        .await
    {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => Err(Error::Archive {
            location: lake.display().to_string(),
            reason: format!(
                "another convert committed version {} first (one convert per lake at a time); \
                 re-run to convert what is still missing",
                commit.version
            ),
        }),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_sort_and_parse() {
        assert_eq!(manifest_name(7), "manifest-00000000000000000007.json");
        assert_eq!(parse_version(&manifest_name(12)), Some(12));
        assert_eq!(parse_version("manifest-x.json"), None);
        assert!(manifest_name(9) < manifest_name(10));
    }
}
