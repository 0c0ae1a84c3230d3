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
use datafusion::arrow::array::{AsArray, BooleanArray};
use datafusion::arrow::compute::{BatchCoalescer, cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::Column;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    BinaryExpr, Expr, LogicalPlan, Operator, TableProviderFilterPushDown,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionContext, col, lit};
use futures::StreamExt;

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

/// Columns computed for every row in the same pass, for a caller that aggregates all events (the
/// report's activity rollup): `select` is a `SELECT ... FROM cloudtrail` with no filter or
/// aggregate; `sink` receives its columns, batch by batch, while the shared rows are kept.
pub struct AlongSide<'a> {
    pub select: &'a str,
    pub sink: &'a mut (dyn FnMut(RecordBatch) -> Result<()> + Send),
}

/// Replaces `cloudtrail` in `ctx` with the rows and columns `queries` read of it, read once, and
/// hands each of `along` its columns of every row in the same pass. Views are registered again
/// over the shared table (`reregister` does it), since a view keeps the table it was planned with.
/// Returns what was read, for progress and tests.
pub async fn share_cloudtrail_scan<F, Fut>(
    ctx: &SessionContext,
    queries: &[String],
    reregister: F,
    along: Vec<AlongSide<'_>>,
) -> Result<Needs>
where
    F: Fn(SessionContext) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Some(raw) = ctx.table_provider(TABLE).await.ok() else {
        return Ok(Needs::default());
    };
    let schema = raw.schema();
    // Planned while `cloudtrail` is still the archive.
    let mut sides = Vec::with_capacity(along.len());
    for side in along {
        let exprs = select_list(ctx, side.select).await?;
        sides.push((exprs, side.sink));
    }
    ctx.deregister_table(TABLE)?;
    ctx.register_table(TABLE, Arc::new(Probe(Arc::clone(&schema))))?;
    reregister(ctx.clone()).await?;
    let needs = plan_needs(ctx, &schema, queries).await;
    let kept_columns: Vec<String> = needs
        .columns
        .clone()
        .unwrap_or_else(|| schema.fields().iter().map(|f| f.name().clone()).collect());

    let frame = ctx.read_table(Arc::clone(&raw))?;
    let (shared_schema, partitions) = if sides.is_empty() {
        let mut frame = frame;
        if let Some(rows) = &needs.rows {
            frame = frame.filter(rows.clone())?;
        }
        let names: Vec<&str> = kept_columns.iter().map(String::as_str).collect();
        let frame = frame.select_columns(&names)?;
        let shared_schema = frame.schema().inner().clone();
        (shared_schema, frame.collect_partitioned().await?)
    } else {
        scan_with_sides(frame, sides, &kept_columns, needs.rows.clone()).await?
    };
    ctx.deregister_table(TABLE)?;
    ctx.register_table(
        TABLE,
        Arc::new(MemTable::try_new(shared_schema, partitions)?),
    )?;
    reregister(ctx.clone()).await?;
    Ok(needs)
}

/// Replaces table `name` in `ctx` with its rows read once into memory (for a small table that is
/// costly to answer, such as `log_files`, a listing). Views are not re-registered here: do it
/// after (share_cloudtrail_scan does).
pub async fn materialize(ctx: &SessionContext, name: &str) -> Result<()> {
    let Ok(provider) = ctx.table_provider(name).await else {
        return Ok(());
    };
    let frame = ctx.read_table(provider)?;
    let schema = frame.schema().inner().clone();
    let partitions = frame.collect_partitioned().await?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(MemTable::try_new(schema, partitions)?))?;
    Ok(())
}

/// The expressions of a `SELECT list FROM cloudtrail`, unqualified so they apply to any scan of it.
async fn select_list(ctx: &SessionContext, sql: &str) -> Result<Vec<Expr>> {
    match ctx.sql(sql).await?.into_unoptimized_plan() {
        LogicalPlan::Projection(p) => Ok(p.expr.into_iter().filter_map(unqualified).collect()),
        _ => Err(crate::Error::Runtime(format!(
            "a side query of the shared scan must be a plain SELECT list over cloudtrail: {sql}"
        ))),
    }
}

