//! DataFusion tables over an archive, and the session that serves them.
//!
//! Every table of an archive is one entry of [`registry::TABLES`] (name, description, schema,
//! provider); registration, `trailscope tables` and the shell's `\d` read that list. The
//! providers live here too: `cloudtrail` ([`cloudtrail::CloudTrailTable`], scanned by
//! [`scan::CloudTrailExec`]; with a lake, [`lake::LakeScan`]), `log_files` and `read_errors`
//! ([`listed`]), and the trail-forensics tables ([`integrity`]).
//!
//! DataFusion types stay inside this folder, so an engine upgrade touches one place.

mod balance;
pub mod cloudtrail;
pub mod credential_origins;
mod dialect;
pub mod dialect_columns;
pub mod filter_pattern;
pub mod filters;
pub mod integrity;
pub mod ip_functions;
pub mod json_functions;
pub mod lake;
pub mod listed;
mod narrow_structs;
mod own_columns;
pub mod registry;
pub mod scan;
pub mod shared_scan;
pub mod sigma_functions;
pub mod snapshot;
pub mod sql_table;
pub mod statements;
pub mod stop_events;
mod trino_forms;
mod trino_functions;
pub mod views;

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use crate::archive::{ArchiveSource, ErrorLog, ScanStats};
use crate::enrich::Enrichment;
use crate::error::{Error, Result};
use crate::lake::LakeSnapshot;

/// What a session's tables read: the archive, and the lake of it (`--lake`) that `cloudtrail`
/// reads first, taking from the archive only the objects the lake does not hold.
#[derive(Debug, Clone)]
pub struct TableSource {
    pub archive: ArchiveSource,
    pub lake: Option<Arc<LakeSnapshot>>,
    /// The user's own names for partition columns, beside Athena's usual ones.
    pub partition_names: dialect_columns::PartitionNames,
    /// The files the IP functions answer from (none: they answer NULL).
    pub enrichment: Arc<Enrichment>,
    /// `cloudtrail` read elsewhere (a cluster's, with `--cluster`) instead of from here.
    pub cloudtrail_elsewhere: Option<Arc<dyn datafusion::catalog::TableProvider>>,
    /// The hashes of the log files read there, for the checks that would read them again.
    pub readings_elsewhere: Option<Arc<dyn crate::archive::ReadingsElsewhere>>,
}

impl TableSource {
    pub fn new(archive: ArchiveSource, lake: Option<Arc<LakeSnapshot>>) -> Self {
        TableSource {
            archive,
            lake,
            partition_names: Default::default(),
            enrichment: Arc::default(),
            cloudtrail_elsewhere: None,
            readings_elsewhere: None,
        }
    }

    pub fn with_enrichment(mut self, enrichment: Arc<Enrichment>) -> Self {
        self.enrichment = enrichment;
        self
    }

    pub fn with_partition_names(mut self, names: dialect_columns::PartitionNames) -> Self {
        self.partition_names = names;
        self
    }

    /// Whether `cloudtrail` has each record's own text (`eventjson`): over the raw archive only,
    /// since a lake keeps the decoded columns.
    pub fn keeps_record_text(&self) -> bool {
        self.lake.is_none()
    }

    /// The error a plan would meet only when it runs, found while it is still a plan: reading
    /// the record's text (`eventjson`) where this source does not keep it. Lets a caller with
    /// many queries drop the one that cannot run before they share a scan.
    pub fn unreadable_by(&self, plan: &datafusion::logical_expr::LogicalPlan) -> Option<Error> {
        use datafusion::common::tree_node::TreeNodeRecursion;
        if self.keeps_record_text() {
            return None;
        }
        let mut found = false;
        let _ = plan.apply_with_subqueries(|node| {
            node.apply_expressions(|e| {
                found |= e
                    .column_refs()
                    .iter()
                    .any(|c| c.name == crate::decode::schema::EVENT_JSON);
                Ok(TreeNodeRecursion::Continue)
            })?;
            Ok(if found {
                TreeNodeRecursion::Stop
            } else {
                TreeNodeRecursion::Continue
            })
        });
        found.then(|| dialect_columns::no_record_json_in_lake().into())
    }
}

/// The archive's fields (location, scope, errors, counters) read through the table source.
impl std::ops::Deref for TableSource {
    type Target = ArchiveSource;
    fn deref(&self) -> &ArchiveSource {
        &self.archive
    }
}

impl From<ArchiveSource> for TableSource {
    fn from(archive: ArchiveSource) -> Self {
        TableSource::new(archive, None)
    }
}

impl From<&ArchiveSource> for TableSource {
    fn from(archive: &ArchiveSource) -> Self {
        TableSource::new(archive.clone(), None)
    }
}

impl From<&TableSource> for TableSource {
    fn from(source: &TableSource) -> Self {
        source.clone()
    }
}

