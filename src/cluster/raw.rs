//! Raw log objects read on executors: `cloudtrail` on a cluster without a lake, and the objects a
//! lake does not hold beside it.
//!
//! The client lists the archive in the user's scope and sends the list inside the plan
//! ([`ArchiveObjects`], through the logical codec). The scheduler prunes it with the query's
//! filters and splits it into one scan per task ([`ArchiveScanExec`], through the physical
//! codec). Each executor opens the archive itself (a path every executor sees, or S3 with its
//! own AWS environment) and runs the local engine's scan of its share.
//!
//! A scope of more objects than the client lists itself (a year of an organization holds tens
//! of millions: [`super::share::client_listing_limit`]) travels as the folders that hold them
//! instead, and each task lists its share of the folders where it runs
//! ([`super::share::FolderShare`]), as a local scan would.
//!
//! An executor cannot hand unreadable objects back beside its rows: Ballista returns only
//! rows and errors. So a task that met any fails once it has read its share, and its error carries
//! the objects and their reasons ([`unreadable_error`]). The client files them as a local scan
//! would (`--strict` and unfetched objects fail there), leaves them out and runs the job again
//! (`ClusterSession::run_filing_unreadable`). Nothing an executor could not read is dropped
//! silently, and a clean archive is read once.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};

use super::share::Share;
use super::table::WireScope;
use crate::archive::layout::parse_key;
use crate::archive::{ArchiveSource, Location, ObjectEntry, ReadError, S3Options, Scope};
use crate::decode::Decoder;
use crate::table::cloudtrail::PRUNING;
use crate::table::dialect_columns;
use crate::table::scan::{CloudTrailExec, RawScan};

/// Where executors open an archive or a lake, with what they need besides their own AWS
/// environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoreAddress {
    /// An absolute local directory (the same path on every executor: a shared file system) or
    /// `s3://bucket/prefix`.
    pub location: String,
    /// The bucket's region, as the client resolved it.
    pub region: Option<String>,
    /// How long one read may keep failing before it is given up, in milliseconds.
    pub retry_budget_ms: u64,
}

impl StoreAddress {
    /// The address of a location (archive or lake) the client opened.
    pub fn of(location: &Location) -> StoreAddress {
        let (address, region) = match (&location.local_dir, &location.s3) {
            (Some(dir), _) => (dir.display().to_string(), None),
            (None, Some(s3)) => {
                let root = location.root.as_ref();
                let address = if root.is_empty() {
                    format!("s3://{}", s3.bucket)
                } else {
                    format!("s3://{}/{root}", s3.bucket)
                };
                (address, Some(s3.region.clone()))
            }
            (None, None) => (location.display.clone(), None),
        };
        StoreAddress {
            location: address,
            region,
            retry_budget_ms: location.retry.budget.as_millis() as u64,
        }
    }

    /// The location, opened once per executor process: S3 with the executor's credentials and
    /// `AWS_ENDPOINT_URL_S3`, the bucket's region as the client found it.
    pub(crate) async fn open(&self) -> crate::Result<Location> {
        static OPENED: Mutex<Option<HashMap<StoreAddress, Location>>> = Mutex::new(None);
        let opened = || OPENED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(location) = opened().as_ref().and_then(|m| m.get(self).cloned()) {
            return Ok(location);
        }
        let options = S3Options {
            profile: None,
            region: self.region.clone(),
            endpoint_url: std::env::var("AWS_ENDPOINT_URL_S3").ok(),
            retry_budget: Some(std::time::Duration::from_millis(self.retry_budget_ms)),
        };
        let location = Location::open(&self.location, &options).await?;
        opened()
            .get_or_insert_with(HashMap::new)
            .insert(self.clone(), location.clone());
        Ok(location)
    }
}

/// A listed log object, as it travels in a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireObject {
    pub key: String,
    pub size: u64,
    /// Microseconds since the epoch.
    pub last_modified: i64,
    pub e_tag: Option<String>,
}

impl WireObject {
    pub fn of(o: &ObjectEntry) -> WireObject {
        WireObject {
            key: o.key.clone(),
            size: o.size,
            last_modified: o.last_modified.timestamp_micros(),
            e_tag: o.e_tag.clone(),
        }
    }

    /// The listing entry back; `None` for a key that is not a log file's (never sent).
    pub(crate) fn entry(&self) -> Option<ObjectEntry> {
        Some(ObjectEntry {
            key: self.key.clone(),
            parsed: parse_key(&self.key)?,
            size: self.size,
            last_modified: DateTime::<Utc>::from_timestamp_micros(self.last_modified)
                .unwrap_or_default(),
            e_tag: self.e_tag.clone(),
        })
    }
}

