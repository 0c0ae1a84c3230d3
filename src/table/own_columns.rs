//! Short-circuiting expressions evaluated on their own columns only.
//!
//! DataFusion 55 evaluates `a AND b` (and `OR`, and `CASE`) by evaluating `b` only on the rows
//! `a` leaves undecided when they are few: it filters the whole input batch to those rows, then
//! evaluates `b` on the copy. The input of a projection over our scan is wide (the report's one
//! pass reads some forty columns, request parameters and response elements among them), so each
//! selective `AND` of a detection rule copied every column of a fifth of the batch to compare one
//! or two: about 8% of the report's scan in a profile.
//!
//! This physical optimizer rule wraps each such expression of a projection or a filter in
//! [`OnOwnColumns`], which hands it a batch of only the columns it reads (the same arrays, no
//! copy), so its filtering copies those alone. The rule only wraps expressions made of the plain
//! kinds listed in [`plain`]; anything else (a dynamic filter a join updates as it runs, say) is
//! left as it is. Answers do not change: the wrapped expression is the same expression over the
//! same values.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, LikeExpr,
    Literal, NegativeExpr, NotExpr, TryCastExpr,
};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct OwnColumns;

impl PhysicalOptimizerRule for OwnColumns {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        super::rewrite_nodes(plan, rewrite)
    }

    fn name(&self) -> &str {
        "OwnColumns"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `node` with the expressions of a projection or a filter on their own columns, when any is.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
        return own_projection(projection);
    }
    match node.downcast_ref::<FilterExec>() {
        Some(filter) => own_filter(filter),
        None => Ok(None),
    }
}

fn own_projection(projection: &ProjectionExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let input = projection.input();
    let schema = input.schema();
    let mut changed = false;
    let exprs: Vec<ProjectionExpr> = projection
        .expr()
        .iter()
        .map(|p| {
            let expr = on_own_columns(&p.expr, &schema, true)?;
            changed |= !Arc::ptr_eq(&expr, &p.expr);
            Ok(ProjectionExpr {
                expr,
                alias: p.alias.clone(),
            })
        })
        .collect::<Result<_>>()?;
    if !changed {
        return Ok(None);
    }
    let rebuilt = ProjectionExec::try_new_with_schema_metadata(
        exprs,
        Arc::clone(input),
        &projection.schema(),
    )?;
    Ok(Some(Arc::new(rebuilt)))
}

fn own_filter(filter: &FilterExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let predicate = on_own_columns(filter.predicate(), &filter.input().schema(), true)?;
    if Arc::ptr_eq(&predicate, filter.predicate()) {
        return Ok(None);
    }
    let rebuilt = FilterExecBuilder::from(filter)
        .with_predicate(predicate)
        .build()?;
    Ok(Some(Arc::new(rebuilt)))
}

/// `expr` over `schema` with each short-circuiting part that reads fewer columns than `schema`
/// has wrapped in [`OnOwnColumns`] (outermost first; the parts inside get their own, narrower,
/// batch in turn). `shown`: `expr` is part of the plan as displayed, not inside a wrapper.
/// Returns `expr` itself when nothing is wrapped.
fn on_own_columns(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &SchemaRef,
    shown: bool,
) -> Result<Arc<dyn PhysicalExpr>> {
    if !plain(expr) {
        return Ok(Arc::clone(expr));
    }
    if short_circuits(expr) {
        let mut columns: Vec<usize> = collect_columns(expr).iter().map(Column::index).collect();
        columns.sort_unstable();
        columns.dedup();
        if columns.len() < schema.fields().len() {
            return OnOwnColumns::wrap(Arc::clone(expr), columns, schema);
        }
    }
    // Below an operator the wrapper would show without the parentheses DataFusion prints around
    // a lower-precedence operand: the plan would read differently, so it stops here.
    if shown && expr.downcast_ref::<BinaryExpr>().is_some() {
        return Ok(Arc::clone(expr));
    }
    let children = expr.children();
    let mut changed = false;
    let mut new_children = Vec::with_capacity(children.len());
    for child in children {
        let new = on_own_columns(child, schema, shown)?;
        changed |= !Arc::ptr_eq(&new, child);
        new_children.push(new);
    }
    if !changed {
        return Ok(Arc::clone(expr));
    }
    Arc::clone(expr).with_new_children(new_children)
}

/// Whether DataFusion may evaluate part of `expr` on a filtered copy of its input.
fn short_circuits(expr: &Arc<dyn PhysicalExpr>) -> bool {
    if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        return matches!(binary.op(), Operator::And | Operator::Or);
    }
    expr.downcast_ref::<CaseExpr>().is_some()
}