type Side<'a> = (
    Vec<Expr>,
    &'a mut (dyn FnMut(RecordBatch) -> Result<()> + Send),
);

/// One pass: every row's columns of each side go to its sink; the rows `keep` selects are kept,
/// with the `kept` columns, as the shared table's partitions.
async fn scan_with_sides(
    frame: datafusion::dataframe::DataFrame,
    sides: Vec<Side<'_>>,
    kept: &[String],
    keep: Option<Expr>,
) -> Result<(SchemaRef, Vec<Vec<RecordBatch>>)> {
    // Side columns may share names with kept ones (eventname) and with each other: they travel
    // under positional aliases and get their names back on the way to their sink.
    let mut exprs: Vec<Expr> = Vec::new();
    let mut names: Vec<Vec<String>> = Vec::new();
    let mut sinks = Vec::new();
    for (side, sink) in sides {
        names.push(
            side.iter()
                .map(|e| e.name_for_alias())
                .collect::<DfResult<_>>()?,
        );
        for e in side {
            let position = exprs.len();
            exprs.push(e.alias(format!("__trailscope_side_{position}")));
        }
        sinks.push(sink);
    }
    let side_len = exprs.len();
    exprs.extend(
        kept.iter()
            .map(|c| col(Column::new_unqualified(c.as_str()))),
    );
    exprs.push(keep.unwrap_or(lit(true)).alias(KEEP));
    let frame = frame.select(exprs)?;
    let all = frame.schema().inner().clone();
    let kept_indices: Vec<usize> = (side_len..side_len + kept.len()).collect();
    let shared_schema = Arc::new(arrow_ok(all.project(&kept_indices))?);
    // Each side's column positions and schema.
    let mut start = 0;
    let side_parts: Vec<(Vec<usize>, SchemaRef)> = names
        .iter()
        .map(|side_names| {
            let indices: Vec<usize> = (start..start + side_names.len()).collect();
            start += side_names.len();
            let fields: Vec<_> = indices
                .iter()
                .zip(side_names)
                .map(|(i, name)| all.field(*i).clone().with_name(name))
                .collect();
            (indices, Arc::new(Schema::new(fields)))
        })
        .collect();
    let mut stream = frame.execute_stream().await?;
    // Each decoded batch keeps a few rows at most (the catalog's 7,873 rows of a month came in
    // thousands of batches), and every plan over the shared table reads each batch's size for its
    // statistics: the kept rows go on in batches of a sensible size. Batches already that large
    // pass through uncopied (a query that reads every row).
    let mut rows = BatchCoalescer::new(Arc::clone(&shared_schema), KEPT_BATCH_ROWS)
        .with_biggest_coalesce_batch_size(Some(KEPT_BATCH_ROWS));
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        for ((indices, schema), sink) in side_parts.iter().zip(sinks.iter_mut()) {
            let columns = indices.iter().map(|i| Arc::clone(batch.column(*i)));
            sink(arrow_ok(RecordBatch::try_new(
                Arc::clone(schema),
                columns.collect(),
            ))?)?;
        }
        // NULL (a filter on a missing field) keeps nothing, as a WHERE would.
        let mask = match batch.column(side_len + kept.len()).as_boolean_opt() {
            Some(m) => m.clone(),
            None => BooleanArray::from(vec![false; batch.num_rows()]),
        };
        if mask.true_count() == 0 {
            continue;
        }
        let kept_rows = arrow_ok(filter_record_batch(
            &arrow_ok(batch.project(&kept_indices))?,
            &mask,
        ))?;
        if kept_rows.num_rows() > 0 {
            arrow_ok(rows.push_batch(kept_rows))?;
        }
    }
    arrow_ok(rows.finish_buffered_batch())?;
    let rows = std::iter::from_fn(|| rows.next_completed_batch()).collect();
    Ok((shared_schema, vec![rows]))
}

/// Rows per batch of the rows a pass keeps (DataFusion's default batch size).
pub const KEPT_BATCH_ROWS: usize = 8192;

const KEEP: &str = "__trailscope_keep";

