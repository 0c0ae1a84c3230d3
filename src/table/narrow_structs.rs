//! Decoding only the struct fields a plan reads.
//!
//! `useridentity` is the widest column a CloudTrail record has (its session context, issuer,
//! web-identity and on-behalf-of parts), and the most read: nearly every question names
//! `useridentity.arn` or `useridentity.type`. DataFusion hands a table scan top-level columns
//! only, so `WHERE useridentity.arn = ...` had the decoder build every field of the struct,
//! strings of session contexts, issuers and web identities no one asked for.
//!
//! This physical optimizer rule walks a plan from its root and works out, for each column every
//! node reads, which fields of it: through projections, filters, repartitions, coalesces, limits
//! and partial aggregates, a `get_field(column, 'name', ...)` reads that field only, and anything
//! else reads the whole column. At a `CloudTrailExec` it asks the decoder to build only the
//! fields read (the others are still parsed and checked, so an object's verdict does not depend
//! on the query, and come out NULL, unseen by the plan). A node it does not know makes every
//! column below it whole: missing a case costs speed, never an answer.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, replace_children_if_necessary};

use super::scan::CloudTrailExec;
use crate::decode::builder::Need;

/// What a node's consumers read of each of its output columns (`None`: nothing).
type Reads = Vec<Option<Need>>;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct NarrowStructs;

impl PhysicalOptimizerRule for NarrowStructs {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let whole = all_whole(&plan);
        narrow(plan, whole)
    }

    fn name(&self) -> &str {
        "NarrowStructs"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn all_whole(plan: &Arc<dyn ExecutionPlan>) -> Reads {
    vec![Some(Need::Whole); plan.schema().fields().len()]
}

/// `plan` with each `CloudTrailExec` under it narrowed to what is read of it, given `reads` of
/// `plan`'s own output.
fn narrow(plan: Arc<dyn ExecutionPlan>, reads: Reads) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(scan) = plan.downcast_ref::<CloudTrailExec>() {
        let narrowed: Vec<_> = reads
            .into_iter()
            .enumerate()
            .filter_map(|(position, read)| match read {
                Some(Need::Only(fields)) => Some((position, fields)),
                _ => None,
            })
            .collect();
        if narrowed.is_empty() {
            return Ok(plan);
        }
        return Ok(Arc::new(scan.narrowed(narrowed)));
    }
    let children = plan.children();
    if children.is_empty() {
        return Ok(plan);
    }
    let child_reads: Vec<Reads> = match reads_of_children(&plan, reads) {
        Some(known) => known,
        None => children.iter().map(|c| all_whole(c)).collect(),
    };
    let new_children = children
        .into_iter()
        .zip(child_reads)
        .map(|(child, reads)| narrow(Arc::clone(child), reads))
        .collect::<Result<Vec<_>>>()?;
    replace_children_if_necessary(plan, new_children)
}

/// What `plan` reads of its children's columns, given what is read of its output; `None` for a
/// node this rule does not look into.
fn reads_of_children(plan: &Arc<dyn ExecutionPlan>, reads: Reads) -> Option<Vec<Reads>> {
    let input_width = |i: usize| plan.children()[i].schema().fields().len();
    if let Some(projection) = plan.downcast_ref::<ProjectionExec>() {
        let mut below = vec![None; input_width(0)];
        for (expr, read) in projection.expr().iter().zip(reads) {
            // An output nobody reads is still computed: read its inputs as it would.
            read_by(&expr.expr, read.unwrap_or(Need::Whole), &mut below);
        }
        return Some(vec![below]);
    }
    if let Some(filter) = plan.downcast_ref::<FilterExec>() {
        let mut below = vec![None; input_width(0)];
        let kept: Vec<usize> = match filter.projection() {
            Some(kept) => kept.to_vec(),
            None => (0..reads.len()).collect(),
        };
        for (column, read) in kept.into_iter().zip(reads) {
            if let Some(read) = read {
                merge(&mut below, column, read);
            }
        }
        read_by(filter.predicate(), Need::Whole, &mut below);
        return Some(vec![below]);
    }
    if let Some(aggregate) = plan.downcast_ref::<AggregateExec>() {
        // Final modes read the partial states, not the columns their expressions name.
        if !matches!(
            aggregate.mode(),
            AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
        ) {
            return None;
        }
        let mut below = vec![None; input_width(0)];
        let group_by = aggregate.group_expr();
        for (expr, _) in group_by.expr().iter().chain(group_by.null_expr()) {
            read_by(expr, Need::Whole, &mut below);
        }
        for function in aggregate.aggr_expr() {
            for expr in function.expressions() {
                read_by(&expr, Need::Whole, &mut below);
            }
            for sort in function.order_bys() {
                read_by(&sort.expr, Need::Whole, &mut below);
            }
        }
        for expr in aggregate.filter_expr().iter().flatten() {
            read_by(expr, Need::Whole, &mut below);
        }
        return Some(vec![below]);
    }
    // Nodes that pass their one child's columns through unchanged.
    let passes_through = plan.is::<RepartitionExec>()
        || plan.is::<CoalescePartitionsExec>()
        || plan.is::<GlobalLimitExec>()
        || plan.is::<LocalLimitExec>()
        || plan.name() == "CoalesceBatchesExec";
    (passes_through && plan.children().len() == 1 && input_width(0) == reads.len())
        .then(|| vec![reads])
}