/// Whether every node of `expr` is of a kind whose evaluation reads nothing but its input batch
/// and that rebuilds faithfully from new children.
fn plain(expr: &Arc<dyn PhysicalExpr>) -> bool {
    let mut plain = true;
    // The closure never fails.
    let _ = expr.apply(|e| {
        let known = e.downcast_ref::<Column>().is_some()
            || e.downcast_ref::<Literal>().is_some()
            || e.downcast_ref::<BinaryExpr>().is_some()
            || e.downcast_ref::<CaseExpr>().is_some()
            || e.downcast_ref::<NotExpr>().is_some()
            || e.downcast_ref::<IsNullExpr>().is_some()
            || e.downcast_ref::<IsNotNullExpr>().is_some()
            || e.downcast_ref::<InListExpr>().is_some()
            || e.downcast_ref::<LikeExpr>().is_some()
            || e.downcast_ref::<CastExpr>().is_some()
            || e.downcast_ref::<TryCastExpr>().is_some()
            || e.downcast_ref::<NegativeExpr>().is_some()
            || e.downcast_ref::<ScalarFunctionExpr>().is_some()
            || e.downcast_ref::<OnOwnColumns>().is_some();
        plain &= known;
        Ok(match known {
            true => TreeNodeRecursion::Continue,
            false => TreeNodeRecursion::Stop,
        })
    });
    plain
}

/// An expression evaluated on a batch of only the columns it reads. It shows, compares and
/// rewrites as the expression it wraps (its one child), so other rules and `EXPLAIN` see the
/// plan as it was; a rewrite of that child drops the wrapper.
#[derive(Debug)]
pub struct OnOwnColumns {
    /// The expression over the input's columns.
    original: Arc<dyn PhysicalExpr>,
    /// The same expression with its columns numbered over `columns`.
    narrowed: Arc<dyn PhysicalExpr>,
    /// The input positions of the columns it reads, ascending.
    columns: Vec<usize>,
}

impl OnOwnColumns {
    fn wrap(
        original: Arc<dyn PhysicalExpr>,
        columns: Vec<usize>,
        input: &SchemaRef,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|&i| input.field(i).clone())
                .collect::<Vec<_>>(),
        ));
        let renumbered = Arc::clone(&original)
            .transform_up(|e| {
                let Some(column) = e.downcast_ref::<Column>() else {
                    return Ok(Transformed::no(e));
                };
                // Present: `columns` was collected from this expression.
                let position = columns.binary_search(&column.index()).unwrap_or_default();
                Ok(Transformed::yes(
                    Arc::new(Column::new(column.name(), position)) as Arc<dyn PhysicalExpr>,
                ))
            })?
            .data;
        // Parts inside that read fewer columns still get a narrower batch of their own.
        let mut inner = Vec::new();
        for child in renumbered.children() {
            inner.push(on_own_columns(child, &schema, false)?);
        }
        let narrowed = match inner.is_empty() {
            true => renumbered,
            false => renumbered.with_new_children(inner)?,
        };
        Ok(Arc::new(OnOwnColumns {
            original,
            narrowed,
            columns,
        }))
    }
}

impl PartialEq for OnOwnColumns {
    fn eq(&self, other: &Self) -> bool {
        self.original.eq(&other.original)
    }
}

impl Eq for OnOwnColumns {}

impl Hash for OnOwnColumns {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.original.hash(state);
    }
}

impl fmt::Display for OnOwnColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.original.fmt(f)
    }
}

impl PhysicalExpr for OnOwnColumns {
    fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
        self.original.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.original.nullable(input_schema)
    }

    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.original.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        // Fields from the batch itself, which an operator may emit a little unlike the plan's
        // schema (a column declared non-null holding nulls): what the batch holds, it can hold.
        let input = batch.schema_ref();
        let fields: Vec<FieldRef> = self
            .columns
            .iter()
            .map(|&i| Arc::clone(&input.fields()[i]))
            .collect();
        let columns = self
            .columns
            .iter()
            .map(|&i| Arc::clone(batch.column(i)))
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let own =
            RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)?;
        self.narrowed.evaluate(&own)
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.original]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        // Its columns may be numbered over another input now: the plain expression is right.
        match children.into_iter().next() {
            Some(child) => Ok(child),
            None => Ok(self),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.original.fmt_sql(f)
    }
}

#[cfg(test)]
mod tests;
