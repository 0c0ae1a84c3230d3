//! Types that meet both dialects. Athena's CloudTrail table holds `eventtime`, `readonly` and
//! `sessioncredentialfromconsole` as strings; CloudTrail Lake holds timestamps and booleans.
//! Our columns are typed, so each dialect's comparisons are made to mean what their users mean,
//! before DataFusion's type coercion sees them:
//! - a boolean compared with the text `'true'` / `'false'` compares with the boolean;
//! - a text column compared with `true` / `false` compares with the text `'true'` / `'false'`;
//! - a timestamp under `LIKE` or a string function (`substr(eventtime, 1, 10)`) is the text
//!   CloudTrail writes (`2017-06-01T10:00:00Z`), as Athena's string column holds it.
//!
//! Everything that already type-checks is left as it is.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

/// CloudTrail's own `eventTime` text.
pub(super) const CLOUDTRAIL_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// String functions whose timestamp arguments are taken as CloudTrail's text.
pub(super) const STRING_FUNCTIONS: &[&str] = &[
    "substr",
    "substring",
    "left",
    "right",
    "split_part",
    "starts_with",
    "strpos",
    "length",
    "char_length",
    "character_length",
    "regexp_like",
    "regexp_extract",
    "regexp_replace",
];

/// The analyzer rules: ours first, then DataFusion's own.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = datafusion::optimizer::Analyzer::new().rules;
    rules.insert(0, Arc::new(BothDialects));
    rules
}

#[derive(Debug)]
struct BothDialects;

impl AnalyzerRule for BothDialects {
    fn name(&self) -> &str {
        "trailscope_both_dialects"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let mut schema = DFSchema::empty();
            for input in plan.inputs() {
                schema.merge(input.schema());
            }
            // A rewritten expression keeps its name: the nodes above refer to it by name.
            let names = NamePreserver::new(&plan);
            plan.map_expressions(|expr| {
                let name = names.save(&expr);
                expr.transform_up(|e| Ok(rewrite(e, &schema)))
                    .map(|t| t.update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

fn rewrite(expr: Expr, schema: &DFSchema) -> Transformed<Expr> {
    let type_of = |e: &Expr| e.get_type(schema).ok();
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            let (l, r) = (type_of(&left), type_of(&right));
            match (
                retyped_for(&left, r.as_ref()),
                retyped_for(&right, l.as_ref()),
            ) {
                (Some(new), _) => {
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(Box::new(new), op, right)))
                }
                (_, Some(new)) => {
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(left, op, Box::new(new))))
                }
                _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            }
        }
        Expr::Like(mut like) if is_time(type_of(&like.expr).as_ref()) => {
            like.expr = Box::new(cloudtrail_text(*like.expr));
            Transformed::yes(Expr::Like(like))
        }
        Expr::ScalarFunction(ScalarFunction { func, args })
            if STRING_FUNCTIONS.contains(&func.name())
                && args.iter().any(|a| is_time(type_of(a).as_ref())) =>
        {
            let args = args
                .into_iter()
                .map(|a| {
                    if is_time(type_of(&a).as_ref()) {
                        cloudtrail_text(a)
                    } else {
                        a
                    }
                })
                .collect();
            Transformed::yes(Expr::ScalarFunction(ScalarFunction { func, args }))
        }
        other => Transformed::no(other),
    }
}

/// `literal` retyped to meet a column of `other_type`: the text `'true'` meeting a boolean becomes
/// `true`, and `true` meeting text becomes `'true'`.
fn retyped_for(literal: &Expr, other_type: Option<&DataType>) -> Option<Expr> {
    let Expr::Literal(value, meta) = literal else {
        return None;
    };
    let new = match (value, other_type) {
        (
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            Some(DataType::Boolean),
        ) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => ScalarValue::Boolean(Some(true)),
            "false" => ScalarValue::Boolean(Some(false)),
            _ => return None,
        },
        (
            ScalarValue::Boolean(Some(b)),
            Some(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8),
        ) => ScalarValue::Utf8(Some(b.to_string())),
        _ => return None,
    };
    Some(Expr::Literal(new, meta.clone()))
}

fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq | Operator::NotEq | Operator::IsDistinctFrom | Operator::IsNotDistinctFrom
    )
}

fn is_time(data_type: Option<&DataType>) -> bool {
    matches!(data_type, Some(DataType::Timestamp(..)))
}

fn cloudtrail_text(expr: Expr) -> Expr {
    datafusion::functions::expr_fn::to_char(
        expr,
        Expr::Literal(ScalarValue::Utf8(Some(CLOUDTRAIL_TIME_FORMAT.into())), None),
    )
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use crate::table::base_session;

    /// Rows of `sql` over three typed CloudTrail-like records, as text.
    async fn run(sql: &str) -> String {
        let ctx = base_session().unwrap();
        ctx.sql(
            "CREATE VIEW cloudtrail AS SELECT * FROM (VALUES \
             (to_timestamp('2017-06-01T10:00:00Z'), true, 'true', 'a'), \
             (to_timestamp('2017-06-02T11:30:00Z'), false, 'false', 'b'), \
             (to_timestamp('2018-01-01T00:00:00Z'), NULL, NULL, 'c')) \
             AS t(eventtime, readonly, sessioncredentialfromconsole, id)",
        )
        .await
        .unwrap();
        let batches = ctx
            .sql(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        pretty_format_batches(&batches).unwrap().to_string()
    }

    fn ids(table: &str) -> Vec<&str> {
        ["a", "b", "c"]
            .into_iter()
            .filter(|id| table.contains(&format!("| {id}  |")))
            .collect()
    }

    #[tokio::test]
    async fn athena_strings_and_lake_booleans_both_filter() {
        let cases = [
            ("readonly = 'true'", vec!["a"]),
            ("readonly = 'FALSE'", vec!["b"]),
            ("readonly = true", vec!["a"]),
            ("readonly <> 'true'", vec!["b"]),
            ("sessioncredentialfromconsole = true", vec!["a"]),
            ("sessioncredentialfromconsole = 'false'", vec!["b"]),
            ("eventtime LIKE '2017-06-%'", vec!["a", "b"]),
            ("eventtime LIKE '%T11:30:00Z'", vec!["b"]),
            ("substr(eventtime, 1, 10) = '2018-01-01'", vec!["c"]),
            ("eventtime > '2017-06-01T12:00:00Z'", vec!["b", "c"]),
            ("eventtime >= TIMESTAMP '2018-01-01 00:00:00'", vec!["c"]),
        ];
        for (filter, expected) in cases {
            let table = run(&format!("SELECT id FROM cloudtrail WHERE {filter}")).await;
            assert_eq!(ids(&table), expected, "{filter}:\n{table}");
        }
    }

    #[tokio::test]
    async fn rewritten_expressions_keep_their_names() {
        let table = run(
            "SELECT count(*) FILTER (WHERE readonly = 'false') AS writes, \
             count(*) FILTER (WHERE eventtime LIKE '2017%') FROM cloudtrail",
        )
        .await;
        assert!(table.contains("| writes |"), "{table}");
        assert!(table.contains("| 1      | 2 "), "{table}");
    }
}
