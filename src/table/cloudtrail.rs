//! The `cloudtrail` table: one row per record, read from the archive where it lies, or from
//! its lake plus the raw objects the lake does not hold ([`LakeScan`]). One provider for both,
//! so a session has one `cloudtrail` whatever it reads.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::col;

use super::dialect_columns::{self, PartitionNames};
use super::filters::PruningColumns;
use super::lake::LakeScan;
use super::scan::{CloudTrailExec, RawScan};
use super::{ArchiveSource, TableSource};
use crate::archive::{ObjectEntry, ObjectKind, Scope, list_objects};
use crate::decode::schema::{ACCOUNT_ID, REGION};

pub const PRUNING: PruningColumns = PruningColumns {
    time: "eventtime",
    account: ACCOUNT_ID,
    region: REGION,
    key_partitions: true,
};

#[derive(Debug)]
pub struct CloudTrailTable {
    source: ArchiveSource,
    lake: Option<LakeScan>,
    partition_names: PartitionNames,
    schema: SchemaRef,
}

impl CloudTrailTable {
    pub fn new(source: &TableSource) -> Self {
        CloudTrailTable {
            source: source.archive.clone(),
            lake: source
                .lake
                .as_ref()
                .map(|lake| LakeScan::new(source.archive.clone(), Arc::clone(lake))),
            partition_names: source.partition_names.clone(),
            schema: dialect_columns::table_schema_with(&source.partition_names.0),
        }
    }

    /// Filters with the user's partition names spelled as ours, which the listing knows.
    fn canonical(&self, filters: &[Expr]) -> Vec<Expr> {
        if self.partition_names.0.is_empty() {
            return filters.to_vec();
        }
        filters
            .iter()
            .map(|f| {
                f.clone()
                    .transform(|e| match &e {
                        Expr::Column(c) => match self.partition_names.canonical(&c.name) {
                            Some(ours) => Ok(Transformed::yes(col(ours))),
                            None => Ok(Transformed::no(e)),
                        },
                        _ => Ok(Transformed::no(e)),
                    })
                    .map_or_else(|_| f.clone(), |t| t.data)
            })
            .collect()
    }
}

#[async_trait]
impl TableProvider for CloudTrailTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// The raw scan prunes its listing with filters on time, account and region; a lake's
    /// Parquet scan prunes with any filter. DataFusion re-applies them all either way.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(match self.lake {
            Some(_) => vec![TableProviderFilterPushDown::Inexact; filters.len()],
            None => {
                let filters: Vec<Expr> = filters.iter().map(|f| (*f).clone()).collect();
                let canonical = self.canonical(&filters);
                PRUNING.pushdown(&canonical.iter().collect::<Vec<_>>())
            }
        })
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filters = &self.canonical(filters);
        let names = &self.partition_names;
        dialect_columns::scan_with_dialect_columns(state, names, projection, |decoded| async move {
            let projection = Some(&decoded.columns);
            if let Some(lake) = &self.lake {
                if decoded.record_json {
                    return Err(dialect_columns::no_record_json_in_lake());
                }
                return lake.plan(state, projection, filters, limit).await;
            }
            let scope = self.source.scope.intersect(&PRUNING.scope(filters));
            let objects = list_for_scan(&self.source, &scope).await?;
            Ok(raw_scan(
                state,
                &self.source,
                RawScan {
                    objects,
                    scope: &scope,
                    projection,
                    record_json: decoded.record_json,
                    limit,
                },
            ))
        })
        .await
    }
}

/// The scan of raw objects, spread over the session's partitions.
pub(crate) fn raw_scan(
    state: &dyn Session,
    source: &ArchiveSource,
    scan: RawScan<'_>,
) -> Arc<dyn ExecutionPlan> {
    Arc::new(CloudTrailExec::new(
        source.clone(),
        scan,
        state.config().target_partitions().max(1),
        state.config().batch_size(),
    ))
}

/// Lists the log objects a scan of `scope` needs, counting the cost and recording what looks
/// like ours but cannot be (a failure under `--strict`).
pub(crate) async fn list_for_scan(
    source: &ArchiveSource,
    scope: &Scope,
) -> Result<Vec<ObjectEntry>> {
    let listing = list_objects(&source.location, ObjectKind::Log, scope).await?;
    record_listing(source, &listing)?;
    Ok(listing.objects)
}

/// Counts what a listing for a scan cost and found, and records what looks like ours but cannot
/// be (a failure under `--strict`).
pub(crate) fn record_listing(
    source: &ArchiveSource,
    listing: &crate::archive::Listing,
) -> crate::Result<()> {
    let stats = &source.stats;
    super::ScanStats::add(&stats.list_requests, listing.list_requests as u64);
    super::ScanStats::add(&stats.objects_planned, listing.objects.len() as u64);
    source.report_skipped(&listing.skipped)
}
