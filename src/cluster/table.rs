//! The tables a cluster query reads, all small enough to travel inside the plan:
//!
//! - [`LakeFiles`]: `cloudtrail` as the Parquet files the lake's manifest names, listed
//!   explicitly. A `ListingTable` cannot be used: it lists the lake on the scheduler (and would
//!   read the files a killed `convert` left behind), and its protobuf form keeps only each path's
//!   URL, so neither a glob nor a per-file path can carry the Hive partition values. The scan is
//!   DataFusion's own Parquet scan, which executors run without any trailscope code.
//! - [`ArchiveObjects`] (in `raw`): `cloudtrail` as the raw objects the client listed, read by
//!   executors; [`LakeAndArchive`]: a lake plus the raw objects it does not hold.
//! - [`ShippedTable`]: any other table (`log_files`, snapshot tables, ...), computed on the
//!   client by its usual provider and carried as Arrow IPC; the scheduler turns it back into a
//!   `MemTable`.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use serde::{Deserialize, Serialize};

use super::raw::ArchiveObjects;
use crate::archive::Scope;
use crate::decode::schema::cloudtrail_schema;
use crate::lake::DataFile;
use crate::table::cloudtrail::PRUNING;
use crate::table::dialect_columns;
use crate::table::lake::bloom;
use crate::table::lake::{ExactRows, balance, files_in, parquet_scan};

/// The methods every cluster `cloudtrail` writes the same way: the table's columns, and every
/// filter offered to the scan (it prunes what it can; DataFusion applies them all again). Used
/// inside `impl TableProvider for ...`.
macro_rules! cluster_trail_methods {
    () => {
        fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
            crate::table::dialect_columns::table_schema()
        }

        fn table_type(&self) -> datafusion::datasource::TableType {
            datafusion::datasource::TableType::Base
        }

        fn supports_filters_pushdown(
            &self,
            filters: &[&datafusion::logical_expr::Expr],
        ) -> datafusion::error::Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>>
        {
            Ok(vec![
                datafusion::logical_expr::TableProviderFilterPushDown::Inexact;
                filters.len()
            ])
        }
    };
}
pub(crate) use cluster_trail_methods;

/// The user's `--from/--to/--account/--region`, as it travels in a plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WireScope {
    /// Microseconds since the epoch.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
}

impl WireScope {
    pub fn of(scope: &Scope) -> WireScope {
        WireScope {
            from: scope.from.map(|t| t.timestamp_micros()),
            to: scope.to.map(|t| t.timestamp_micros()),
            accounts: scope.accounts.clone(),
            regions: scope.regions.clone(),
        }
    }

    pub fn scope(&self) -> Scope {
        let time = |t: Option<i64>| t.and_then(DateTime::<Utc>::from_timestamp_micros);
        Scope {
            from: time(self.from),
            to: time(self.to),
            accounts: self.accounts.clone(),
            regions: self.regions.clone(),
            ..Scope::default()
        }
    }
}

/// About how many bytes of the lake's Parquet one task reads (the columns a query needs are a
/// part of it).
const TASK_PARQUET_BYTES: u64 = 128 << 20;

/// `cloudtrail` on a cluster: the manifest's files under the lake's root, restricted to the
/// user's `--from/--to/--account/--region`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LakeFiles {
    /// The object store holding the lake: `file://` or `s3://bucket`.
    pub store_url: String,
    /// The lake's root inside that store (no leading or trailing `/`).
    pub root: String,
    pub files: Vec<DataFile>,
    pub scope: WireScope,
    /// Objects changed since converted: their rows are left out (read raw instead).
    #[serde(default)]
    pub changed: Vec<String>,
}

impl LakeFiles {
    fn path(&self, relative: &str) -> String {
        if self.root.is_empty() {
            relative.to_string()
        } else {
            format!("{}/{relative}", self.root)
        }
    }
}

#[async_trait]
impl TableProvider for LakeFiles {
    super::table::cluster_trail_methods!();

