//! Fetching objects from the archive's store: whole objects for decoding, in the units scans
//! fetch them in, and ([`checked`]) many small objects read and checked one by one, as
//! integrity validation does.

pub mod checked;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore};

use super::ObjectEntry;
use super::retry::RetryPolicy;

/// A unit closes at this many compressed bytes...
pub const UNIT_BYTES: u64 = 4 << 20;
/// ...or this many objects (real archives are mostly sub-KiB files).
pub const UNIT_OBJECTS: usize = 256;
/// The first unit of a stream holds this many objects and each next one twice as many, up to
/// [`UNIT_OBJECTS`]: the first rows of a scan arrive after a handful of objects, not a full unit.
pub const FIRST_UNIT_OBJECTS: usize = 8;
/// Concurrent GETs per partition.
pub const FETCH_CONCURRENCY: usize = 16;

/// One fetched object, with the provenance its key gives.
#[derive(Debug, Clone)]
pub struct SourceObject {
    pub key: String,
    pub account_id: String,
    pub region: String,
    pub bytes: Bytes,
}

/// An object that looked like ours but could not be (fully) read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadError {
    pub key: String,
    pub account_id: String,
    pub region: String,
    pub reason: String,
    /// True when the object's records were still read (e.g. trailing data after the gzip member).
    pub partially_read: bool,
    /// True when the object's bytes could not be fetched at all (a transport failure, or the
    /// object vanished after listing): that says nothing about the object itself, so it is
    /// never counted as unreadable evidence.
    pub unfetched: bool,
}

impl ReadError {
    /// The class of the problem, as `read_errors` and reports name it.
    pub fn class(&self) -> &'static str {
        if self.unfetched {
            "unfetched"
        } else {
            "unreadable"
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hostile key's control characters (a newline, a terminal escape) are shown escaped.
        let key: String = self
            .key
            .chars()
            .map(|c| match c.is_control() {
                true => c.escape_default().to_string(),
                false => c.to_string(),
            })
            .collect();
        write!(f, "{key}: {}", self.reason)
    }
}

/// Objects grouped into fetch-and-decode units (see [`UNIT_BYTES`], [`UNIT_OBJECTS`],
/// [`FIRST_UNIT_OBJECTS`]).
pub fn units(objects: &[ObjectEntry]) -> Vec<Vec<ObjectEntry>> {
    let mut units = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    let mut cap = FIRST_UNIT_OBJECTS;
    for o in objects {
        current.push(o.clone());
        bytes += o.size;
        if bytes >= UNIT_BYTES || current.len() >= cap {
            units.push(std::mem::take(&mut current));
            bytes = 0;
            cap = (cap * 2).min(UNIT_OBJECTS);
        }
    }
    if !current.is_empty() {
        units.push(current);
    }
    units
}

/// Reads one object whole, retrying transport faults (body included) within `retry`'s budget;
/// a failure names the object and why.
pub async fn fetch(
    store: Arc<dyn ObjectStore>,
    retry: RetryPolicy,
    entry: ObjectEntry,
) -> std::result::Result<SourceObject, ReadError> {
    let path = store_path(&entry.key);
    let result = retry
        .run(|| async {
            store
                .get_opts(&path, GetOptions::default())
                .await?
                .bytes()
                .await
        })
        .await;
    match result {
        Ok(bytes) => Ok(SourceObject {
            key: entry.key,
            account_id: entry.parsed.account_id,
            region: entry.parsed.region,
            bytes,
        }),
        Err(e) => Err(ReadError {
            reason: if e.is_not_found() {
                "listed, then not found when fetched (deleted or moved meanwhile)".to_string()
            } else {
                e.fetch_reason()
            },
            key: entry.key,
            account_id: entry.parsed.account_id,
            region: entry.parsed.region,
            partially_read: false,
            unfetched: true,
        }),
    }
}

