//! The same SQL on an Apache DataFusion Ballista cluster (`--cluster df://host:port`, feature
//! `cluster`).
//!
//! On a cluster, `cloudtrail` is the lake's Parquet, read by executors with DataFusion's own
//! Parquet scan: the client sends the manifest's file list inside the plan ([`table::LakeFiles`],
//! through [`codec::TrailscopeCodec`]), so only committed files are read. Raw objects the lake
//! does not hold cannot be read there, so a query is refused while the lake is behind the
//! archive. Other tables (`log_files`, snapshot tables, ...) are computed on the client when a
//! statement reads them and travel with the plan ([`table::ShippedTable`]).
//!
//! Scheduler and executors must be trailscope's ([`server`], `trailscope cluster scheduler` and
//! `trailscope cluster executor`): they decode our tables and know our SQL functions.

pub mod codec;
pub mod server;
pub mod table;
pub mod task_log;

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::catalog::{MemoryCatalogProviderList, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::{TableType, source_as_provider};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;

use crate::error::{Error, Result};
use crate::lake::LakeSnapshot;
use crate::table::statements::StatementResult;
use crate::table::{ArchiveSource, TableSource, views};
use table::{LakeFiles, ShippedTable};

/// Stack size of the runtime's threads in a `cluster` build. Encoding, decoding and planning a
/// control's plan recurse deeper than tokio's 2 MiB default allows (Ballista's own binaries use
/// the same size); it is address space, not memory, until used.
pub const THREAD_STACK_BYTES: usize = 32 << 20;

/// How many missing objects a refusal names.
const NAMED_MISSING: usize = 5;

/// A session whose queries run on a cluster, beside the local session that computes the tables
/// the cluster cannot.
pub struct ClusterSession {
    remote: SessionContext,
    local: SessionContext,
}

impl ClusterSession {
    /// Connects to the scheduler at `url` (`df://host:port`) with the tables of `local`:
    /// `cloudtrail` from the lake, every other table shipped, and the built-in views again when
    /// `views` (they must read the cluster's tables, not the local ones).
    pub async fn connect(
        url: &str,
        local: SessionContext,
        source: &TableSource,
        views: bool,
    ) -> Result<ClusterSession> {
        let Some(lake) = &source.lake else {
            return Err(Error::input(
                crate::Input::Cluster,
                url,
                "needs a lake: the cluster reads the lake's Parquet, not the raw archive \
                 (make one with `trailscope convert`)",
            ));
        };
        refuse_incomplete_lake(source, lake).await?;
        let base = local.state();
        let config = base
            .config()
            .clone()
            .with_ballista_logical_extension_codec(Arc::new(codec::TrailscopeCodec::default()))
            .with_ballista_grpc_client_max_message_size(server::MAX_MESSAGE_BYTES as usize);
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
        for f in base.scalar_functions().values() {
            remote.register_udf(f.as_ref().clone());
        }
        for f in base.aggregate_functions().values() {
            remote.register_udaf(f.as_ref().clone());
        }
        for f in base.window_functions().values() {
            remote.register_udwf(f.as_ref().clone());
        }
        register_tables(&remote, &local, lake, source).await?;
        if views {
            views::register_views(&remote).await?;
        }
        Ok(ClusterSession { remote, local })
    }

    /// Runs statements in order on the cluster, collecting each result.
    pub async fn execute(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>> {
        let mut results = Vec::with_capacity(statements.len());
        for statement in statements {
            let plan = self.remote.state().statement_to_plan(statement).await?;
            self.ship_tables_read_by(&plan).await?;
            let frame = self.remote.execute_logical_plan(plan).await?;
            let schema = frame.schema().inner().clone();
            let batches = frame.collect().await?;
            results.push(StatementResult { schema, batches });
        }
        Ok(results)
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

/// `cloudtrail` as the lake's files; every other base table of `local` shipped.
async fn register_tables(
    remote: &SessionContext,
    local: &SessionContext,
    lake: &LakeSnapshot,
    source: &ArchiveSource,
) -> Result<()> {
    remote.register_table("cloudtrail", Arc::new(lake_files(lake, source)?))?;
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
    let scope = &source.scope;
    Ok(LakeFiles {
        store_url,
        root,
        files: lake.files.clone(),
        from: scope.from.map(|t| t.timestamp_micros()),
        to: scope.to.map(|t| t.timestamp_micros()),
        accounts: scope.accounts.clone(),
        regions: scope.regions.clone(),
    })
}

/// Refuses to run while the archive (in the user's scope) holds log objects the lake does not:
/// the cluster reads only the lake, and an answer without them would be silently incomplete.
async fn refuse_incomplete_lake(source: &ArchiveSource, lake: &LakeSnapshot) -> Result<()> {
    let listed = crate::table::lake::raw_candidates(source, lake, &source.scope).await?;
    let missing: Vec<&str> = listed
        .iter()
        .filter(|o| !lake.holds(&o.key, o.size))
        .map(|o| o.key.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let shown = missing[..missing.len().min(NAMED_MISSING)].join(", ");
    let more = if missing.len() > NAMED_MISSING {
        format!(" and {} more", missing.len() - NAMED_MISSING)
    } else {
        String::new()
    };
    Err(Error::input(
        crate::Input::Lake,
        lake.lake.display(),
        format!(
            "does not hold {} log object{} of the archive {} ({shown}{more}); a cluster reads \
             only the lake, so the answer would be incomplete: convert them into it first \
             (`trailscope convert`), or answer from the lake alone with --lake-only",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            source.location.display,
        ),
    ))
}