/// `schema` with the named text columns dictionary-encoded, for rows a pass keeps: a value
/// repeated within a batch (a log file's name on each of its records, an event name, a user
/// agent) is then held once per batch.
pub fn with_dictionaries(schema: &Schema, names: &[&str]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if names.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8 {
                Field::new(
                    f.name(),
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    true,
                )
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// `batch` (the same columns as `schema`, in order) in `schema`'s types.
pub fn cast_to(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| arrow_ok(cast(c, f.data_type())))
        .collect::<Result<Vec<_>>>()?;
    arrow_ok(RecordBatch::try_new(Arc::clone(schema), columns))
}

/// ORs `exprs` as a balanced tree, depth log2(n) rather than n: the rows of hundreds of rules
/// (a Sigma pack) chained n deep overflow the stack of every recursive pass over the filter.
fn balanced_or(mut exprs: Vec<Expr>) -> Option<Expr> {
    while exprs.len() > 1 {
        let mut paired = Vec::with_capacity(exprs.len().div_ceil(2));
        let mut items = exprs.into_iter();
        while let Some(left) = items.next() {
            paired.push(match items.next() {
                Some(right) => left.or(right),
                None => left,
            });
        }
        exprs = paired;
    }
    exprs.pop()
}

/// The rows of `row_sets` (ORed), led by what they all require of `eventname` when each does.
///
/// Most controls name the events they read. Then `eventname IN (every name) AND (row sets)` keeps
/// the same rows, and the engine evaluates the row sets, dozens of comparisons and JSON lookups,
/// only on the few rows the one hashed IN lets through (DataFusion evaluates the right side of an
/// AND on the rows its left side selects, when it selects few), instead of on every event.
fn prefiltered(row_sets: Vec<Expr>) -> Option<Expr> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut others: Vec<Expr> = Vec::new();
    for set in &row_sets {
        // A conjunct over eventname alone is implied by the set's rows.
        let Some(required) = split_conjunction(set)
            .into_iter()
            .find(|c| on_eventname_only(c))
        else {
            return balanced_or(row_sets);
        };
        for atom in split_disjunction(required) {
            match named_events(atom) {
                Some(found) => names.extend(found),
                None if !others.contains(atom) => others.push(atom.clone()),
                None => {}
            }
        }
    }
    let mut lead = Vec::with_capacity(others.len() + 1);
    if !names.is_empty() {
        lead.push(col(EVENTNAME).in_list(names.into_iter().map(lit).collect(), false));
    }
    lead.extend(others);
    Some(balanced_or(lead)?.and(balanced_or(row_sets)?))
}

const EVENTNAME: &str = "eventname";

fn on_eventname_only(e: &Expr) -> bool {
    let columns = e.column_refs();
    !columns.is_empty() && columns.iter().all(|c| c.name == EVENTNAME) && !e.is_volatile()
}

fn split_disjunction(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut out = split_disjunction(left);
            out.extend(split_disjunction(right));
            out
        }
        Expr::Alias(a) => split_disjunction(&a.expr),
        other => vec![other],
    }
}

/// The event names `atom` (`eventname = 'X'` or `eventname IN ('X', ...)`) accepts.
fn named_events(atom: &Expr) -> Option<Vec<String>> {
    let text = |e: &Expr| match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)), _) => Some(s.clone()),
        _ => None,
    };
    let is_eventname = |e: &Expr| matches!(e, Expr::Column(c) if c.name == EVENTNAME);
    match atom {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) if is_eventname(left) => Some(vec![text(right)?]),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) if is_eventname(right) => Some(vec![text(left)?]),
        Expr::InList(list) if !list.negated && is_eventname(&list.expr) => {
            list.list.iter().map(text).collect()
        }
        _ => None,
    }
}

fn arrow_ok<T>(result: std::result::Result<T, datafusion::arrow::error::ArrowError>) -> Result<T> {
    result.map_err(|e| DataFusionError::from(e).into())
}