/// Records in `below` what `expr` reads of its input's columns when `read` of its value is.
fn read_by(expr: &Arc<dyn PhysicalExpr>, read: Need, below: &mut Reads) {
    if let Some((column, path)) = field_path(expr) {
        merge(below, column, Need::at(&path, read));
        return;
    }
    if let Some(column) = expr.downcast_ref::<Column>() {
        merge(below, column.index(), read);
        return;
    }
    for child in expr.children() {
        read_by(child, Need::Whole, below);
    }
}

/// `get_field(... get_field(column, 'a') ..., 'b', 'c')`: the column and the path `a.b.c`.
fn field_path(expr: &Arc<dyn PhysicalExpr>) -> Option<(usize, Vec<String>)> {
    let function = expr.downcast_ref::<ScalarFunctionExpr>()?;
    if function.name() != "get_field" {
        return None;
    }
    let (base, names) = function.args().split_first()?;
    let names: Vec<String> = names
        .iter()
        .map(|name| match name.downcast_ref::<Literal>()?.value() {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if names.is_empty() {
        return None;
    }
    let (column, mut path) = match base.downcast_ref::<Column>() {
        Some(column) => (column.index(), Vec::new()),
        None => field_path(base)?,
    };
    path.extend(names);
    Some((column, path))
}

fn merge(reads: &mut Reads, column: usize, read: Need) {
    if let Some(slot) = reads.get_mut(column) {
        match slot {
            Some(have) => have.merge(read),
            None => *slot = Some(read),
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    use crate::archive::{ArchiveSource, Location, Scope};
    use crate::table::{TableSource, registry, session, session_with};

    async fn sessions() -> (SessionContext, SessionContext) {
        let path = format!("{}/testdata/archive", env!("CARGO_MANIFEST_DIR"));
        let location = Location::open(&path, &Default::default()).await.unwrap();
        let source = TableSource::from(ArchiveSource::new(location, Scope::default(), false));
        let whole = session_with(Vec::new()).unwrap();
        registry::register(&whole, &source).unwrap();
        (session(source).unwrap(), whole)
    }

    async fn answer(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    async fn scan_line(ctx: &SessionContext, sql: &str) -> String {
        let plan = answer(ctx, &format!("EXPLAIN {sql}")).await;
        plan.lines()
            .find(|l| l.contains("CloudTrailScan"))
            .unwrap_or_default()
            .to_string()
    }

    #[tokio::test]
    async fn a_scan_builds_the_struct_fields_its_plan_reads_and_answers_the_same() {
        let (narrowed, whole) = sessions().await;
        let cases = [
            (
                "SELECT useridentity.arn, count(*) AS n FROM cloudtrail \
                 WHERE useridentity.sessioncontext.sessionissuer.type = 'Role' \
                 GROUP BY 1 ORDER BY 2 DESC, 1",
                Some("useridentity{arn,sessioncontext{sessionissuer{type}}}"),
            ),
            (
                "SELECT eventid, useridentity.type, \
                 useridentity.sessioncontext.attributes.mfaauthenticated AS mfa \
                 FROM cloudtrail WHERE eventname LIKE 'Get%' ORDER BY eventid, log_file LIMIT 50",
                Some("useridentity{sessioncontext{attributes{mfaauthenticated}},type}"),
            ),
            (
                "SELECT count(*) FILTER (WHERE useridentity.accesskeyid LIKE 'ASIA%') AS temporary, \
                 max(useridentity.principalid) AS last FROM cloudtrail",
                Some("useridentity{accesskeyid,principalid}"),
            ),
            // The whole struct is read: nothing to narrow.
            (
                "SELECT eventid, useridentity FROM cloudtrail \
                 WHERE useridentity.type = 'AWSService' ORDER BY eventid, log_file",
                None,
            ),
            // Through a join: DataFusion takes the fields out below it, each side narrowed.
            (
                "SELECT a.useridentity.arn AS arn, count(*) AS n FROM cloudtrail a \
                 JOIN cloudtrail b ON a.eventid = b.eventid \
                 WHERE b.useridentity.type = 'AssumedRole' GROUP BY 1 ORDER BY 2 DESC, 1",
                Some("useridentity{arn}"),
            ),
        ];
        for (sql, expected) in cases {
            let line = scan_line(&narrowed, sql).await;
            match expected {
                Some(fields) => assert!(
                    line.contains(&format!("narrowed={fields}")),
                    "{sql}: {line}"
                ),
                None => assert!(!line.contains("narrowed="), "{sql}: {line}"),
            }
            assert!(!scan_line(&whole, sql).await.contains("narrowed="));
            let (n, w) = (answer(&narrowed, sql).await, answer(&whole, sql).await);
            assert!(n.lines().count() > 4, "{sql} answers rows:\n{n}");
            assert_eq!(n, w, "{sql}");
        }
    }
}
