//! Partial aggregates moved below a union, into each branch (a scheduler rule).
//!
//! Ballista 55 runs a stage with a union as one task per union partition and restricts each
//! task's plan to its partition. A branch that cannot be restricted away (our raw scan is one)
//! is cut into a stage of its own, and read back through a shuffle. When the operator above the
//! union needs its input sorted, as a partial aggregate with `array_agg(x ORDER BY t)` does,
//! Ballista then puts a sort over each shuffle read. That sort declares that it reads its input
//! whole, so the restriction leaves every branch at full size in every task: each task of the
//! stage reads every branch, and the answer counts each row once per branch (seen: a control's
//! StopLogging event listed twice).
//!
//! A partial aggregate works on each partition alone, so over a union it is the union of the
//! partial aggregates of its branches: the same rows. Below the union, nothing above it needs an
//! order, so Ballista adds no sort there. The branches' stages also ship partial states instead
//! of every row.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, replace_children_if_necessary};

#[derive(Debug, Default)]
pub(crate) struct PartialAggregatesIntoUnionBranches;

impl PhysicalOptimizerRule for PartialAggregatesIntoUnionBranches {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        crate::table::rewrite_nodes(plan, |node| {
            let partial = node
                .downcast_ref::<AggregateExec>()
                .is_some_and(|a| *a.mode() == AggregateMode::Partial);
            if !partial {
                return Ok(None);
            }
            // The aggregate and the operators between it and a union that work on each
            // partition alone (a sort is put there for an ordered aggregate).
            let mut chain = vec![Arc::clone(node)];
            let mut below = Arc::clone(node.children()[0]);
            while works_per_partition(&below) {
                chain.push(Arc::clone(&below));
                below = Arc::clone(below.children()[0]);
            }
            if !below.is::<UnionExec>() {
                return Ok(None);
            }
            let branches = below
                .children()
                .into_iter()
                .map(|branch| {
                    chain
                        .iter()
                        .rev()
                        .try_fold(Arc::clone(branch), |input, op| {
                            replace_children_if_necessary(Arc::clone(op), vec![input])
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(UnionExec::try_new(branches)?))
        })
    }

    fn name(&self) -> &str {
        "partial_aggregates_into_union_branches"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether each output partition of `plan` is made from the same input partition alone, so
/// over a union it is the union of it over each branch.
fn works_per_partition(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.downcast_ref::<SortExec>()
        .is_some_and(|sort| sort.preserve_partitioning())
        || plan.is::<ProjectionExec>()
        || plan.is::<FilterExec>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::functions_aggregate::array_agg::array_agg_udaf;
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
    use datafusion::physical_plan::aggregates::PhysicalGroupBy;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;

    /// A partial `array_agg(t ORDER BY t) GROUP BY k` over a sort over a union of two tables.
    fn ordered_partial_aggregate_over_a_union() -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("t", DataType::Int64, false),
        ]));
        let branch = |keys: Vec<&str>, times: Vec<i64>| {
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from(keys)),
                    Arc::new(Int64Array::from(times)),
                ],
            )
            .unwrap();
            MemorySourceConfig::try_new_exec(&[vec![batch]], Arc::clone(&schema), None).unwrap()
                as Arc<dyn ExecutionPlan>
        };
        let union = UnionExec::try_new(vec![
            branch(vec!["a", "b", "a"], vec![3, 1, 2]),
            branch(vec!["a"], vec![0]),
        ])
        .unwrap();
        let by_time = LexOrdering::new(vec![PhysicalSortExpr::new_default(
            col("t", &schema).unwrap(),
        )])
        .unwrap();
        let sorted =
            Arc::new(SortExec::new(by_time.clone(), union).with_preserve_partitioning(true));
        let times = AggregateExprBuilder::new(array_agg_udaf(), vec![col("t", &schema).unwrap()])
            .schema(Arc::clone(&schema))
            .alias("times")
            .order_by(by_time.to_vec())
            .build()
            .unwrap();
        Arc::new(
            AggregateExec::try_new(
                AggregateMode::Partial,
                PhysicalGroupBy::new_single(vec![(col("k", &schema).unwrap(), "k".into())]),
                vec![Arc::new(times)],
                vec![None],
                sorted,
                schema,
            )
            .unwrap(),
        )
    }

    async fn rows(plan: Arc<dyn ExecutionPlan>) -> Vec<String> {
        let batches = collect(plan, SessionContext::new().task_ctx())
            .await
            .unwrap();
        let text = pretty_format_batches(&batches).unwrap().to_string();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    }

    #[tokio::test]
    async fn a_partial_aggregate_over_a_union_goes_into_each_branch_with_the_same_rows() {
        let plan = ordered_partial_aggregate_over_a_union();
        let moved = PartialAggregatesIntoUnionBranches
            .optimize(Arc::clone(&plan), &ConfigOptions::default())
            .unwrap();
        assert!(moved.is::<UnionExec>(), "{moved:?}");
        for branch in moved.children() {
            let aggregate = branch
                .downcast_ref::<AggregateExec>()
                .expect("an aggregate");
            assert!(aggregate.input().is::<SortExec>());
        }
        assert_eq!(moved.schema(), plan.schema());
        assert_eq!(rows(moved).await, rows(plan).await);
    }

    #[tokio::test]
    async fn other_plans_are_left_as_they_are() {
        let plan = ordered_partial_aggregate_over_a_union();
        let union = Arc::clone(plan.children()[0].children()[0]);
        let unchanged = PartialAggregatesIntoUnionBranches
            .optimize(Arc::clone(&union), &ConfigOptions::default())
            .unwrap();
        assert!(Arc::ptr_eq(&unchanged, &union));
    }
}
