//! `trailscope lint`: load every control, check its metadata, and plan its SQL without running it.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use serde_json::Value;

use super::Control;
use super::meta::ParamType;
use super::params::{ParamValues, placeholders, substitute};
use crate::table::statements;

/// A stand-in value of each type, for parameters without a default.
fn sample(ty: ParamType) -> Value {
    match ty {
        ParamType::Integer => Value::from(1),
        ParamType::Duration => Value::from("1h"),
        ParamType::String => Value::from("x"),
        ParamType::Boolean => Value::from("true"),
    }
}

/// Lints `controls` against every table a control may read, over an empty archive and no
/// snapshot: plans need the tables' shapes only.
pub async fn lint_catalog(controls: &[Control]) -> crate::error::Result<Vec<String>> {
    let source = crate::archive::ArchiveSource::new(
        crate::archive::Location::empty(),
        Default::default(),
        false,
    );
    let ctx = crate::table::evidence_session(&source, &[]).await?;
    ctx.register_table(
        "findings",
        std::sync::Arc::new(super::run::findings_table(&[])?),
    )?;
    Ok(lint(&ctx, controls).await)
}

/// Problems per control (`origin: problem`); empty when all is well. `ctx` must hold every
/// table a control may read (the plans are built, not run).
pub async fn lint(ctx: &SessionContext, controls: &[Control]) -> Vec<String> {
    let mut out = Vec::new();
    for c in controls {
        let mut say = |p: String| out.push(format!("{}: {p}", c.origin));
        for p in c.meta.problems() {
            say(p);
        }
        let mut values = ParamValues::default();
        for (name, spec) in &c.meta.parameters {
            if spec.default.is_none() {
                values.profile.insert(name.clone(), sample(spec.ty));
            }
            if !placeholders(&c.sql).contains(name) {
                say(format!(
                    "parameter {name} is declared but the SQL never uses ${{{name}}}"
                ));
            }
        }
        let sql = match substitute(&c.meta, &c.sql, &values) {
            Ok(Ok(sql)) => sql,
            Ok(Err(unset)) => {
                say(format!("parameter {} has no value", unset.0));
                continue;
            }
            Err(e) => {
                say(e);
                continue;
            }
        };
        let parsed = match statements::parse_checked(&sql, None) {
            Ok(p) => p,
            Err(e) => {
                say(e.to_string());
                continue;
            }
        };
        if parsed.len() != 1 {
            say(format!(
                "holds {} statements; a control is one SELECT",
                parsed.len()
            ));
            continue;
        }
        let Some(statement) = parsed.into_iter().next() else {
            continue;
        };
        if !matches!(&statement, Statement::Statement(s) if matches!(s.as_ref(), datafusion::sql::sqlparser::ast::Statement::Query(_)))
        {
            say("is not a SELECT".to_string());
            continue;
        }
        match ctx.state().statement_to_plan(statement).await {
            Ok(plan) => {
                let schema = plan.schema();
                for column in ["status", "resource", "account_id"] {
                    if schema.field_with_unqualified_name(column).is_err() {
                        say(format!("returns no {column} column"));
                    }
                }
                for list in lists_ordered_by_time_alone(&plan) {
                    say(format!(
                        "{list} lists values in an order that differs between runs: events of \
                         the same second tie on time alone; sort the whole value instead, time \
                         first (array_sort(array_agg(named_struct('eventtime', ...))))"
                    ));
                }
            }
            Err(e) => say(format!("SQL does not plan: {}", crate::Error::from(e))),
        }
    }
    out
}

/// Ordered `array_agg`s whose ORDER BY is timestamps only and does not hold the listed value
/// itself: CloudTrail records many events in one second, rows of a group arrive in whatever
/// order the scan's partitions finish, so such a list (and the report holding it) would differ
/// between runs of the same inputs.
fn lists_ordered_by_time_alone(plan: &LogicalPlan) -> Vec<String> {
    let mut found = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        let LogicalPlan::Aggregate(aggregate) = node else {
            return Ok(TreeNodeRecursion::Continue);
        };
        let input = aggregate.input.schema();
        for expr in &aggregate.aggr_expr {
            expr.apply(|e| {
                if let Expr::AggregateFunction(f) = e
                    && f.func.name() == "array_agg"
                    && !f.params.order_by.is_empty()
                    && f.params.order_by.iter().all(|sort| {
                        matches!(
                            sort.expr.get_type(input.as_ref()),
                            Ok(DataType::Timestamp(_, _))
                        )
                    })
                    && !f
                        .params
                        .order_by
                        .iter()
                        .any(|sort| f.params.args.contains(&sort.expr))
                {
                    let keys: Vec<String> = f
                        .params
                        .order_by
                        .iter()
                        .map(|s| s.expr.to_string())
                        .collect();
                    found.push(format!("array_agg(... ORDER BY {})", keys.join(", ")));
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control whose SQL is `sql`, with the metadata of a built-in event control.
    fn control(sql: &str) -> Control {
        let mut control = crate::controls::builtin()
            .unwrap()
            .into_iter()
            .find(|c| c.meta.id == "CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001")
            .unwrap();
        control.meta.parameters.clear();
        control.sql = sql.to_string();
        control
    }

    #[tokio::test]
    async fn an_evidence_list_ordered_by_time_alone_is_named() {
        let listed = |list: &str| {
            format!(
                "SELECT 'fail' AS status, account_id AS resource, account_id, to_json({list}) AS events \
                 FROM cloudtrail GROUP BY account_id"
            )
        };
        let by_time = control(&listed(
            "array_agg(named_struct('eventtime', eventtime, 'log_file', log_file) ORDER BY eventtime)",
        ));
        let problems = lint_catalog(&[by_time]).await.unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("array_agg(... ORDER BY cloudtrail.eventtime)")
                && problems[0].contains("array_sort"),
            "{problems:?}"
        );
        // Sorted whole, or ordered by the value itself: the same list on every run.
        for list in [
            "array_sort(array_agg(named_struct('eventtime', eventtime, 'log_file', log_file)))",
            "array_agg(eventtime ORDER BY eventtime)",
            "array_agg(log_file ORDER BY log_file)",
        ] {
            let problems = lint_catalog(&[control(&listed(list))]).await.unwrap();
            assert!(problems.is_empty(), "{list}: {problems:?}");
        }
    }
}
