//! DataFusion tables over an archive, and the session that serves them.
//!
//! - `cloudtrail`: one row per record ([`cloudtrail::CloudTrailTable`], scanned by
//!   [`scan::CloudTrailExec`]; with a lake, [`crate::lake::table::LakeTable`]);
//! - `log_files`: one row per delivered log file, from listing alone;
//! - `read_errors`: every object that looks like ours but could not be read, with the reason.
//!
//! DataFusion types stay inside this folder, so an engine upgrade touches one place.
//!
//! Adding a table: write a `TableProvider` here, register it in [`register_archive_tables`], and
//! describe it in the README's table list.

pub mod cloudtrail;
pub mod filters;
pub mod integrity;
pub mod json_functions;
pub mod listed;
pub mod scan;
pub mod shared_scan;
pub mod snapshot;
pub mod statements;
pub mod views;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::archive::{Location, Scope, Skipped};
use crate::decode::ReadError;
use crate::error::Result;

/// An archive as the tables see it: where it is, the part the user asked for, and what the
/// scans have found so far (unreadable objects, counters).
#[derive(Debug, Clone)]
pub struct ArchiveSource {
    pub location: Location,
    /// The restriction from `--from/--to/--account/--region`; queries narrow it further.
    pub scope: Scope,
    /// Whether an unreadable object fails the query instead of being reported.
    pub strict: bool,
    pub errors: ErrorLog,
    pub stats: Arc<ScanStats>,
    /// A Parquet lake of this archive (`--lake`): `cloudtrail` then reads it, plus the raw
    /// objects it does not hold.
    pub lake: Option<Arc<crate::lake::LakeSnapshot>>,
}

impl ArchiveSource {
    pub fn new(location: Location, scope: Scope, strict: bool) -> Self {
        ArchiveSource {
            location,
            scope,
            strict,
            errors: ErrorLog::default(),
            stats: Arc::new(ScanStats::default()),
            lake: None,
        }
    }

    /// The same archive, with `cloudtrail` read from a lake where it can be.
    pub fn with_lake(mut self, lake: Option<Arc<crate::lake::LakeSnapshot>>) -> Self {
        self.lake = lake;
        self
    }

    /// Names objects that look like ours but cannot be (in `read_errors`); under `--strict`
    /// they fail the run.
    pub(crate) fn report_skipped(&self, skipped: &[crate::archive::Skipped]) -> crate::Result<()> {
        self.errors.record_skipped(skipped);
        match skipped.first() {
            Some(s) if self.strict => Err(crate::Error::Evidence(format!(
                "{}: {} (and {} more; --strict)",
                s.key,
                s.reason,
                skipped.len() - 1
            ))),
            _ => Ok(()),
        }
    }
}

/// Counters shared by every scan of a session: what the work cost, for progress and tests.
#[derive(Debug, Default)]
pub struct ScanStats {
    pub list_requests: AtomicU64,
    pub objects_planned: AtomicU64,
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

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
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
            let parsed = crate::archive::parse_key(&s.key);
            self.record(ReadError {
                key: s.key.clone(),
                account_id: parsed
                    .as_ref()
                    .map(|p| p.account_id.clone())
                    .unwrap_or_default(),
                region: parsed.map(|p| p.region).unwrap_or_default(),
                reason: s.reason.clone(),
                partially_read: false,
            });
        }
    }

    /// All errors so far, in key order.
    pub fn all(&self) -> Vec<ReadError> {
        self.0
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// A session with the archive's tables and our SQL functions registered.
pub fn session(source: &ArchiveSource) -> Result<SessionContext> {
    let ctx = base_session()?;
    register_archive_tables(&ctx, source)?;
    Ok(ctx)
}

/// A session with our functions and settings but no tables.
pub fn base_session() -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    datafusion_functions_json::register_all(&mut state)?;
    let ctx = SessionContext::new_with_state(state);
    json_functions::register(&ctx);
    ctx.register_udf(crate::controls::filter_pattern::udf());
    Ok(ctx)
}

/// Everything a control may read: the archive's tables, the snapshots' tables and the shared
/// views over them. With no snapshot the snapshot tables exist but are empty, so state controls
/// still plan (and come out inconclusive).
pub async fn evidence_session(
    source: &ArchiveSource,
    snapshots: &[crate::snapshot::Snapshot],
) -> Result<SessionContext> {
    let ctx = session(source)?;
    snapshot::register_snapshot_tables(&ctx, snapshots)?;
    views::register_views(&ctx).await?;
    Ok(ctx)
}

pub fn register_archive_tables(ctx: &SessionContext, source: &ArchiveSource) -> Result<()> {
    let records: Arc<dyn datafusion::catalog::TableProvider> = match &source.lake {
        Some(lake) => Arc::new(crate::lake::table::LakeTable::new(
            source.clone(),
            Arc::clone(lake),
        )),
        None => Arc::new(cloudtrail::CloudTrailTable::new(source.clone())),
    };
    ctx.register_table("cloudtrail", records)?;
    ctx.register_table(
        "log_files",
        Arc::new(listed::LogFilesTable::new(source.clone())),
    )?;
    ctx.register_table(
        "read_errors",
        Arc::new(listed::ReadErrorsTable::new(source.clone())),
    )?;
    for kind in integrity::IntegrityKind::ALL {
        ctx.register_table(
            kind.name(),
            Arc::new(integrity::IntegrityTable::new(kind, source.clone())),
        )?;
    }
    Ok(())
}
