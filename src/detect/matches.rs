//! Every rule's condition evaluated in the one decoding pass.
//!
//! Rules do not read `cloudtrail` again after the scan. The scan computes, for every event, one
//! boolean per distinct rule condition (`m_0`, `m_1`, ...) and one column per value a
//! correlation groups or counts by (`v_0`, ...), beside the event columns hits cite; only the
//! events some rule matched are kept, as the table `detect_matches`. Each rule's query then reads
//! that table: a plain rule is `WHERE m_k`, a correlation's `matched` stage the same with its
//! values. So memory holds the matched events' few columns, never the wide columns (request
//! parameters, the record's text) the conditions read, and each condition is evaluated once.
//!
//! [`Selection::sql`] writes the same selection over the archive too (`--show-sql`, `lint`), so
//! what a rule means is written once.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::compute::{filter_record_batch, kernels::boolean::or};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::load::Compiled;
use super::{EVENT_COLUMN_NAMES, EVENT_COLUMNS};
use crate::error::{Error, Result};

/// The table of matched events the rules' queries read.
pub const TABLE: &str = "detect_matches";

/// What one rule (or one rule a correlation names) selects of an event: the events its
/// condition holds for, with the values a correlation groups and counts them by.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// A boolean SQL expression over `cloudtrail`.
    pub condition: String,
    /// (SQL expression over `cloudtrail`, the name it is selected as).
    pub values: Vec<(String, String)>,
    /// For a correlation, the rule's key, selected as `matched_rule`.
    pub rule_key: Option<String>,
}

/// Where a selection reads events from.
pub enum Source<'a> {
    /// `cloudtrail` itself.
    Archive,
    /// The matched events of one pass (see [`Matcher`]).
    Matches(&'a Matcher),
}

impl Selection {
    /// The selection as a `SELECT` over `source`.
    pub fn sql(&self, source: &Source) -> String {
        let mut columns = Vec::new();
        let (table, condition) = match source {
            Source::Archive => {
                columns.push(EVENT_COLUMNS.to_string());
                columns.extend(self.values.iter().map(|(e, a)| format!("{e} AS {a}")));
                ("cloudtrail", self.condition.clone())
            }
            Source::Matches(m) => {
                columns.push(EVENT_COLUMN_NAMES.join(", "));
                columns.extend(
                    self.values
                        .iter()
                        .map(|(e, a)| format!("{} AS {a}", m.value_column(e))),
                );
                (TABLE, m.flag_column(&self.condition))
            }
        };
        if let Some(key) = &self.rule_key {
            columns.push(format!("{} AS matched_rule", super::compile::quote(key)));
        }
        format!(
            "SELECT {}\nFROM {table}\nWHERE {condition}",
            columns.join(", ")
        )
    }
}

/// The columns of one pass for a set of rules: a flag per distinct condition and a column per
/// distinct value expression (rules share them: a correlation and the rule it names, or two
/// rules with the same condition, cost one evaluation).
#[derive(Debug, Default)]
pub struct Matcher {
    flags: BTreeMap<String, String>,
    values: BTreeMap<String, String>,
    /// The flags in column order.
    flag_order: Vec<String>,
}

impl Matcher {
    pub fn new(rules: &[Compiled]) -> Matcher {
        let mut matcher = Matcher::default();
        for selection in rules.iter().flat_map(|r| &r.selections) {
            if !matcher.flags.contains_key(&selection.condition) {
                let name = format!("m_{}", matcher.flags.len());
                matcher.flag_order.push(name.clone());
                matcher.flags.insert(selection.condition.clone(), name);
            }
            for (expr, _) in &selection.values {
                if event_column(expr).is_none() && !matcher.values.contains_key(expr) {
                    let name = format!("v_{}", matcher.values.len());
                    matcher.values.insert(expr.clone(), name);
                }
            }
        }
        matcher
    }

    fn flag_column(&self, condition: &str) -> String {
        self.flags
            .get(condition)
            .cloned()
            .unwrap_or_else(|| "false".into())
    }

