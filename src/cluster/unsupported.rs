//! SQL that Ballista 55 would run wrongly or cannot ship, refused on the client with what to do.
//!
//! - An uncorrelated scalar subquery is planned as a join on a cluster (Ballista turns off
//!   DataFusion's `ScalarSubqueryExec`, which cannot cross its stages). A join does not fail when
//!   the subquery gives several rows, as a local query does: it answers with every row. So only a
//!   subquery that gives at most one row by its shape (an aggregate without `GROUP BY`, a
//!   `LIMIT 1`, ...) runs there.
//! - A recursive query's plan has no encoding in Ballista's codec; the job fails with "task could
//!   not be prepared or was rejected by executor".

use datafusion::catalog::view::ViewTable;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::error::Error;

/// Fails with what to do when `plan`, or a view it reads, holds SQL a cluster cannot answer as
/// this machine would.
pub(crate) fn refuse_unsupported(plan: &LogicalPlan) -> Result<()> {
    let refuse = |reason: String| Err(DataFusionError::from(Error::Usage(reason)));
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::RecursiveQuery(query) = node {
            return refuse(format!(
                "the recursive query {:?} cannot run on a cluster (Ballista cannot ship its \
                 plan); run it without --cluster",
                query.name
            ));
        }
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && let Some(view) = provider.downcast_ref::<ViewTable>()
        {
            refuse_unsupported(view.logical_plan())?;
        }
        node.apply_expressions(|expr| {
            expr.apply(|e| match e {
                Expr::ScalarSubquery(subquery)
                    if subquery.outer_ref_columns.is_empty()
                        && subquery.subquery.max_rows().is_none_or(|rows| rows > 1) =>
                {
                    refuse(
                        "a scalar subquery that may give more than one row cannot run on a \
                         cluster (it would answer with every row where this machine fails); give \
                         it an aggregate without GROUP BY or LIMIT 1, or run without --cluster"
                            .to_string(),
                    )
                }
                _ => Ok(TreeNodeRecursion::Continue),
            })
        })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn plan(sql: &str) -> LogicalPlan {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t(a INT, b INT) AS VALUES (1, 2), (3, 4)")
            .await
            .unwrap();
        ctx.sql("CREATE VIEW v AS SELECT a FROM t WHERE a = (SELECT a FROM t)")
            .await
            .unwrap();
        ctx.state().create_logical_plan(sql).await.unwrap()
    }

    async fn refusal(sql: &str) -> Option<String> {
        refuse_unsupported(&plan(sql).await)
            .err()
            .map(|e| e.to_string())
    }

    #[tokio::test]
    async fn scalar_subqueries_of_one_row_by_shape_pass() {
        for sql in [
            "SELECT a FROM t WHERE a = (SELECT max(a) FROM t)",
            "SELECT a FROM t WHERE a = (SELECT a FROM t ORDER BY b LIMIT 1)",
            "SELECT count(*) FILTER (WHERE a < (SELECT count(*) FROM t)) FROM t",
            // Correlated subqueries are joins everywhere, locally too.
            "SELECT a FROM t x WHERE b = (SELECT max(b) FROM t y WHERE y.a = x.a)",
            "SELECT a FROM t",
        ] {
            assert_eq!(refusal(sql).await, None, "{sql}");
        }
    }

    #[tokio::test]
    async fn scalar_subqueries_of_many_rows_and_recursion_are_refused_with_what_to_do() {
        for sql in [
            "SELECT a FROM t WHERE a = (SELECT a FROM t)",
            "SELECT a, (SELECT b FROM t LIMIT 2) FROM t",
            "SELECT * FROM v",
        ] {
            let message = refusal(sql).await.expect(sql);
            assert!(
                message.contains("LIMIT 1, or run without --cluster"),
                "{message}"
            );
        }
        let message = refusal(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) \
             SELECT * FROM n",
        )
        .await
        .unwrap();
        assert!(
            message.contains("\"n\" cannot run on a cluster"),
            "{message}"
        );
    }
}
