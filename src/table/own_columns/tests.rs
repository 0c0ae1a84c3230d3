use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::MemTable;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::SessionContext;

use super::{OnOwnColumns, OwnColumns};

/// A table wider than the expressions read, where `k = 'a'` holds on one row in ten: few enough
/// that DataFusion evaluates the right side of an `AND` on a filtered copy of its input.
fn wide_table() -> MemTable {
    let rows = 200;
    let mut fields = vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
    ];
    let k: Vec<Option<String>> = (0..rows)
        .map(|i| match i % 10 {
            0 => Some("a".to_string()),
            7 => None,
            _ => Some(format!("b{i}")),
        })
        .collect();
    let n: Vec<Option<i64>> = (0..rows).map(|i| (i % 3 != 0).then_some(i)).collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(k)),
        Arc::new(Int64Array::from(n)),
    ];
    for w in 0..6 {
        fields.push(Field::new(format!("w{w}"), DataType::Utf8, true));
        let text: Vec<Option<String>> = (0..rows)
            .map(|i| (i % 4 != w % 4).then(|| format!("x{w}-{i}-{}", "y".repeat(i as usize % 7))))
            .collect();
        columns.push(Arc::new(StringArray::from(text)));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    MemTable::try_new(schema, vec![vec![batch]]).unwrap()
}

fn session(with_rule: bool) -> SessionContext {
    let rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> = match with_rule {
        true => vec![Arc::new(OwnColumns)],
        false => Vec::new(),
    };
    let ctx = crate::table::session_with(rules).unwrap();
    ctx.register_table("t", Arc::new(wide_table())).unwrap();
    ctx
}

/// For each wrapped expression in `plan`: how many columns it reads, and its input's width.
fn wrapped(plan: &Arc<dyn ExecutionPlan>) -> Vec<(usize, usize)> {
    let mut exprs = Vec::new();
    if let Some(p) = plan.downcast_ref::<ProjectionExec>() {
        exprs.extend(p.expr().iter().map(|e| Arc::clone(&e.expr)));
    }
    if let Some(f) = plan.downcast_ref::<FilterExec>() {
        exprs.push(Arc::clone(f.predicate()));
    }
    let width = plan
        .children()
        .first()
        .map_or(0, |c| c.schema().fields().len());
    let mut found = Vec::new();
    for e in &exprs {
        e.apply(|part| {
            if let Some(own) = part.downcast_ref::<OnOwnColumns>() {
                found.push((own.columns.len(), width));
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
    }
    for child in plan.children() {
        found.extend(wrapped(child));
    }
    found
}

async fn answer(ctx: &SessionContext, sql: &str) -> (String, Arc<dyn ExecutionPlan>) {
    let frame = ctx.sql(sql).await.unwrap();
    let plan = frame.clone().create_physical_plan().await.unwrap();
    let batches = frame.collect().await.unwrap();
    (pretty_format_batches(&batches).unwrap().to_string(), plan)
}

fn shown(plan: &Arc<dyn ExecutionPlan>) -> String {
    datafusion::physical_plan::displayable(plan.as_ref())
        .indent(false)
        .to_string()
}

#[tokio::test]
async fn short_circuits_read_only_their_columns_and_answer_the_same() {
    let queries = [
        "SELECT k = 'a' AND n > 2 AS both_hold, k = 'a' OR n IS NULL AS either, \
         CASE WHEN k = 'a' THEN w1 ELSE w2 END AS picked, \
         k = 'a' AND (n > 1 AND w3 LIKE 'x3%y') AS nested, \
         NOT (k = 'a' AND w4 IN ('x4-10-yyy', 'x4-20-yyyyyy')) AS negated, \
         w5 FROM t",
        "SELECT k, n, w0, w1 FROM t WHERE k = 'a' AND (n > 5 OR w0 LIKE '%yy')",
    ];
    let (plain, with_rule) = (session(false), session(true));
    for sql in queries {
        let (expected, plain_plan) = answer(&plain, sql).await;
        let (got, plan) = answer(&with_rule, sql).await;
        assert_eq!(got, expected, "{sql}");
        assert!(wrapped(&plain_plan).is_empty());
        let found = wrapped(&plan);
        assert!(!found.is_empty(), "nothing wrapped in {sql}");
        assert!(found.iter().all(|(own, width)| own < width), "{found:?}");
        // The plan reads as it did.
        assert_eq!(shown(&plan), shown(&plain_plan));
    }
}
