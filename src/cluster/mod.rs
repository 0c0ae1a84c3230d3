//! The same SQL on an Apache DataFusion Ballista cluster (`--cluster df://host:port`, feature
//! `cluster`).
//!
//! On a cluster, `cloudtrail` is read by executors where it lies. The client lists what the
//! user's scope needs and sends the list inside the plan (through [`codec::TrailscopeCodec`]):
//! a lake's committed Parquet files ([`table::LakeFiles`], DataFusion's own Parquet scan), raw
//! log objects ([`raw::ArchiveObjects`], the local engine's scan on each executor), or a lake
//! with the raw objects it does not hold ([`table::LakeAndArchive`]), as a local `--lake` query
//! reads. Other tables (`log_files`, snapshot tables, ...) are computed on the client when a
//! statement reads them and travel with the plan ([`table::ShippedTable`]).
//!
//! Scheduler and executors must be trailscope's ([`server`], `trailscope cluster scheduler` and
//! `trailscope cluster executor`): they decode our tables and know our SQL functions.

pub mod codec;
pub mod convert;
pub mod raw;
pub mod readings;
pub mod remote;
pub mod server;
pub mod share;
mod slots;
pub mod table;
pub mod task_log;
mod union_aggregates;
mod unsupported;

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::catalog::{MemoryCatalogProviderList, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::{TableType, source_as_provider};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{Partitioning, PlanProperties};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;

use crate::archive::listing::{folders_to_list, list_folders};
use crate::archive::{ObjectKind, Readings};
use crate::error::{Error, Result};
use crate::lake::LakeSnapshot;
use crate::table::statements::StatementResult;
use crate::table::{ArchiveSource, ScanStats, TableSource, views};
use raw::{ArchiveObjects, Excluded, StoreAddress, WireObject};
use table::{LakeAndArchive, LakeFiles, ShippedTable, WireScope};

/// Stack size of the runtime's threads in a `cluster` build. Encoding, decoding and planning a
/// control's plan recurse deeper than tokio's 2 MiB default allows (Ballista's own binaries use
/// the same size); it is address space, not memory, until used.
pub const THREAD_STACK_BYTES: usize = 32 << 20;

/// A session whose queries run on a cluster, beside the local session that computes the tables
/// the cluster cannot.
pub struct ClusterSession {
    remote: SessionContext,
    local: SessionContext,
    /// Where unreadable objects are filed, as a local scan files them.
    source: ArchiveSource,
    /// Raw objects an executor could not read: left out of the statements that follow.
    excluded: Excluded,
    /// The raw objects `cloudtrail` reads (none when a lake holds them all).
    raw: Option<ArchiveObjects>,
}

impl ClusterSession {
    /// Connects to the scheduler at `url` (`df://host:port`) with the tables of `local`:
    /// `cloudtrail` from the lake and the archive, every other table shipped, and the built-in
    /// views again when `views` (they must read the cluster's tables, not the local ones).
    pub async fn connect(
        url: &str,
        local: SessionContext,
        source: &TableSource,
        views: bool,
    ) -> Result<ClusterSession> {
        let excluded = Excluded::default();
        let trail = cloudtrail(source, excluded.clone()).await?;
        let raw = match trail.downcast_ref::<LakeAndArchive>() {
            Some(both) => Some(both.raw.clone()),
            None => trail.downcast_ref::<ArchiveObjects>().cloned(),
        };
        let reads_raw = raw.is_some();
        let remote = remote_with(url, local.state(), !reads_raw).await?;
        register_tables(&remote, &local, trail).await?;
        if views {
            views::register_views(&remote).await?;
        }
        Ok(ClusterSession {
            remote,
            local,
            source: source.archive.clone(),
            excluded,
            raw,
        })
    }

    /// Files in `readings` the hashes of the raw objects `cloudtrail` reads, made on the
    /// executors ([`readings`]); how many. Objects the scans could not read are left out.
    pub async fn fill_readings(&self, readings: &Readings) -> Result<usize> {
        let Some(raw) = &self.raw else {
            return Ok(0);
        };
        let job = Arc::new(readings::ObjectReadings { raw: raw.clone() });
        let rows = self.remote.read_table(job)?.collect().await;
        Ok(readings::record(&rows.map_err(job_failure)?, readings)?)
    }

    /// Runs statements in order on the cluster, collecting each result.
    pub async fn execute(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>> {
        let mut results = Vec::with_capacity(statements.len());
        for statement in statements {
            results.push(self.execute_one(statement).await?);
        }
        Ok(results)
    }

    /// Runs one statement (see [`ClusterSession::run_filing_unreadable`]).
    async fn execute_one(&self, statement: Statement) -> Result<StatementResult> {
        self.run_filing_unreadable(|| async {
            let plan = self
                .remote
                .state()
                .statement_to_plan(statement.clone())
                .await?;
            unsupported::refuse_unsupported(&plan)?;
            self.ship_tables_read_by(&plan)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            let frame = self.remote.execute_logical_plan(plan).await?;
            let schema = frame.schema().inner().clone();
            let batches = frame.collect().await?;
            Ok(StatementResult { schema, batches })
        })
        .await
    }

    /// Runs a job with `run`; when executors could not read some raw objects, files them (which
    /// fails under `--strict`, or for an object that could not be fetched) and runs it again
    /// without them. Each run leaves out at least one more object, so this ends.
    async fn run_filing_unreadable<T, F, Fut>(&self, mut run: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = datafusion::error::Result<T>>,
    {
        loop {
            let failure = match run().await {
                Ok(done) => return Ok(done),
                Err(e) => e,
            };
            let unreadable = raw::unreadable_in(&failure.to_string());
            if !self.excluded.add(unreadable.iter().map(|e| e.key.as_str())) {
                return Err(job_failure(failure));
            }
            self.source.record_read_errors(unreadable)?;
        }
    }

    /// Computes, on the client, every shipped table `plan` reads (through views too).
    async fn ship_tables_read_by(&self, plan: &LogicalPlan) -> Result<()> {
        let mut shipped: Vec<Arc<dyn TableProvider>> = Vec::new();
        let mut plans = vec![plan.clone()];
        while let Some(plan) = plans.pop() {
            plan.apply_with_subqueries(|node| {
                if let LogicalPlan::TableScan(scan) = node
                    && let Ok(provider) = source_as_provider(&scan.source)
                {
                    if provider.downcast_ref::<ShippedTable>().is_some() {
                        shipped.push(Arc::clone(&provider));
                    } else if let Some(view) = provider.get_logical_plan() {
                        plans.push(view.into_owned());
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        let local = self.local.state();
        for provider in shipped {
            if let Some(table) = provider.downcast_ref::<ShippedTable>() {
                table.materialize(&local).await?;
            }
        }
        Ok(())
    }
}

/// A session whose jobs run on the scheduler at `url`, with our codec, and `base`'s settings
/// and functions. `adaptive`: Ballista 55's adaptive planner, which hands every task of a stage
/// the whole of a leaf it cannot cut to the task's partitions (our raw scans and convert tasks),
/// so each task would read them all (a count came back doubled with two executors); the static
/// planner gives such a leaf under a union a stage of its own (see `raw::ArchiveObjects::plan`).
async fn remote_with(
    url: &str,
    base: datafusion::execution::SessionState,
    adaptive: bool,
) -> Result<SessionContext> {
    // Ballista's settings for DataFusion first (no dynamic filters or physical scalar
    // subqueries, which cannot cross its stages; no view types; ...): setting any Ballista
    // option below marks the configuration as upgraded, and Ballista then skips them.
    let config = base
        .config()
        .clone()
        .upgrade_for_ballista()
        .with_ballista_logical_extension_codec(Arc::new(codec::TrailscopeCodec::default()))
        .with_ballista_grpc_client_max_message_size(server::MAX_MESSAGE_BYTES as usize)
        .with_ballista_adaptive_query_planner(adaptive)
        // The client sends its optimized plan to the scheduler. The columns this rule extracts
        // (`__datafusion_extracted_N`) come back qualified from DataFusion 55's protobuf, and an
        // aggregate that names one (`array_agg(named_struct(...)) ORDER BY ...`) no longer finds
        // its input: "No field named ...". The scheduler optimizes the plan again, with it.
        .set_bool(
            "datafusion.optimizer.enable_leaf_expression_pushdown",
            false,
        );
    // A catalog of its own: the cluster's tables must not replace the local ones, which
    // compute what is shipped.
    let state = SessionStateBuilder::new_from_existing(base.clone())
        .with_config(config.with_create_default_catalog_and_schema(true))
        .with_catalog_list(Arc::new(MemoryCatalogProviderList::new()))
        .build();
    let remote = SessionContext::remote_with_state(url, state)
        .await
        .map_err(|e| Error::input(crate::Input::Cluster, url, e.to_string()))?;
    // Ballista replaces the session's functions with its own list: ours come back here.
    crate::table::keep_own_names(base.scalar_functions(), |f| {
        remote.register_udf(f.as_ref().clone());
        Ok::<(), Error>(())
    })?;
    for f in base.aggregate_functions().values() {
        remote.register_udaf(f.as_ref().clone());
    }
    for f in base.window_functions().values() {
        remote.register_udwf(f.as_ref().clone());
    }
    Ok(remote)
}

/// A job's failure, with what to do when the scheduler cancelled it: our scheduler does that
/// when an executor the job ran on is lost (see `slots`), and nothing else cancels our jobs.
pub(crate) fn job_failure(failure: DataFusionError) -> Error {
    let message = failure.to_string();
    if message.ends_with("failed: Cancelled") {
        return Error::Runtime(format!(
            "{message}: an executor it ran on was lost (the scheduler's log names it); run it \
             again on the executors left"
        ));
    }
    failure.into()
}

/// The properties of a leaf of ours that runs as one task: a single partition of `schema`,
/// bounded, its rows handed on as they come (`Final`: all at the end).
pub(crate) fn one_task(
    schema: datafusion::arrow::datatypes::SchemaRef,
    emission: EmissionType,
) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(1),
        emission,
        Boundedness::Bounded,
    ))
}

/// Our task leaves as one plan: under a union, which Ballista's static planner cuts into a stage
/// per branch, so each runs exactly once (see `raw::ArchiveObjects::plan`).
pub(crate) fn stage_each(
    mut tasks: Vec<Arc<dyn datafusion::physical_plan::ExecutionPlan>>,
) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
    match tasks.len() {
        1 => Ok(tasks.remove(0)),
        _ => datafusion::physical_plan::union::UnionExec::try_new(tasks),
    }
}

/// A session on the scheduler at `url` for jobs of our own plans (no tables, no functions).
pub(crate) async fn remote_context(url: &str, adaptive: bool) -> Result<SessionContext> {
    remote_with(url, SessionContext::new().state(), adaptive).await
}

/// `cloudtrail` as `trail`; every other base table of `local` shipped.
async fn register_tables(
    remote: &SessionContext,
    local: &SessionContext,
    trail: Arc<dyn TableProvider>,
) -> Result<()> {
    remote.register_table("cloudtrail", trail)?;
    let options = local.state().config().options().catalog.clone();
    let schema = local
        .catalog(&options.default_catalog)
        .and_then(|c| c.schema(&options.default_schema));
    let Some(schema) = schema else {
        return Ok(());
    };
    for name in schema.table_names() {
        if name == "cloudtrail" {
            continue;
        }
        let Some(provider) = schema.table(&name).await? else {
            continue;
        };
        if provider.table_type() == TableType::View {
            continue;
        }
        remote.register_table(&name, Arc::new(ShippedTable::new(&name, provider)))?;
    }
    Ok(())
}

/// `cloudtrail` for executors: the raw objects in the user's scope, or the lake's files with
/// the raw objects it does not hold (none with `--lake-only`), listed as a local query lists.
async fn cloudtrail(source: &TableSource, excluded: Excluded) -> Result<Arc<dyn TableProvider>> {
    let archive = &source.archive;
    let raw = |objects: Vec<WireObject>, folders: Vec<String>| {
        fits_in_a_plan(
            objects.len() + folders.len(),
            MAX_PLAN_OBJECTS,
            &archive.location.display,
        )?;
        Ok::<_, Error>(ArchiveObjects {
            archive: StoreAddress::of(&archive.location),
            objects,
            folders,
            leave_out: Vec::new(),
            scope: WireScope::of(&archive.scope),
            excluded: excluded.clone(),
        })
    };
    let Some(lake) = &source.lake else {
        let (objects, folders) = list_or_leave_to_executors(archive).await?;
        return Ok(Arc::new(raw(objects, folders)?));
    };
    let listed = crate::table::lake::raw_candidates(archive, lake, &archive.scope).await?;
    let (unconverted, changed) = crate::table::lake::unconverted(lake, listed);
    let mut files = lake_files(lake, archive)?;
    if unconverted.is_empty() {
        return Ok(Arc::new(files));
    }
    files.changed = changed;
    Ok(Arc::new(LakeAndArchive {
        lake: files,
        raw: raw(unconverted.iter().map(WireObject::of).collect(), Vec::new())?,
    }))
}

/// The log objects of `archive`'s scope, listed here; or, when they are more than the client
/// lists ([`share::client_listing_limit`]), none and the folders that hold them, for executors
/// to list.
async fn list_or_leave_to_executors(
    archive: &ArchiveSource,
) -> Result<(Vec<WireObject>, Vec<String>)> {
    let (location, stats) = (&archive.location, &archive.stats);
    let (folders, requests) = folders_to_list(location, ObjectKind::Log, &archive.scope).await?;
    ScanStats::add(&stats.list_requests, requests as u64);
    let limit = share::client_listing_limit();
    match list_folders(location, ObjectKind::Log, &archive.scope, &folders, limit).await? {
        Some(listing) => {
            crate::table::cloudtrail::record_listing(archive, &listing)?;
            Ok((
                listing.objects.iter().map(WireObject::of).collect(),
                Vec::new(),
            ))
        }
        None => {
            ScanStats::add(&stats.folders_for_executors, folders.len() as u64);
            Ok((
                Vec::new(),
                folders.iter().map(ToString::to_string).collect(),
            ))
        }
    }
}

/// The most log objects one cluster statement can carry: each travels in the plan (about 200
/// bytes), and a plan is one gRPC message of at most [`server::MAX_MESSAGE_BYTES`]; a quarter
/// of it is kept for the rest of the plan and its serialization's overhead.
pub(crate) const MAX_PLAN_OBJECTS: usize = (server::MAX_MESSAGE_BYTES as usize / 4 * 3) / 200;

/// Refuses, before anything is sent, a scope with more log objects than a plan can carry, with
/// what to do instead (otherwise the plan would fail on the gRPC message limit, far from the
/// cause).
pub(crate) fn fits_in_a_plan(objects: usize, limit: usize, archive: &str) -> Result<()> {
    if objects <= limit {
        return Ok(());
    }
    Err(Error::input(
        crate::Input::Cluster,
        archive,
        format!(
            "the scope holds {objects} log files, more than one cluster statement can carry \
             (about {limit}): narrow it with --from/--to (or --account/--region) and ask in parts"
        ),
    ))
}

/// The lake's committed files, with the URL executors read them under.
fn lake_files(lake: &LakeSnapshot, source: &ArchiveSource) -> Result<LakeFiles> {
    let location = &lake.lake.location;
    let (store_url, root) = match &location.local_dir {
        Some(dir) => {
            let path = object_store::path::Path::from_absolute_path(dir)
                .map_err(|e| Error::input(crate::Input::Lake, &location.display, e.to_string()))?;
            ("file://".to_string(), path.to_string())
        }
        None => {
            let bucket = location
                .display
                .strip_prefix("s3://")
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_default();
            (format!("s3://{bucket}"), location.root.to_string())
        }
    };
    Ok(LakeFiles {
        store_url,
        root,
        files: lake.files.clone(),
        scope: WireScope::of(&source.scope),
        changed: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scope_too_large_for_one_plan_is_refused_with_what_to_do() {
        assert!(super::fits_in_a_plan(10, 10, "s3://trail").is_ok());
        let refused = super::fits_in_a_plan(11, 10, "s3://trail")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("s3://trail"), "{refused}");
        assert!(refused.contains("11 log files"), "{refused}");
        assert!(refused.contains("--from/--to"), "{refused}");
    }

    // The limit the docs state (about 4 million log files per statement), checked at compile time.
    const _: () = assert!(super::MAX_PLAN_OBJECTS > 4_000_000);
}