/// Plans each query (substituted SQL) against the stand-in and unions what its scans read.
async fn plan_needs(ctx: &SessionContext, schema: &SchemaRef, queries: &[String]) -> Needs {
    let mut columns: BTreeSet<usize> = BTreeSet::new();
    let mut every_column = false;
    let mut row_sets: Vec<Expr> = Vec::new();
    let mut every_row = false;
    let mut planned = 0;
    // One pass of the optimizer places every filter and projection it can push into the scans
    // (decorrelation runs before filter pushdown within a pass); the further passes only confirm
    // the plan stays the same, and took half of the planning before the scan starts. A filter
    // that a later pass would have pushed deeper only widens the shared rows.
    let ctx = &super::with_options(ctx, |o| o.optimizer.max_passes = 1);
    // Planning is most of the time before the scan starts: the queries are planned on every core.
    let planned_scans = super::on_every_core(queries, |sql| {
        let (ctx, sql) = (ctx.clone(), sql.clone());
        async move { scans_of(&ctx, &sql).await }
    })
    .await;
    for scans in planned_scans {
        // A task that failed planned nothing we can see into.
        let Some(scans) = scans.ok().flatten() else {
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
        Some(prefiltered(row_sets).unwrap_or(lit(false)))
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
    unqualified(filter)
}

/// `expr` with its columns' table qualifiers dropped.
pub(crate) fn unqualified(expr: Expr) -> Option<Expr> {
    expr.transform_up(|e| match e {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Expr {
        col(EVENTNAME).eq(lit(name))
    }

    #[test]
    fn the_event_names_every_row_set_requires_lead_the_predicate() {
        let stop = named("StopLogging").and(col("errorcode").is_null());
        let trails = named("CreateTrail")
            .or(named("UpdateTrail"))
            .and(col("eventsource").eq(lit("cloudtrail.amazonaws.com")));
        let deletes = col("errorcode").is_null().and(
            col(EVENTNAME)
                .in_list(vec![lit("DeleteBucket"), lit("StopLogging")], false)
                .or(col(EVENTNAME).like(lit("DeleteFunction%"))),
        );
        let sets = vec![stop, trails, deletes];
        let lead = col(EVENTNAME)
            .in_list(
                ["CreateTrail", "DeleteBucket", "StopLogging", "UpdateTrail"]
                    .map(lit)
                    .to_vec(),
                false,
            )
            .or(col(EVENTNAME).like(lit("DeleteFunction%")));
        assert_eq!(
            prefiltered(sets.clone()),
            Some(lead.and(balanced_or(sets.clone()).unwrap()))
        );

        // One row set that reads any event: no lead, the row sets as they are.
        let mut any = sets.clone();
        any.push(col("errorcode").eq(lit("AccessDenied")));
        assert_eq!(prefiltered(any.clone()), balanced_or(any));
    }

    #[tokio::test]
    async fn kept_rows_of_many_small_batches_are_held_in_few() -> Result<()> {
        use datafusion::arrow::array::{Int64Array, StringArray};
        let schema = Arc::new(Schema::new(vec![
            Field::new(EVENTNAME, DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        // 500 batches of two events, one of each kept.
        let batches = (0..500)
            .map(|i| {
                let names = StringArray::from(vec!["Kept", "Dropped"]);
                let numbers = Int64Array::from(vec![2 * i, 2 * i + 1]);
                arrow_ok(RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(names), Arc::new(numbers)],
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let ctx = SessionContext::new();
        let frame = ctx.read_table(Arc::new(MemTable::try_new(schema, vec![batches])?))?;
        let (mut side_batches, mut side_rows) = (0, 0);
        let mut sink = |b: RecordBatch| {
            side_batches += 1;
            side_rows += b.num_rows();
            Ok(())
        };
        let sides: Vec<Side<'_>> = vec![(vec![col("n")], &mut sink)];
        let keep = Some(named("Kept"));
        let (_, partitions) = scan_with_sides(frame, sides, &["n".to_string()], keep).await?;

        // The side saw every row, in the small batches they came in...
        assert_eq!(side_rows, 1000);
        assert!(side_batches > 1, "the scan delivered {side_batches} batch");
        // ...and the 500 kept rows are held in one batch, in order.
        assert_eq!(partitions.len(), 1);
        assert_eq!(partitions[0].len(), 1, "kept rows not coalesced");
        let kept = partitions[0][0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let evens: Vec<i64> = (0..500).map(|i| 2 * i).collect();
        assert_eq!(kept.values().to_vec(), evens);
        Ok(())
    }
}
