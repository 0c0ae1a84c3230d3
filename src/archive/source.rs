//! The scan context: an archive, the part of it the user asked for, and what scans found
//! (unreadable objects, counters). Every reader of the archive shares one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::fetch::ReadError;
use super::{Location, Scope, Skipped, parse_key};

/// An archive as the tables see it: where it is, the part the user asked for, and what the
/// scans have found so far (unreadable objects, counters).
#[derive(Debug, Clone)]
pub struct ArchiveSource {
    pub location: Location,
    /// The restriction from `--from/--to/--account/--region`; queries narrow it further.
    pub scope: Scope,
    /// Whether an unreadable object fails the query instead of being reported.
    pub strict: bool,
    /// Whether an object that cannot be fetched (after retries) is reported as `unfetched` and
    /// the rest answered, instead of failing the command.
    pub allow_partial: bool,
    pub errors: ErrorLog,
    pub stats: Arc<ScanStats>,
    /// Where scans record the hashes of the objects they read, for the checks that would read
    /// them again (the report's verify and manifest); `None`: not recorded.
    pub readings: Option<Arc<super::Readings>>,
}

impl ArchiveSource {
    pub fn new(location: Location, scope: Scope, strict: bool) -> Self {
        ArchiveSource {
            location,
            scope,
            strict,
            allow_partial: false,
            errors: ErrorLog::default(),
            stats: Arc::new(ScanStats::default()),
            readings: None,
        }
    }

    /// Names objects that look like ours but cannot be (in `read_errors`); under `--strict`
    /// they fail the run.
    pub fn report_skipped(&self, skipped: &[Skipped]) -> crate::Result<()> {
        self.errors.record_skipped(skipped);
        match skipped.first() {
            Some(s) if self.strict => Err(crate::Error::Evidence(format!(
                "{}: {} (and {} more; strict mode)",
                s.key,
                s.reason,
                skipped.len() - 1
            ))),
            _ => Ok(()),
        }
    }

    /// Files the problems a scan met with the objects of one read: an unfetched object fails the
    /// read unless partial answers are allowed; an unreadable one under `--strict`.
    pub fn record_read_errors(&self, errors: Vec<ReadError>) -> crate::Result<()> {
        if !self.allow_partial
            && let Some(e) = errors.iter().find(|e| e.unfetched)
        {
            return Err(crate::Error::Unfetched {
                key: e.key.clone(),
                reason: e.reason.clone(),
            });
        }
        if self.strict
            && let Some(e) = errors.iter().find(|e| !e.unfetched)
        {
            return Err(crate::Error::Evidence(format!("{e} (strict mode)")));
        }
        for e in errors {
            self.errors.record(e);
        }
        Ok(())
    }
}

/// Counters shared by every scan of a session: what the work cost, for progress and tests.
#[derive(Debug, Default)]
pub struct ScanStats {
    pub list_requests: AtomicU64,
    pub objects_planned: AtomicU64,
    /// Folders left to a cluster's executors to list (a scope too large to list on the client).
    pub folders_for_executors: AtomicU64,
    /// Log files hashed where they were read (a cluster's executors), for the checks here.
    pub objects_hashed_elsewhere: AtomicU64,
    pub objects_opened: AtomicU64,
    pub bytes_read: AtomicU64,
    pub records: AtomicU64,
    /// Parquet files of a lake chosen by scans (after pruning by the manifest).
    pub lake_files_planned: AtomicU64,
}

impl ScanStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Unreadable objects met by any scan, once per key.
#[derive(Debug, Clone, Default)]
pub struct ErrorLog(Arc<Mutex<BTreeMap<String, ReadError>>>);

impl ErrorLog {
    pub fn record(&self, error: ReadError) {
        if let Ok(mut map) = self.0.lock() {
            map.entry(error.key.clone()).or_insert(error);
        }
    }

    pub fn record_skipped(&self, skipped: &[Skipped]) {
        for s in skipped {
            let parsed = parse_key(&s.key);
            self.record(ReadError {
                key: s.key.clone(),
                account_id: parsed
                    .as_ref()
                    .map(|p| p.account_id.clone())
                    .unwrap_or_default(),
                region: parsed.map(|p| p.region).unwrap_or_default(),
                reason: s.reason.clone(),
                partially_read: false,
                unfetched: false,
            });
        }
    }

    /// Objects that could not be fetched so far (recorded only when partial answers are allowed).
    pub fn unfetched(&self) -> usize {
        self.0
            .lock()
            .map(|m| m.values().filter(|e| e.unfetched).count())
            .unwrap_or_default()
    }

    /// All errors so far, in key order.
    pub fn all(&self) -> Vec<ReadError> {
        self.0
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}
