//! Turning pushed-down filters into a listing [`Scope`].
//!
//! Only filters that can prune objects by key are taken: comparisons of a time column with a
//! constant, equality / IN lists on `account_id` and `region`, and on `cloudtrail`, the
//! partition columns of [`super::dialect_columns`] (whose values are folder names, so they prune
//! exactly). They are answered `Inexact`: they choose which folders to list, and DataFusion
//! still applies them to the rows.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};

use super::dialect_columns::{KeyPart, key_part};
use crate::archive::Scope;
use crate::time::parse_event_time;

/// Which columns of a table can prune its listing.
#[derive(Debug, Clone, Copy)]
pub struct PruningColumns {
    pub time: &'static str,
    pub account: &'static str,
    pub region: &'static str,
    /// Whether the table has the key's partition columns (`year`, `"timestamp"`, ...).
    pub key_partitions: bool,
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
                    .map(|e| constant(e).and_then(|v| text(&v).or_else(|| number(&v))))
                    .collect();
                if let Some(values) = values {
                    self.restrict(col, values, scope);
                }
            }
            _ => {}
        }
    }

    fn compare(&self, col: &str, op: Operator, value: &ScalarValue, scope: &mut Scope) {
        if let Some(part) = self.key_part(col)
            && !matches!(part, KeyPart::Account | KeyPart::Region)
        {
            folder_compare(part, op, value, scope);
        } else if col == self.time {
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

    fn key_part(&self, col: &str) -> Option<KeyPart> {
        self.key_partitions.then(|| key_part(col)).flatten()
    }

    fn restrict(&self, col: &str, values: BTreeSet<String>, scope: &mut Scope) {
        let col = match self.key_part(col) {
            Some(KeyPart::Account) => self.account,
            Some(KeyPart::Region) => self.region,
            Some(part) => {
                folder_in(part, &values, scope);
                return;
            }
            None => col,
        };
        // Numbers (`account = 123456789012` after a cast) compare as numbers, not as the key's
        // text: not pruned.
        if values.iter().any(|v| v.starts_with('#')) {
            return;
        }
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

/// A comparison of a folder partition (`year`, `month`, `day`, a `yyyy/MM/dd` date) with a
/// constant. The columns are text, so only values in the folders' own form can match; a
/// numeric constant (after a cast of the column) compares as a number.
fn folder_compare(part: KeyPart, op: Operator, value: &ScalarValue, scope: &mut Scope) {
    let folders = &mut scope.folder_days;
    let Some(value) = text(value).or_else(|| number(value)) else {
        return;
    };
    match op {
        Operator::Eq => folder_in(part, &BTreeSet::from([value]), scope),
        Operator::Gt | Operator::GtEq | Operator::Lt | Operator::LtEq => {
            let Some((first, last)) = folder_range(part, &value) else {
                return;
            };
            match op {
                Operator::Gt => folders.bound(last.succ_opt(), None),
                Operator::GtEq => folders.bound(Some(first), None),
                Operator::Lt => folders.bound(None, first.pred_opt()),
                _ => folders.bound(None, Some(last)),
            }
        }
        _ => {}
    }
}

/// The folder days a partition value covers, for values that order as dates do (a year, or a
/// whole `yyyy/MM/dd` date).
fn folder_range(part: KeyPart, value: &str) -> Option<(NaiveDate, NaiveDate)> {
    match part {
        KeyPart::Year => {
            let year: i32 = folder_number(value, 4)?.try_into().ok()?;
            Some((
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year, 12, 31)?,
            ))
        }
        KeyPart::Date => {
            let day = folder_date(value)?;
            Some((day, day))
        }
        _ => None,
    }
}

/// `col IN (values)` (or `=`) on a folder partition. A value not in the folders' form matches
/// no folder.
fn folder_in(part: KeyPart, values: &BTreeSet<String>, scope: &mut Scope) {
    let folders = &mut scope.folder_days;
    let numbers = |width: usize| -> BTreeSet<u32> {
        values
            .iter()
            .filter_map(|v| folder_number(v, width))
            .collect()
    };
    match part {
        KeyPart::Year => folders.restrict_years(numbers(4)),
        KeyPart::Month => folders.restrict_months(numbers(2)),
        KeyPart::Day => folders.restrict_days(numbers(2)),
        KeyPart::Date => {
            let days: Vec<NaiveDate> = values.iter().filter_map(|v| folder_date(v)).collect();
            match (days.iter().min(), days.iter().max()) {
                (Some(&first), Some(&last)) => folders.bound(Some(first), Some(last)),
                // No value is a folder date: nothing matches.
                _ => folders.bound(Some(NaiveDate::MAX), Some(NaiveDate::MIN)),
            }
        }
        KeyPart::Account | KeyPart::Region => {}
    }
}

/// A folder name's number: exactly `width` digits, as the key holds it (`'06'`, not `'6'`), or
/// a number that came from a numeric constant (marked by a leading `#`).
fn folder_number(value: &str, width: usize) -> Option<u32> {
    match value.strip_prefix('#') {
        Some(n) => n.parse().ok(),
        None if value.len() == width && value.bytes().all(|b| b.is_ascii_digit()) => {
            value.parse().ok()
        }
        None => None,
    }
}

/// A `yyyy/MM/dd` folder date, exactly in that form.
fn folder_date(value: &str) -> Option<NaiveDate> {
    (value.len() == 10)
        .then(|| NaiveDate::parse_from_str(value, "%Y/%m/%d").ok())
        .flatten()
}

/// An integer constant, marked with `#` so it is not taken for folder text.
fn number(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Int8(Some(v)) => Some(format!("#{v}")),
        ScalarValue::Int16(Some(v)) => Some(format!("#{v}")),
        ScalarValue::Int32(Some(v)) => Some(format!("#{v}")),
        ScalarValue::Int64(Some(v)) => Some(format!("#{v}")),
        _ => None,
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
        key_partitions: true,
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

    #[test]
    fn partition_columns_bound_the_folder_days_exactly() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let ymd = COLUMNS.scope(&[
            col("year").eq(lit("2017")),
            col("month").eq(lit("06")),
            col("day").in_list(vec![lit("01"), lit("02")], false),
        ]);
        assert_eq!(
            ymd.folder_days.hull(),
            (Some(day("2017-06-01")), Some(day("2017-06-02")))
        );
        let projected = COLUMNS.scope(&[
            col("timestamp").gt_eq(lit("2014/09/26")),
            col("timestamp").lt(lit("2014/09/28")),
        ]);
        assert_eq!(
            projected.folder_days.hull(),
            (Some(day("2014-09-26")), Some(day("2014-09-27")))
        );
        let between =
            COLUMNS.scope(&[col("date_partition").between(lit("2018/01/01"), lit("2018/12/31"))]);
        assert_eq!(
            between.folder_days.hull(),
            (Some(day("2018-01-01")), Some(day("2018-12-31")))
        );
        // Text that is not a folder's form matches no folder, as it matches no row.
        let unpadded = COLUMNS.scope(&[col("month").eq(lit("6"))]);
        assert!(!unpadded.folder_days.allows(day("2017-06-01")));
        // A form that does not order as dates is left to the rows.
        assert!(!COLUMNS.can_prune(&col("timestamp").gt(lit("2017-06-01"))));
    }

    #[test]
    fn account_and_region_partitions_prune_as_their_columns() {
        let scope = COLUMNS.scope(&[
            col("accountid").eq(lit("111122223333")),
            col("region_partition").in_list(vec![lit("us-east-1")], false),
        ]);
        assert_eq!(scope.accounts, BTreeSet::from(["111122223333".to_string()]));
        assert_eq!(scope.regions, BTreeSet::from(["us-east-1".to_string()]));
        // A number compares as a number after a cast: not pruned by the key's text.
        assert!(!COLUMNS.can_prune(&col("account").eq(lit(111122223333_i64))));
        let listed = PruningColumns {
            key_partitions: false,
            ..COLUMNS
        };
        assert!(!listed.can_prune(&col("year").eq(lit("2017"))));
    }
}
