//! What a scan learnt about each object it read, for the checks that would otherwise read it
//! again. A report reads every log file of its period three times over: decoded by the scan,
//! inflated and hashed by `verify` (against its digest), and hashed as stored by the evidence
//! manifest. With [`Readings`] attached to the source, the scan hashes the bytes it already holds
//! and the other two take the hashes from here; an object the scan did not read (or could not
//! inflate) is fetched by them as before. Digests are read once for `verify` and the gap analysis,
//! and their hashes as stored are recorded the same way, for the manifest. Judging the same bytes the events were decoded from is
//! also the stronger evidence: the events reported are those of the verified file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One object as a scan read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Size as stored.
    pub size: u64,
    /// SHA-256 of the bytes as stored (compressed), hex.
    pub stored_sha256: String,
    /// SHA-256 of the content CloudTrail hashes in its digests (the first gzip member,
    /// inflated), with the content's length and the bytes after the member; `None` when the scan
    /// could not inflate it (the checks then read it themselves and give their own verdict).
    pub content: Option<ContentHash>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHash {
    pub sha256: String,
    pub uncompressed_len: u64,
    pub trailing_bytes: usize,
}

/// Readings by object key, shared by the scans and checks of one command.
#[derive(Debug, Default)]
pub struct Readings {
    // Shared, so that a check looking up each of a month's files takes a count, not a copy.
    by_key: Mutex<HashMap<String, Arc<Reading>>>,
}

impl Readings {
    pub fn record(&self, key: &str, reading: Reading) {
        if let Ok(mut by_key) = self.by_key.lock() {
            by_key.insert(key.to_string(), Arc::new(reading));
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<Reading>> {
        self.by_key.lock().ok()?.get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.by_key.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Readings made where a command's scans ran, when that is elsewhere (a cluster's executors):
/// the checks that would fetch every log file again take them instead.
#[async_trait::async_trait]
pub trait ReadingsElsewhere: std::fmt::Debug + Send + Sync {
    /// Files the readings of the raw objects the scans read in `readings`; how many.
    async fn fill(&self, readings: &Readings) -> crate::Result<usize>;
}