/// `cloudtrail` as raw objects the client listed (or the folders that hold them), restricted to
/// the user's scope. Objects the executors could not read are left out of later statements
/// (`excluded`, the client's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveObjects {
    pub archive: StoreAddress,
    pub objects: Vec<WireObject>,
    /// Instead of `objects`, for a scope larger than the client lists: the folders that hold
    /// them, listed by the tasks.
    #[serde(default)]
    pub folders: Vec<String>,
    /// With `folders`: the keys of `excluded`, which the tasks leave out of their listings.
    #[serde(default)]
    pub leave_out: Vec<String>,
    pub scope: WireScope,
    #[serde(skip)]
    pub excluded: Excluded,
}

/// Keys of objects an executor could not read, shared by the client's tables.
#[derive(Debug, Clone, Default)]
pub struct Excluded(Arc<Mutex<BTreeSet<String>>>);

impl Excluded {
    /// Adds `keys`; whether any was new.
    pub fn add<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> bool {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let before = set.len();
        set.extend(keys.into_iter().map(str::to_string));
        set.len() > before
    }

    fn keys(&self) -> Vec<String> {
        let set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        set.iter().cloned().collect()
    }

    fn contains(&self, key: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }
}

impl ArchiveObjects {
    /// What is sent: the objects not excluded.
    pub fn to_send(&self) -> ArchiveObjects {
        ArchiveObjects {
            objects: self
                .objects
                .iter()
                .filter(|o| !self.excluded.contains(&o.key))
                .cloned()
                .collect(),
            leave_out: match self.folders.is_empty() {
                true => Vec::new(),
                false => self.excluded.keys(),
            },
            ..self.clone()
        }
    }

    /// Runs on the scheduler: the objects the query's filters leave, spread over tasks.
    pub fn plan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        record_json: bool,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scope = self.scope.scope().intersect(&PRUNING.scope(filters));
        let shape = ScanShape {
            projection: projection.cloned(),
            record_json,
            from: scope.from.map(|t| t.timestamp_micros()),
            to: scope.to.map(|t| t.timestamp_micros()),
            limit,
            batch_size: state.config().batch_size().max(1),
        };
        let scans: Vec<Arc<dyn ExecutionPlan>> = self
            .shares(&scope, state.config().target_partitions())
            .into_iter()
            .map(|share| {
                let scan = ArchiveScanExec::new(self.archive.clone(), share, shape.clone());
                Arc::new(scan) as Arc<dyn ExecutionPlan>
            })
            .collect();
        // One scan per task under a union. Ballista gives each task of a stage the whole stage
        // plan, cut down to the task's partitions for the leaves it knows (file and shuffle
        // scans); a leaf of ours it cannot cut would be read whole by every task. A union
        // whose branch it cannot cut gets a stage per branch, so each scan runs exactly once.
        super::stage_each(scans)
    }
}

#[async_trait]
impl TableProvider for ArchiveObjects {
    super::table::cluster_trail_methods!();

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let names = &dialect_columns::PartitionNames::default();
        dialect_columns::scan_with_dialect_columns(state, names, projection, |decoded| async move {
            self.plan(
                state,
                Some(&decoded.columns),
                decoded.record_json,
                filters,
                limit,
            )
        })
        .await
    }
}

/// What every task of a raw scan decodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanShape {
    /// Decoded columns of `cloudtrail_schema`.
    pub projection: Option<Vec<usize>>,
    /// Whether `eventjson` follows them.
    pub record_json: bool,
    /// The exact event-time range, microseconds since the epoch.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: Option<usize>,
    pub batch_size: usize,
}

impl ScanShape {
    fn decoder(&self) -> Decoder {
        let decoder = Decoder::new(self.projection.as_deref(), self.from, self.to);
        if self.record_json {
            decoder.with_record_json()
        } else {
            decoder
        }
    }
}

/// One task's share of a raw scan, as an executor runs it: one partition.
#[derive(Debug)]
pub struct ArchiveScanExec {
    archive: StoreAddress,
    share: Share,
    shape: ScanShape,
    properties: Arc<PlanProperties>,
    /// The local scan this task runs, once it runs: its metrics (objects and bytes read) are
    /// this plan's, for the executor's task line.
    running: Arc<Mutex<Option<Arc<CloudTrailExec>>>>,
}

/// The wire form of [`ArchiveScanExec`].
#[derive(Serialize, Deserialize)]
pub struct ArchiveScanTask {
    pub archive: StoreAddress,
    pub share: Share,
    pub shape: ScanShape,
}

impl ArchiveScanExec {
    pub fn new(archive: StoreAddress, share: Share, shape: ScanShape) -> Self {
        let properties = super::one_task(shape.decoder().schema(), EmissionType::Incremental);
        ArchiveScanExec {
            archive,
            share,
            shape,
            properties,
            running: Arc::default(),
        }
    }

    pub fn task(&self) -> ArchiveScanTask {
        ArchiveScanTask {
            archive: self.archive.clone(),
            share: self.share.clone(),
            shape: self.shape.clone(),
        }
    }

    pub fn from_task(task: ArchiveScanTask) -> Self {
        ArchiveScanExec::new(task.archive, task.share, task.shape)
    }
}

