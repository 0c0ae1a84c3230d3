//! Turning pushed-down filters into a listing [`Scope`].
//!
//! Only filters that can prune objects by key are taken: comparisons of a time column with a
//! constant, and equality / IN lists on `account_id` and `region`. They are answered `Inexact`:
//! they choose which folders to list, and DataFusion still applies them to the rows.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};

use crate::archive::Scope;
use crate::time::parse_event_time;

/// Which columns of a table can prune its listing.
#[derive(Debug, Clone, Copy)]
pub struct PruningColumns {
    pub time: &'static str,
    pub account: &'static str,
    pub region: &'static str,
}

impl PruningColumns {
    /// Whether `expr` can narrow the listing (so it is worth pushing down).
    pub fn can_prune(&self, expr: &Expr) -> bool {
        let mut scope = Scope::default();
        self.apply(expr, &mut scope);
        scope != Scope::default()
    }

    /// The answer to `TableProvider::supports_filters_pushdown`: `Inexact` for filters that
    /// prune the listing (DataFusion re-applies them to rows), `Unsupported` for the rest.
    pub fn pushdown(&self, filters: &[&Expr]) -> Vec<TableProviderFilterPushDown> {
        filters
            .iter()
            .map(|f| {
                if self.can_prune(f) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect()
    }

    /// The scope all `filters` together allow.
    pub fn scope(&self, filters: &[Expr]) -> Scope {
        let mut scope = Scope::default();
        for f in filters {
            self.apply(f, &mut scope);
        }
        scope
    }

    fn apply(&self, expr: &Expr, scope: &mut Scope) {
        match expr {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And,
                right,
            }) => {
                self.apply(left, scope);
                self.apply(right, scope);
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if let (Some(col), Some(value)) = (column_name(left), constant(right)) {
                    self.compare(col, *op, &value, scope);
                } else if let (Some(value), Some(col)) = (constant(left), column_name(right))
                    && let Some(op) = op.swap()
                {
                    self.compare(col, op, &value, scope);
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) => {
                if let (Some(col), Some(low), Some(high)) =
                    (column_name(expr), constant(low), constant(high))
                {
                    self.compare(col, Operator::GtEq, &low, scope);
                    self.compare(col, Operator::LtEq, &high, scope);
                }
            }
            Expr::InList(list) if !list.negated => {
                let Some(col) = column_name(&list.expr) else {
                    return;
                };
                let values: Option<BTreeSet<String>> = list
                    .list
                    .iter()
                    .map(|e| constant(e).and_then(|v| text(&v)))
                    .collect();
                if let Some(values) = values {
                    self.restrict(col, values, scope);
                }
            }
            _ => {}
        }
    }

    fn compare(&self, col: &str, op: Operator, value: &ScalarValue, scope: &mut Scope) {
        if col == self.time {
            let Some(t) = instant(value) else { return };
            // Bounds are widened to whole microseconds either side; rows are filtered exactly later.
            match op {
                Operator::Gt | Operator::GtEq => {
                    scope.from = Some(scope.from.map_or(t, |f| f.max(t)))
                }
                Operator::Lt | Operator::LtEq => {
                    let end = t + chrono::Duration::microseconds(1);
                    scope.to = Some(scope.to.map_or(end, |e| e.min(end)));
                }
                Operator::Eq => {
                    scope.from = Some(scope.from.map_or(t, |f| f.max(t)));
                    let end = t + chrono::Duration::microseconds(1);
                    scope.to = Some(scope.to.map_or(end, |e| e.min(end)));
                }
                _ => {}
            }
        } else if op == Operator::Eq
            && let Some(v) = text(value)
        {
            self.restrict(col, BTreeSet::from([v]), scope);
        }
    }

    fn restrict(&self, col: &str, values: BTreeSet<String>, scope: &mut Scope) {
        let target = if col == self.account {
            &mut scope.accounts
        } else if col == self.region {
            &mut scope.regions
        } else {
            return;
        };
        *target = if target.is_empty() {
            values
        } else {
            let both: BTreeSet<String> = target.intersection(&values).cloned().collect();
            // No value satisfies both: an impossible marker keeps "nothing" from meaning "all".
            if both.is_empty() {
                BTreeSet::from([String::new()])
            } else {
                both
            }
        };
    }
}

fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(c) => Some(c.name.as_str()),
        // `CAST(eventtime AS ...)` keeps the order of the column for our purposes.
        Expr::Cast(c) => column_name(&c.expr),
        _ => None,
    }
}

fn constant(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Cast(c) => constant(&c.expr),
        _ => None,
    }
}

fn text(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(s.clone()),
        ScalarValue::Dictionary(_, inner) => text(inner),
        _ => None,
    }
}

/// A constant as an instant: timestamps of any unit, dates, or text in any form we parse.
fn instant(value: &ScalarValue) -> Option<DateTime<Utc>> {
    let micros = match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000)?,
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000)?,
        ScalarValue::TimestampMicrosecond(Some(v), _) => *v,
        ScalarValue::TimestampNanosecond(Some(v), _) => v.div_euclid(1_000),
        ScalarValue::Date32(Some(days)) => i64::from(*days) * 86_400_000_000,
        other => {
            let s = text(other)?;
            parse_event_time(&s).or_else(|| {
                crate::time::parse_user_time(&s)
                    .ok()
                    .map(|t| t.timestamp_micros())
            })?
        }
    };
    DateTime::from_timestamp_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    const COLUMNS: PruningColumns = PruningColumns {
        time: "eventtime",
        account: "account_id",
        region: "region",
    };

    #[test]
    fn time_account_and_region_filters_narrow_the_scope() {
        let filters = [
            col("eventtime").gt_eq(lit("2024-03-10T00:00:00Z")),
            lit("2024-03-11").gt(col("eventtime")),
            col("region").in_list(vec![lit("us-east-1"), lit("eu-west-1")], false),
            col("account_id").eq(lit("111122223333")),
            col("eventname").eq(lit("StopLogging")),
        ];
        let scope = COLUMNS.scope(&filters);
        assert_eq!(
            scope.from.unwrap().to_rfc3339(),
            "2024-03-10T00:00:00+00:00"
        );
        assert_eq!(
            scope.to.unwrap().timestamp(),
            DateTime::parse_from_rfc3339("2024-03-11T00:00:00Z")
                .unwrap()
                .timestamp()
        );
        assert_eq!(scope.regions.len(), 2);
        assert!(scope.accounts.contains("111122223333"));
        assert!(!COLUMNS.can_prune(&filters[4]));
        assert!(COLUMNS.can_prune(&filters[0]));
    }

    #[test]
    fn contradictory_equalities_select_nothing() {
        let scope = COLUMNS.scope(&[col("region").eq(lit("a")), col("region").eq(lit("b"))]);
        assert_eq!(scope.regions, BTreeSet::from([String::new()]));
    }
}