/// Local files one blocking task reads (and, for [`checked`], checks) in turn, and how many
/// such tasks a unit keeps going. Through the object store a local file costs two hand-offs to
/// the blocking pool (open, then read), more CPU than reading a small log file; a few batches
/// at once still overlap a cold disk's waits.
const LOCAL_BATCH: usize = 32;
const LOCAL_BATCHES_AT_ONCE: usize = 4;

/// Fetches a unit's objects, [`FETCH_CONCURRENCY`] at a time (local files in batches, see
/// [`LOCAL_BATCH`]), in the unit's order: the objects that arrived, and the errors of those
/// that did not.
pub async fn fetch_unit(
    location: &super::Location,
    unit: Vec<ObjectEntry>,
) -> (Vec<SourceObject>, Vec<ReadError>) {
    use futures::StreamExt;
    let fetched: Vec<_> = match &location.local_files {
        Some(files) => {
            let mut batches = Vec::new();
            let mut entries = unit.into_iter().peekable();
            while entries.peek().is_some() {
                batches.push(entries.by_ref().take(LOCAL_BATCH).collect::<Vec<_>>());
            }
            futures::stream::iter(batches)
                .map(|batch| {
                    let files = Arc::clone(files);
                    let root = location.local_dir.clone();
                    async move {
                        let keys: Vec<String> = batch.iter().map(|e| e.key.clone()).collect();
                        let read = tokio::task::spawn_blocking(move || {
                            batch
                                .into_iter()
                                .map(|entry| read_local(&files, root.as_deref(), entry))
                                .collect::<Vec<_>>()
                        })
                        .await;
                        // A batch lost to the runtime (cancelled at shutdown) names its objects.
                        read.unwrap_or_else(|e| {
                            keys.into_iter()
                                .map(|key| Err(lost(key, format!("its read was lost: {e}"))))
                                .collect()
                        })
                    }
                })
                .buffered(LOCAL_BATCHES_AT_ONCE)
                .flat_map(futures::stream::iter)
                .collect()
                .await
        }
        None => {
            futures::stream::iter(unit)
                .map(|entry| fetch(Arc::clone(&location.store), location.retry, entry))
                .buffered(FETCH_CONCURRENCY)
                .collect()
                .await
        }
    };
    let mut objects = Vec::with_capacity(fetched.len());
    let mut errors = Vec::new();
    for f in fetched {
        match f {
            Ok(o) => objects.push(o),
            Err(e) => errors.push(e),
        }
    }
    (objects, errors)
}

/// Reads one local object whole on the calling thread; a failure names the object and why, as
/// [`fetch`] does.
fn read_local(
    files: &LocalFileSystem,
    root: Option<&std::path::Path>,
    entry: ObjectEntry,
) -> std::result::Result<SourceObject, ReadError> {
    let read = local_path(files, root, &entry.key).and_then(|path| {
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "listed, then not found when fetched (deleted or moved meanwhile)".to_string()
            }
            _ => format!("could not be fetched: {e}"),
        })
    });
    match read {
        Ok(bytes) => Ok(SourceObject {
            key: entry.key,
            account_id: entry.parsed.account_id,
            region: entry.parsed.region,
            bytes: Bytes::from(bytes),
        }),
        Err(reason) => Err(ReadError {
            reason,
            key: entry.key,
            account_id: entry.parsed.account_id,
            region: entry.parsed.region,
            partially_read: false,
            unfetched: true,
        }),
    }
}

/// An object that could not be fetched, known only by its key.
fn lost(key: String, reason: String) -> ReadError {
    let parsed = super::layout::parse_key(&key);
    ReadError {
        account_id: parsed
            .as_ref()
            .map(|p| p.account_id.clone())
            .unwrap_or_default(),
        region: parsed.map(|p| p.region).unwrap_or_default(),
        key,
        reason,
        partially_read: false,
        unfetched: true,
    }
}

