//! One scan of `cloudtrail` shared by many queries (the controls of `check` and `report`).
//!
//! Each event control reads the archive on its own; twenty of them over a month would decode the
//! month twenty times. Instead we plan every query first against a stand-in `cloudtrail` that
//! accepts every filter, so DataFusion's optimizer pushes each query's row filters and column
//! projection down to its table scans. The union of those (an OR of each scan's conjunction of
//! filters, and every column any scan reads) is then read once into memory and registered as
//! `cloudtrail`. Each query still applies its own filters to the shared rows, so its answer is
//! the same as over the archive; only the decoding is shared.
//!
//! Memory holds only the rows and columns the queries can look at (for the catalog: a few
//! event names, errors and console logins). A query that reads every row, or one that does not
//! plan, makes the shared table the whole scope: correct, just not smaller.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Column;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::utils::{conjunction, disjunction};
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionContext, lit};

use super::statements;
use crate::error::Result;

const TABLE: &str = "cloudtrail";

/// What the planned queries read of `cloudtrail`.
#[derive(Debug, Default)]
pub struct Needs {
    /// Column names, in table order; `None`: every column.
    pub columns: Option<Vec<String>>,
    /// The rows: `None`: every row in scope.
    pub rows: Option<Expr>,
    /// Queries planned.
    pub queries: usize,
}

/// Replaces `cloudtrail` in `ctx` with the rows and columns `queries` read of it, read once.
/// Views are registered again over the shared table (`reregister` does it), since a view keeps the
/// table it was planned with. Returns what was read, for progress and tests.
pub async fn share_cloudtrail_scan<F, Fut>(
    ctx: &SessionContext,
    queries: &[String],
    reregister: F,
) -> Result<Needs>
where
    F: Fn(SessionContext) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Some(raw) = ctx.table_provider(TABLE).await.ok() else {
        return Ok(Needs::default());
    };
    let schema = raw.schema();
    ctx.deregister_table(TABLE)?;
    ctx.register_table(TABLE, Arc::new(Probe(Arc::clone(&schema))))?;
    reregister(ctx.clone()).await?;
    let needs = plan_needs(ctx, &schema, queries).await;

    let mut frame = ctx.read_table(Arc::clone(&raw))?;
    if let Some(rows) = &needs.rows {
        frame = frame.filter(rows.clone())?;
    }
    if let Some(columns) = &needs.columns {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        frame = frame.select_columns(&names)?;
    }
    let shared_schema = frame.schema().inner().clone();
    let partitions = frame.collect_partitioned().await?;
    ctx.deregister_table(TABLE)?;
    ctx.register_table(
        TABLE,
        Arc::new(MemTable::try_new(shared_schema, partitions)?),
    )?;
    reregister(ctx.clone()).await?;
    Ok(needs)
}

/// Plans each query (substituted SQL) against the stand-in and unions what its scans read.
async fn plan_needs(ctx: &SessionContext, schema: &SchemaRef, queries: &[String]) -> Needs {
    let mut columns: BTreeSet<usize> = BTreeSet::new();
    let mut every_column = false;
    let mut row_sets: Vec<Expr> = Vec::new();
    let mut every_row = false;
    let mut planned = 0;
    for sql in queries {
        let Some(scans) = scans_of(ctx, sql).await else {
            // A query we cannot see into may read anything.
            return Needs {
                queries: planned,
                ..Needs::default()
            };
        };
        planned += 1;
        for scan in scans {
            match scan.projection {
                Some(p) => columns.extend(p),
                None => every_column = true,
            }
            match conjunction(scan.filters.into_iter().filter_map(standalone)) {
                // A control often scans with the same filters more than once (CTEs, unions).
                Some(rows) if !row_sets.contains(&rows) => row_sets.push(rows),
                Some(_) => {}
                None => every_row = true,
            }
        }
    }
    let columns = (!every_column).then(|| {
        columns
            .into_iter()
            .map(|i| schema.field(i).name().clone())
            .collect()
    });
    let rows = if every_row {
        None
    } else {
        // No scan at all: nothing is read, so no row is needed.
        Some(disjunction(row_sets).unwrap_or(lit(false)))
    };
    Needs {
        columns,
        rows,
        queries: planned,
    }
}

struct Scan {
    projection: Option<Vec<usize>>,
    filters: Vec<Expr>,
}

/// The `cloudtrail` scans of one query's optimized plan (subqueries included), or `None` when the
/// query does not plan.
async fn scans_of(ctx: &SessionContext, sql: &str) -> Option<Vec<Scan>> {
    let state = ctx.state();
    let mut scans = Vec::new();
    for statement in statements::parse_checked(sql, None).ok()? {
        let plan = state.statement_to_plan(statement).await.ok()?;
        let plan = state.optimize(&plan).ok()?;
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && scan.table_name.table() == TABLE
            {
                scans.push(Scan {
                    projection: scan.projection.clone(),
                    filters: scan.filters.clone(),
                });
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .ok()?;
    }
    Some(scans)
}

/// A pushed-down filter made to stand on its own over `cloudtrail`: qualifiers dropped (the scan
/// may be aliased). A filter that depends on anything outside the row (a subquery, an outer
/// column) is dropped, which only widens the shared rows.
fn standalone(filter: Expr) -> Option<Expr> {
    let outside = filter
        .exists(|e| {
            Ok(matches!(
                e,
                Expr::ScalarSubquery(_)
                    | Expr::Exists(_)
                    | Expr::InSubquery(_)
                    | Expr::OuterReferenceColumn(..)
                    | Expr::Placeholder(_)
            ))
        })
        .unwrap_or(true);
    if outside || filter.is_volatile() {
        return None;
    }
    filter
        .transform_up(|e| match e {
            Expr::Column(c) if c.relation.is_some() => Ok(Transformed::yes(Expr::Column(
                Column::new_unqualified(c.name),
            ))),
            other => Ok(Transformed::no(other)),
        })
        .ok()
        .map(|t| t.data)
}

/// A stand-in `cloudtrail` for planning only: it takes every filter (inexactly, so queries keep
/// their own `Filter`), which makes the optimizer record them on the scan.
#[derive(Debug)]
struct Probe(SchemaRef);

#[async_trait]
impl TableProvider for Probe {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.0)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Internal(
            "the planning stand-in for cloudtrail was executed".into(),
        ))
    }
}