    /// A value's column: an event column when the value is one (a group by principal), else its
    /// own.
    fn value_column(&self, expr: &str) -> String {
        event_column(expr)
            .map(str::to_string)
            .or_else(|| self.values.get(expr).cloned())
            .unwrap_or_else(|| "NULL".into())
    }

    /// The pass's `SELECT` over `cloudtrail`: the event columns, every flag and every value.
    pub fn select_sql(&self) -> String {
        let mut columns = vec![EVENT_COLUMNS.to_string()];
        columns.extend(self.flags.iter().map(|(c, n)| format!("({c}) AS {n}")));
        columns.extend(self.values.iter().map(|(e, n)| format!("{e} AS {n}")));
        format!("SELECT {} FROM cloudtrail", columns.join(", "))
    }

    /// Keeps, batch by batch, the events some rule matched; see [`Collector`].
    pub fn collector(&self) -> Collector {
        Collector {
            flags: self.flag_order.clone(),
            batches: Vec::new(),
            schema: None,
        }
    }
}

/// The event column `expr` is (by its expression in [`EVENT_COLUMNS`]), if any.
fn event_column(expr: &str) -> Option<&'static str> {
    EVENT_COLUMNS
        .split(", ")
        .zip(EVENT_COLUMN_NAMES)
        .find(|(sql, _)| sql.split(" AS ").next() == Some(expr))
        .map(|(_, name)| name)
}

/// The matched events of one pass, gathered from its batches.
pub struct Collector {
    flags: Vec<String>,
    batches: Vec<RecordBatch>,
    schema: Option<SchemaRef>,
}

impl Collector {
    /// Keeps the rows of `batch` (the pass's columns) that match at least one condition. A
    /// condition that is NULL (a field the event lacks) does not match, as in a `WHERE`.
    pub fn add(&mut self, batch: RecordBatch) -> Result<()> {
        self.schema.get_or_insert_with(|| batch.schema());
        let mut any: Option<BooleanArray> = None;
        for name in &self.flags {
            let Some(flag) = batch.column_by_name(name).and_then(|c| c.as_boolean_opt()) else {
                continue;
            };
            let flag = null_as_false(flag);
            any = Some(match any {
                Some(so_far) => or(&so_far, &flag).map_err(arrow_error)?,
                None => flag,
            });
        }
        let Some(mask) = any else {
            return Ok(());
        };
        if mask.true_count() == 0 {
            return Ok(());
        }
        let kept = filter_record_batch(&batch, &mask).map_err(arrow_error)?;
        self.batches.push(kept);
        Ok(())
    }

    /// Registers the matched events as [`TABLE`] in `ctx`. `schema` is the pass's, for when no
    /// batch arrived.
    pub fn register(self, ctx: &SessionContext, schema: SchemaRef) -> Result<usize> {
        let schema = self.schema.unwrap_or(schema);
        let rows = self.batches.iter().map(RecordBatch::num_rows).sum();
        ctx.deregister_table(TABLE)?;
        ctx.register_table(
            TABLE,
            Arc::new(MemTable::try_new(schema, vec![self.batches])?),
        )?;
        Ok(rows)
    }
}

/// `flag` with NULL as false (arrow's own helper insists on a null buffer).
fn null_as_false(flag: &BooleanArray) -> BooleanArray {
    match flag.nulls() {
        Some(nulls) => BooleanArray::new(flag.values() & nulls.inner(), None),
        None => BooleanArray::new(flag.values().clone(), None),
    }
}

fn arrow_error(e: datafusion::arrow::error::ArrowError) -> Error {
    datafusion::error::DataFusionError::from(e).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_is_an_event_column_is_read_from_it() {
        assert_eq!(event_column("useridentity.arn"), Some("principal"));
        assert_eq!(event_column("eventname"), Some("eventname"));
        assert_eq!(event_column("useridentity.type"), None);
    }
}
