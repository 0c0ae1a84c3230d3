//! `cloudtrail` read on a cluster by a local session: the scan (listing cut by the query's
//! filters, fetching, decoding, the filters themselves) runs on the executors, and only the rows
//! and columns the query asked for come back. `check`, `report` and `detect` then run their
//! shared scan through it and everything after it (controls, rules, the report) here, where the
//! snapshot and the other tables already are.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt, stream};

use super::ClusterSession;
use crate::archive::ScanStats;

/// The hashes of the raw log files the cluster read, made there (see [`super::readings`]).
pub struct ClusterReadings(pub Arc<ClusterSession>);

impl fmt::Debug for ClusterReadings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterReadings")
    }
}

#[async_trait]
impl crate::archive::ReadingsElsewhere for ClusterReadings {
    async fn fill(&self, readings: &crate::archive::Readings) -> crate::Result<usize> {
        self.0.fill_readings(readings).await
    }
}

/// The cluster's `cloudtrail`, as a table of a local session.
pub struct RemoteCloudTrail {
    cluster: Arc<ClusterSession>,
    schema: SchemaRef,
}

impl fmt::Debug for RemoteCloudTrail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RemoteCloudTrail")
    }
}

impl RemoteCloudTrail {
    pub async fn new(cluster: Arc<ClusterSession>) -> crate::Result<RemoteCloudTrail> {
        let schema = cluster.remote.table_provider("cloudtrail").await?.schema();
        Ok(RemoteCloudTrail { cluster, schema })
    }
}

#[async_trait]
impl TableProvider for RemoteCloudTrail {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every filter is applied on the cluster; DataFusion applies them again here.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        Ok(Arc::new(ClusterScanExec {
            cluster: Arc::clone(&self.cluster),
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            filter: conjunction(filters.iter().cloned()),
            limit,
            properties: super::one_task(schema, EmissionType::Incremental),
        }))
    }
}

/// The rows of a scan of the cluster's `cloudtrail`, as they come back from it.
struct ClusterScanExec {
    cluster: Arc<ClusterSession>,
    columns: Vec<String>,
    filter: Option<Expr>,
    limit: Option<usize>,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for ClusterScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterScanExec")
    }
}

impl DisplayAs for ClusterScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ClusterScanExec: columns={}", self.columns.len())?;
        if let Some(filter) = &self.filter {
            write!(f, ", filter={filter}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for ClusterScanExec {
    fn name(&self) -> &str {
        "ClusterScanExec"
    }

    crate::table::scan::leaf_plan_methods!();

    /// Sends the scan as a job, and streams its rows. A job fails before any row comes back,
    /// so the objects it could not read are filed and the job sent again without them, as for
    /// a statement (`ClusterSession::run_filing_unreadable`).
    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.properties.eq_properties.schema().clone();
        let cluster = Arc::clone(&self.cluster);
        let (columns, filter, limit) = (self.columns.clone(), self.filter.clone(), self.limit);
        let rows = stream::once(async move {
            let (first, rest) = cluster
                .run_filing_unreadable(|| {
                    let (remote, columns, filter) =
                        (cluster.remote.clone(), columns.clone(), filter.clone());
                    async move {
                        let mut frame = remote.table("cloudtrail").await?;
                        if let Some(filter) = filter {
                            frame = frame.filter(filter)?;
                        }
                        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
                        frame = frame.select_columns(&names)?;
                        if let Some(limit) = limit {
                            frame = frame.limit(0, Some(limit))?;
                        }
                        let mut rows = frame.execute_stream().await?;
                        let first = rows.next().await.transpose()?;
                        Ok((first, rows))
                    }
                })
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            Ok::<_, DataFusionError>(stream::iter(first.map(Ok)).chain(rest))
        })
        .try_flatten();
        // Unfiltered, the rows that come back are the records the executors decoded: counted
        // here, where a local scan would have counted them (the "on N events" of `detect`).
        let counted = (self.filter.is_none() && self.limit.is_none())
            .then(|| Arc::clone(&self.cluster.source.stats));
        let rows = rows.inspect_ok(move |batch| {
            if let Some(stats) = &counted {
                ScanStats::add(&stats.records, batch.num_rows() as u64);
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
    }
}