/// A session with the archive's tables and our SQL functions registered.
pub fn session(source: impl Into<TableSource>) -> Result<SessionContext> {
    let source = source.into();
    // Local only: a cluster's scheduler plans with `base_session`: the operator the dictionary
    // rule puts in a plan does not cross to executors, nor does a narrowed scan (executors
    // decode whole structs) or an expression on its own columns.
    let ctx = session_with(vec![
        Arc::new(lake::dictionary_groups::DictionaryGroups),
        Arc::new(narrow_structs::NarrowStructs),
        Arc::new(own_columns::OwnColumns),
    ])?;
    for udf in ip_functions::udfs(&source.enrichment) {
        ctx.register_udf(udf);
    }
    registry::register(&ctx, &source)?;
    Ok(ctx)
}

/// `task` of each of `items`, each on a task of its own, as many at once as there are cores; the
/// results in the items' order (`Err`: that task panicked). Planning a query runs on the thread
/// that asks for it, so independent queries plan on every core only this way.
pub(crate) async fn on_every_core<I, F, Fut>(
    items: I,
    mut task: F,
) -> Vec<std::result::Result<Fut::Output, tokio::task::JoinError>>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    use futures::StreamExt;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    futures::stream::iter(items)
        .map(|item| tokio::spawn(task(item)))
        .buffered(cores)
        .collect()
        .await
}

/// `ctx` (the same tables, functions and settings) with `change` made to its options, for a
/// step that plans its own queries differently (see the callers).
pub(crate) fn with_options(
    ctx: &SessionContext,
    change: impl FnOnce(&mut datafusion::common::config::ConfigOptions),
) -> SessionContext {
    let mut state = ctx.state();
    change(state.config_mut().options_mut());
    SessionContext::new_with_state(state)
}

/// `plan` with each node, bottom up, replaced by what `rewrite` makes of it (`None`: kept as it
/// is): the walk every physical optimizer rule of ours makes.
pub(crate) fn rewrite_nodes(
    plan: Arc<dyn ExecutionPlan>,
    rewrite: impl Fn(&Arc<dyn ExecutionPlan>) -> DfResult<Option<Arc<dyn ExecutionPlan>>>,
) -> DfResult<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        Ok(match rewrite(&node)? {
            Some(rewritten) => Transformed::yes(rewritten),
            None => Transformed::no(node),
        })
    })
    .map(|t| t.data)
}

/// A session with our functions and settings but no tables.
pub fn base_session() -> Result<SessionContext> {
    session_with(Vec::new())
}

/// [`base_session`], with `rules` after DataFusion's physical optimizer rules. (Not a state
/// rebuilt from `base_session`'s: that registers its functions again in a hash map's order, and
/// DataFusion's `map_extract`, whose alias is `element_at`, then replaced ours about half the
/// time; see [`keep_own_names`].)
fn session_with(
    rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_analyzer_rules(dialect::analyzer_rules());
    for rule in rules {
        builder = builder.with_physical_optimizer_rule(rule);
    }
    let mut state = builder.build();
    datafusion_functions_json::register_all(&mut state)?;
    let ctx = SessionContext::new_with_state(state);
    json_functions::register(&ctx);
    trino_functions::register(&ctx);
    ctx.register_udf(filter_pattern::udf());
    for udf in sigma_functions::udfs() {
        ctx.register_udf(udf);
    }
    ctx.register_udf(dialect_columns::udf());
    // Without enrichment files the IP functions still plan, and answer NULL.
    for udf in ip_functions::udfs(&Arc::default()) {
        ctx.register_udf(udf);
    }
    Ok(ctx)
}

/// Registers `functions` again through `register`, so that another function's alias cannot hold
/// the own name of one of ours: a session built from another's state (`SessionStateBuilder::
/// new_from_existing`, Ballista's remote session) registers functions in a hash map's order,
/// and DataFusion's `map_extract`, also called `element_at`, then took the name of our Trino
/// `element_at` about half the time. Functions with aliases go first, those without (ours)
/// after, each under its own name.
pub fn keep_own_names<E>(
    functions: &std::collections::HashMap<String, Arc<ScalarUDF>>,
    mut register: impl FnMut(Arc<ScalarUDF>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let own = functions
        .iter()
        .filter(|(name, udf)| udf.name() == name.as_str())
        .map(|(_, udf)| udf);
    let (aliased, plain): (Vec<_>, Vec<_>) = own.partition(|udf| !udf.aliases().is_empty());
    for udf in aliased.into_iter().chain(plain) {
        register(Arc::clone(udf))?;
    }
    Ok(())
}

/// Everything a control may read: the archive's tables, the snapshots' tables and the shared
/// views over them. With no snapshot the snapshot tables exist but are empty, so state controls
/// still plan (and come out inconclusive).
pub async fn evidence_session(
    source: impl Into<TableSource>,
    snapshots: &[crate::snapshot::Snapshot],
) -> Result<SessionContext> {
    let ctx = session(source)?;
    snapshot::register_snapshot_tables(&ctx, snapshots)?;
    views::register_views(&ctx).await?;
    Ok(ctx)
}
