//! Fetching objects from the archive's store: whole objects for decoding, in the units scans
//! fetch them in, and ([`checked`]) many small objects read and checked one by one, as
//! integrity validation does.

pub mod checked;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
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

/// Fetches a unit's objects, [`FETCH_CONCURRENCY`] at a time: the objects that arrived, and
/// the errors of those that did not.
pub async fn fetch_unit(
    location: &super::Location,
    unit: Vec<ObjectEntry>,
) -> (Vec<SourceObject>, Vec<ReadError>) {
    use futures::StreamExt;
    let fetched: Vec<_> = futures::stream::iter(unit)
        .map(|entry| fetch(Arc::clone(&location.store), location.retry, entry))
        .buffered(FETCH_CONCURRENCY)
        .collect()
        .await;
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

/// The store path of an object key. Keys come from listings, so they parse; a key that does not
/// (a hand-made one) is taken as it is rather than refused.
pub fn store_path(key: &str) -> Path {
    Path::parse(key).unwrap_or_else(|_| Path::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::layout::parse_key;

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
}
