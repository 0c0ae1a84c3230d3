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

/// A unit closes at this many compressed bytes...
pub const UNIT_BYTES: u64 = 4 << 20;
/// ...or this many objects (real archives are mostly sub-KiB files).
pub const UNIT_OBJECTS: usize = 256;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub key: String,
    pub account_id: String,
    pub region: String,
    pub reason: String,
    /// True when the object's records were still read (e.g. trailing data after the gzip member).
    pub partially_read: bool,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Objects grouped into fetch-and-decode units (see [`UNIT_BYTES`], [`UNIT_OBJECTS`]).
pub fn units(objects: &[ObjectEntry]) -> Vec<Vec<ObjectEntry>> {
    let mut units = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for o in objects {
        current.push(o.clone());
        bytes += o.size;
        if bytes >= UNIT_BYTES || current.len() >= UNIT_OBJECTS {
            units.push(std::mem::take(&mut current));
            bytes = 0;
        }
    }
    if !current.is_empty() {
        units.push(current);
    }
    units
}

/// Reads one object whole; a failure names the object and why.
pub async fn fetch(
    store: Arc<dyn ObjectStore>,
    entry: ObjectEntry,
) -> std::result::Result<SourceObject, ReadError> {
    let path = store_path(&entry.key);
    let result = async {
        store
            .get_opts(&path, GetOptions::default())
            .await?
            .bytes()
            .await
    }
    .await;
    match result {
        Ok(bytes) => Ok(SourceObject {
            key: entry.key,
            account_id: entry.parsed.account_id,
            region: entry.parsed.region,
            bytes,
        }),
        Err(e) => Err(ReadError {
            reason: format!("could not be fetched: {e}"),
            key: entry.key,
            account_id: entry.parsed.account_id,
            region: entry.parsed.region,
            partially_read: false,
        }),
    }
}

/// The store path of an object key. Keys come from listings, so they parse; a key that does not
/// (a hand-made one) is taken as it is rather than refused.
pub fn store_path(key: &str) -> Path {
    Path::parse(key).unwrap_or_else(|_| Path::from(key))
}