    /// Runs on the scheduler: chooses files from the list (no listing), and plans DataFusion's
    /// Parquet scan of them in the `cloudtrail` column order.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let names = &dialect_columns::PartitionNames::default();
        dialect_columns::scan_with_dialect_columns(state, names, projection, |decoded| async move {
            if decoded.record_json {
                return Err(dialect_columns::no_record_json_in_lake());
            }
            self.scan_decoded(state, Some(&decoded.columns), filters)
                .await
        })
        .await
    }
}

impl LakeFiles {
    /// The Parquet scan of the decoded columns in `projection`.
    pub async fn scan_decoded(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..cloudtrail_schema().fields().len()).collect(),
        };
        let own = self.scope.scope();
        let scope = own.intersect(&PRUNING.scope(filters));
        let files = files_in(&self.files, &scope);
        if files.is_empty() {
            return Ok(Arc::new(EmptyExec::new(Arc::new(
                cloudtrail_schema().project(&wanted)?,
            ))));
        }
        let url = ObjectStoreUrl::parse(&self.store_url)?;
        let files = match state.runtime_env().object_store(&url) {
            Ok(store) => {
                let lookups = bloom::lookups(filters);
                bloom::prune(state, store, files, &lookups, |p| self.path(p)).await
            }
            // A scheduler without the lake's store plans every file; executors filter the rows.
            Err(_) => bloom::whole(files),
        };
        // As with raw objects, the lake's size sets the number of tasks, not the client's cores.
        let bytes: u64 = files.iter().map(|c| c.file.bytes).sum();
        let tasks = state
            .config()
            .target_partitions()
            .max(bytes.div_ceil(TASK_PARQUET_BYTES) as usize);
        let groups = balance(&files, tasks, |p| self.path(p));
        let exact = ExactRows {
            from: own.from,
            to: own.to,
            changed: &self.changed,
        };
        parquet_scan(state, url, groups, projection, filters, exact).await
    }
}

/// `cloudtrail` on a cluster as a lake that is behind its archive: the lake's files, and the
/// raw objects it does not hold (or holds an older copy of) read by executors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LakeAndArchive {
    pub lake: LakeFiles,
    pub raw: ArchiveObjects,
}

#[async_trait]
impl TableProvider for LakeAndArchive {
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
            if decoded.record_json {
                return Err(dialect_columns::no_record_json_in_lake());
            }
            let columns = Some(&decoded.columns);
            let lake = self.lake.scan_decoded(state, columns, filters).await?;
            let raw = self.raw.plan(state, columns, false, filters, limit)?;
            UnionExec::try_new(vec![lake, raw])
        })
        .await
    }
}

/// A table the cluster cannot compute (it lists or reads the archive, or holds a snapshot),
/// computed on the client just before a statement that reads it is sent.
#[derive(Debug)]
pub struct ShippedTable {
    name: String,
    inner: Arc<dyn TableProvider>,
    rows: OnceLock<Vec<RecordBatch>>,
}

impl ShippedTable {
    pub fn new(name: &str, inner: Arc<dyn TableProvider>) -> Self {
        ShippedTable {
            name: name.to_string(),
            inner,
            rows: OnceLock::new(),
        }
    }

    /// Computes the rows with the table's own provider in `local` (once per session).
    pub async fn materialize(&self, local: &dyn Session) -> Result<()> {
        if self.rows.get().is_some() {
            return Ok(());
        }
        let plan = self.inner.scan(local, None, &[], None).await?;
        let batches = datafusion::physical_plan::collect(plan, local.task_ctx()).await?;
        let _ = self.rows.set(batches);
        Ok(())
    }

    /// The rows, once materialized.
    pub fn rows(&self) -> Result<&[RecordBatch]> {
        self.rows.get().map(Vec::as_slice).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "table {} was sent to the cluster before it was computed",
                self.name
            ))
        })
    }
}

#[async_trait]
impl TableProvider for ShippedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Only reached when a plan runs on the client (e.g. `information_schema`).
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }
}

/// The rows the scheduler received, as a table it can plan.
pub fn received_table(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Arc<MemTable>> {
    Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
}