/// The file of a local object. CloudTrail keys need no escaping: they are joined to the root
/// directly, and the object store's URL round trip (a few % of a run) is left to keys that do.
pub(crate) fn local_path(
    files: &LocalFileSystem,
    root: Option<&std::path::Path>,
    key: &str,
) -> std::result::Result<std::path::PathBuf, String> {
    match root.filter(|_| plain_key(key)) {
        Some(root) => Ok(root.join(key)),
        None => files
            .path_to_filesystem(&store_path(key))
            .map_err(|e| e.to_string()),
    }
}

/// A key made only of characters that mean the same in a path and need no escaping, with no
/// `.` or `..` segment.
fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
        && key.split('/').all(|part| !matches!(part, "" | "." | ".."))
}

/// The store path of an object key. Keys come from listings, so they parse; a key that does not
/// (a hand-made one) is taken as it is rather than refused.
pub fn store_path(key: &str) -> Path {
    Path::parse(key).unwrap_or_else(|_| Path::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::layout::parse_key;
    use object_store::ObjectStoreExt;

    fn entry(i: usize, size: u64) -> ObjectEntry {
        let key = format!(
            "AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/01/\
             123456789012_CloudTrail_us-east-1_20240301T0000Z_{i:016}.json.gz"
        );
        ObjectEntry {
            parsed: parse_key(&key).expect("a log key"),
            key,
            size,
            last_modified: chrono::Utc::now(),
            e_tag: None,
        }
    }

    #[test]
    fn units_start_small_then_grow_to_the_cap() {
        let objects: Vec<_> = (0..1000).map(|i| entry(i, 100)).collect();
        let sizes: Vec<usize> = units(&objects).iter().map(Vec::len).collect();
        assert_eq!(sizes[..6], [8, 16, 32, 64, 128, 256]);
        assert!(sizes[6..sizes.len() - 1].iter().all(|&n| n == UNIT_OBJECTS));
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
    }

    #[test]
    fn big_objects_close_a_unit_by_bytes() {
        let objects: Vec<_> = (0..4).map(|i| entry(i, UNIT_BYTES)).collect();
        assert_eq!(units(&objects).len(), 4);
    }

    #[test]
    fn only_keys_that_mean_the_same_as_paths_are_plain() {
        assert!(plain_key(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T0000Z_Ab12.json.gz"
        ));
        for odd in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "./a",
            "a b",
            "a%20b",
            "a:b",
            "ä",
        ] {
            assert!(!plain_key(odd), "{odd}");
        }
    }

    /// A local unit is read in batches on blocking threads: every object comes back in the
    /// unit's order with the bytes the object store gives, and a file gone since the listing is
    /// named as the store's read names it.
    #[tokio::test]
    async fn local_units_read_in_order_as_the_store_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let count = LOCAL_BATCH * 2 + 5;
        let entries: Vec<ObjectEntry> = (0..count).map(|i| entry(i, 10)).collect();
        for (i, e) in entries.iter().enumerate() {
            let path = dir.path().join(&e.key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, format!("object {i}")).unwrap();
        }
        let gone = &entries[LOCAL_BATCH + 1].key;
        std::fs::remove_file(dir.path().join(gone)).unwrap();
        let location = super::super::Location::open(
            dir.path().to_str().unwrap(),
            &super::super::S3Options::default(),
        )
        .await
        .unwrap();
        assert!(location.local_files.is_some());

        let (objects, errors) = fetch_unit(&location, entries.clone()).await;
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        let expected: Vec<&str> = entries
            .iter()
            .map(|e| e.key.as_str())
            .filter(|k| k != gone)
            .collect();
        assert_eq!(keys, expected);
        for o in &objects {
            let through_store = location
                .store
                .get(&store_path(&o.key))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(o.bytes, through_store);
            assert_eq!(o.account_id, "123456789012");
            assert_eq!(o.region, "us-east-1");
        }
        assert_eq!(errors.len(), 1);
        assert_eq!(&errors[0].key, gone);
        assert!(errors[0].unfetched);
        assert_eq!(
            errors[0].reason,
            "listed, then not found when fetched (deleted or moved meanwhile)"
        );
    }
}