impl DisplayAs for ArchiveScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let archive = &self.archive.location;
        match &self.share {
            Share::Objects(objects) => write!(
                f,
                "ArchiveScanExec: archive={archive}, objects={}, bytes={}",
                objects.len(),
                objects.iter().map(|o| o.size).sum::<u64>(),
            ),
            Share::Folders(share) => write!(
                f,
                "ArchiveScanExec: archive={archive}, folders={}",
                share.folders.len()
            ),
        }
    }
}

impl ExecutionPlan for ArchiveScanExec {
    fn name(&self) -> &str {
        "ArchiveScanExec"
    }

    crate::table::scan::leaf_plan_methods!();

    /// The running scan's; an empty set before it runs, as on the scheduler. The scheduler
    /// matches its plan's metric sets with an executor's one to one, and logs an error for
    /// every stage where their numbers differ.
    fn metrics(&self) -> Option<MetricsSet> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            running
                .as_ref()
                .and_then(|scan| scan.metrics())
                .unwrap_or_default(),
        )
    }

    /// Runs on an executor: opens the archive and reads this task's objects with the local
    /// scan; if any could not be read, fails at the end naming them all (see the module).
    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "ArchiveScanExec has one partition, not {partition}"
            )));
        }
        let schema = self.properties.eq_properties.schema().clone();
        let archive = self.archive.clone();
        let (share, shape) = (self.share.clone(), self.shape.clone());
        let running = Arc::clone(&self.running);
        let rows = stream::once(async move {
            let location = archive.open().await.map_err(DataFusionError::from)?;
            let mut source = ArchiveSource::new(location.clone(), Scope::default(), false);
            // Both kinds are the client's to judge: it knows --strict and --allow-partial.
            source.allow_partial = true;
            let objects = share.objects(&location, &source).await?;
            let micros = |t: Option<i64>| t.and_then(DateTime::<Utc>::from_timestamp_micros);
            let scope = Scope {
                from: micros(shape.from),
                to: micros(shape.to),
                ..Scope::default()
            };
            let scan = CloudTrailExec::new(
                source.clone(),
                RawScan {
                    objects,
                    scope: &scope,
                    projection: shape.projection.as_ref(),
                    record_json: shape.record_json,
                    limit: shape.limit,
                },
                1,
                shape.batch_size,
            );
            let scan = Arc::new(scan);
            let rows = scan.execute(0, context)?;
            *running.lock().unwrap_or_else(|e| e.into_inner()) = Some(scan);
            let errors = source.errors.clone();
            let verdict = stream::once(async move {
                match errors.all() {
                    met if met.is_empty() => None,
                    met => Some(Err(unreadable_error(&met))),
                }
            })
            .filter_map(futures::future::ready);
            Ok::<_, DataFusionError>(rows.chain(verdict))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
    }
}

/// Marks the objects an executor could not read inside its task's error message, which is all
/// of a failed task that reaches the client. Base64 of JSON: it survives being quoted.
const UNREADABLE_MARK: &str = "[trailscope-unreadable:";

/// A task's failure naming the objects it could not read (readable by [`unreadable_in`]).
pub fn unreadable_error(errors: &[ReadError]) -> DataFusionError {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(errors).unwrap_or_default());
    let first = errors
        .first()
        .map(|e| format!("{}: {}", e.key, e.reason))
        .unwrap_or_default();
    DataFusionError::Execution(format!(
        "{} log object(s) could not be read on this executor ({first}) {UNREADABLE_MARK}{payload}]",
        errors.len()
    ))
}

/// The objects named by every [`unreadable_error`] inside `message`.
pub fn unreadable_in(message: &str) -> Vec<ReadError> {
    let mut found = Vec::new();
    for (at, _) in message.match_indices(UNREADABLE_MARK) {
        let rest = &message[at + UNREADABLE_MARK.len()..];
        let payload: &str = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .next()
            .unwrap_or_default();
        let Ok(json) = URL_SAFE_NO_PAD.decode(payload) else {
            continue;
        };
        if let Ok(errors) = serde_json::from_slice::<Vec<ReadError>>(&json) {
            found.extend(errors);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(key: &str, unfetched: bool) -> ReadError {
        ReadError {
            key: key.into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            reason: "invalid gzip header: \"quoted\" \\ and more".into(),
            partially_read: false,
            unfetched,
        }
    }

    #[test]
    fn unreadable_objects_survive_being_quoted_inside_other_errors() {
        let sent = vec![error("a/b.json.gz", false), error("c/d.json.gz", true)];
        let message = unreadable_error(&sent).to_string();
        // As Ballista wraps a task's failure: Debug-quoted inside its own message, twice over.
        let wrapped = format!("Job failed: {:?} and {:?}", message, message);
        let got = unreadable_in(&wrapped);
        assert_eq!(got, [sent.clone(), sent].concat());
        assert!(unreadable_in("Job failed: an executor was lost").is_empty());
    }
}
