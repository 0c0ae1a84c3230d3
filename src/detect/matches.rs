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

use datafusion::arrow::array::{Array, AsArray, BooleanArray, UInt64Array};
use datafusion::arrow::compute::{BatchCoalescer, filter_record_batch, kernels::boolean::or};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::load::Compiled;
use super::{EVENT_COLUMN_NAMES, EVENT_COLUMNS};
use crate::error::{Error, Result};
use crate::table::shared_scan::{KEPT_BATCH_ROWS, cast_to, with_dictionaries};

/// The table of matched events the rules' queries read.
pub const TABLE: &str = "detect_matches";
/// Its row number, which correlations carry in place of the event columns.
const ROW_ID: &str = "row_id";

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
    /// The selection as a `SELECT` over `source`. A correlation's (`rule_key` set) reads only
    /// the row, time and id of each event from the matched events; the rest is joined back to
    /// its members (see [`Stages::sql`]).
    pub fn sql(&self, source: &Source) -> String {
        self.select(source, true)
    }

    /// [`Self::sql`], except that with `eventid` false a correlation's rows over the matched
    /// events leave the event id out (the window SQL breaks ties by it; the sweep does not).
    fn select(&self, source: &Source, eventid: bool) -> String {
        let mut columns = Vec::new();
        let (table, condition) = match source {
            Source::Archive => {
                columns.push(EVENT_COLUMNS.to_string());
                columns.extend(self.values.iter().map(|(e, a)| format!("{e} AS {a}")));
                ("cloudtrail", self.condition.clone())
            }
            Source::Matches(m) => {
                columns.push(match self.rule_key {
                    Some(_) if eventid => format!("{ROW_ID}, eventtime, eventid"),
                    Some(_) => format!("{ROW_ID}, eventtime"),
                    None => EVENT_COLUMN_NAMES.join(", "),
                });
                columns.extend(
                    self.values
                        .iter()
                        .map(|(e, a)| format!("{} AS {a}", m.value_column(e))),
                );
                (TABLE, m.flag_column(&self.condition))
            }
        };
        if let Some(key) = &self.rule_key {
            let key = super::compile::quote(key);
            columns.push(match source {
                Source::Archive => format!("{key} AS matched_rule"),
                // The same text on every row: one dictionary value, not a copy per event.
                Source::Matches(_) => {
                    format!("arrow_cast({key}, 'Dictionary(Int32, Utf8)') AS matched_rule")
                }
            });
        }
        format!(
            "SELECT {}\nFROM {table}\nWHERE {condition}",
            columns.join(", ")
        )
    }
}

/// A correlation's stages after `matched`, as common table expressions up to `bursts` (see
/// [`super::correlate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    pub ctes: String,
    /// How many group-by values (`group_1..n`) the stages carry.
    pub groups: usize,
    /// The same stages as one sweep, when [`super::windows`] can evaluate them: how `detect`
    /// runs them over matched events.
    pub window: Option<super::windows::Window>,
}

impl Stages {
    /// The correlation's query: `selections` as `matched`, the stages, and the events of every
    /// burst with their group values, rule and burst number.
    pub fn sql(&self, selections: &[Selection], source: &Source) -> String {
        format!(
            "WITH matched AS (\n{}\n),\n{}\n{}",
            Self::union(selections, source, "  ", true),
            self.ctes,
            self.members_sql("bursts", source)
        )
    }

    /// The correlation's `matched` rows alone, as [`super::windows`] sweeps them.
    pub fn matched_sql(selections: &[Selection], source: &Source) -> String {
        Self::union(selections, source, "", false)
    }

    fn union(selections: &[Selection], source: &Source, indent: &str, eventid: bool) -> String {
        let matched: Vec<String> = selections
            .iter()
            .map(|s| {
                format!(
                    "{indent}{}",
                    s.select(source, eventid)
                        .replace('\n', &format!("\n{indent}"))
                )
            })
            .collect();
        matched.join(&format!("\n{indent}UNION ALL\n"))
    }

    /// The events of every burst in `bursts` (a table or CTE of `row_id` or the event columns,
    /// `group_*`, `matched_rule` and `burst`), with their group values, rule and burst number.
    pub fn members_sql(&self, bursts: &str, source: &Source) -> String {
        let groups: String = (1..=self.groups)
            .map(|i| format!("b.group_{i}, "))
            .collect();
        match source {
            Source::Archive => {
                let events: Vec<String> = EVENT_COLUMN_NAMES
                    .iter()
                    .map(|c| format!("b.{c}"))
                    .collect();
                format!(
                    "SELECT {}, {groups}b.matched_rule, b.burst\nFROM {bursts} b",
                    events.join(", ")
                )
            }
            Source::Matches(_) => {
                let events: Vec<String> = EVENT_COLUMN_NAMES
                    .iter()
                    .map(|c| format!("d.{c}"))
                    .collect();
                format!(
                    "SELECT {}, {groups}b.matched_rule, b.burst\nFROM {bursts} b JOIN {TABLE} d ON d.{ROW_ID} = b.{ROW_ID}",
                    events.join(", ")
                )
            }
        }
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

    /// One query for every rule that is not a correlation, over the matched events: the event
    /// columns and the flags of those rules' conditions, for the rows any of them holds for. Each
    /// rule then takes its rows with [`Self::rows_of`]: the matched events are read and planned
    /// once for all of them rather than once per rule. `None` when they have no flag.
    pub fn plain_sql(&self, rules: &[&Compiled]) -> Option<String> {
        let flags: std::collections::BTreeSet<&str> = rules
            .iter()
            .flat_map(|r| &r.selections)
            .filter_map(|s| Some(self.flags.get(&s.condition)?.as_str()))
            .collect();
        if flags.is_empty() {
            return None;
        }
        let flags: Vec<&str> = flags.into_iter().collect();
        Some(format!(
            "SELECT {}, {}\nFROM {TABLE}\nWHERE {}",
            EVENT_COLUMN_NAMES.join(", "),
            flags.join(", "),
            flags.join(" OR ")
        ))
    }

    /// The rows of `batches` (read by [`Self::plain_sql`]) that `rule` selects: those of each of
    /// its selections in turn, as the `UNION ALL` of [`Selection::sql`] gives them.
    pub fn rows_of(&self, rule: &Compiled, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
        let mut rows = Vec::new();
        for selection in &rule.selections {
            let Some(flag) = self.flags.get(&selection.condition) else {
                continue;
            };
            for batch in batches {
                let Some(mask) = batch.column_by_name(flag).and_then(|c| c.as_boolean_opt()) else {
                    continue;
                };
                let kept = filter_record_batch(batch, &null_as_false(mask)).map_err(arrow_error)?;
                if kept.num_rows() > 0 {
                    rows.push(kept);
                }
            }
        }
        Ok(rows)
    }

    /// Keeps, batch by batch, the events some rule matched; see [`Collector`].
    pub fn collector(&self) -> Collector {
        Collector {
            flags: self.flag_order.clone(),
            batches: Vec::new(),
            held: 0,
            budget: MEMORY_BUDGET,
            spill: None,
            archive: None,
            rows: 0,
            schema: None,
            coalescer: None,
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

/// The matched events of one pass held in memory up to this many bytes; past it they go to a
/// temporary Parquet file the rules' queries read (a broad selection such as every read-only
/// call keeps more than half of a busy month's events).
pub const MEMORY_BUDGET: usize = 128 << 20;

/// The matched events of one pass, gathered from its batches.
pub struct Collector {
    flags: Vec<String>,
    batches: Vec<RecordBatch>,
    /// Bytes of the rows kept, as the scan gave them: past the budget, they spill.
    held: usize,
    budget: usize,
    spill: Option<Spill>,
    /// The local archive, where no spill may go.
    archive: Option<std::path::PathBuf>,
    rows: usize,
    /// The kept rows' schema (text columns that repeat dictionary-encoded), from the first batch.
    schema: Option<SchemaRef>,
    /// The kept rows gathered into batches of [`KEPT_BATCH_ROWS`]: a decoded batch matches a few
    /// hundred events, and every plan over the table reads each held batch's size.
    coalescer: Option<BatchCoalescer>,
}

/// Matched events written to a temporary Parquet file (its folder is deleted when the
/// [`Registered`] table is dropped).
struct Spill {
    dir: tempfile::TempDir,
    path: std::path::PathBuf,
    writer: parquet::arrow::ArrowWriter<std::fs::File>,
}

impl Spill {
    fn start(schema: &SchemaRef, archive: Option<&std::path::Path>) -> Result<Spill> {
        let temporary = std::env::temp_dir();
        if let Some(archive) = archive
            && crate::archive::location::is_within(
                &temporary.to_string_lossy(),
                &archive.to_string_lossy(),
            )
        {
            return Err(Error::usage(format!(
                "the temporary folder {} is inside the archive being read, and matched events \
                 past the memory budget are written there: set TMPDIR to a folder outside the \
                 archive",
                temporary.display()
            )));
        }
        let dir = tempfile::Builder::new()
            .prefix("trailscope-detect-")
            .tempdir()
            .map_err(|e| Error::io("a temporary folder for matched events", e))?;
        let path = dir.path().join("matches.parquet");
        let file = std::fs::File::create(&path).map_err(|e| Error::io(path.display(), e))?;
        // Small row groups: the writer holds one in memory, and the rules' filters skip row
        // groups their flag is false throughout.
        let properties = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(64 * 1024))
            .build();
        let writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .map_err(|e| spill_error(&path, e))?;
        Ok(Spill { dir, path, writer })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| spill_error(&self.path, e))
    }
}

fn spill_error(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("writing matched events to {}: {e}", path.display()))
}

impl Collector {
    /// Keeps the rows of `batch` (the pass's columns) that match at least one condition. A
    /// condition that is NULL (a field the event lacks) does not match, as in a `WHERE`.
    pub fn add(&mut self, batch: RecordBatch) -> Result<()> {
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
        let first = self.rows as u64;
        self.rows += kept.num_rows();
        let ids = UInt64Array::from_iter_values(first..self.rows as u64);
        let mut columns = kept.columns().to_vec();
        columns.push(Arc::new(ids));
        let with_ids =
            RecordBatch::try_new(with_row_id(&kept.schema()), columns).map_err(arrow_error)?;
        let schema = self
            .schema
            .get_or_insert_with(|| kept_schema(&with_ids.schema()))
            .clone();
        let kept = cast_to(&with_ids, &schema)?;
        self.held += kept.get_array_memory_size();
        let coalescer = self
            .coalescer
            .get_or_insert_with(|| BatchCoalescer::new(Arc::clone(&schema), KEPT_BATCH_ROWS));
        coalescer.push_batch(kept).map_err(arrow_error)?;
        if self.spill.is_none() && self.held > self.budget {
            // Past the budget: every row so far goes to the file, the rows still being gathered
            // too, and every row after them.
            coalescer.finish_buffered_batch().map_err(arrow_error)?;
            let mut spill = Spill::start(&schema, self.archive.as_deref())?;
            for batch in self.batches.drain(..) {
                spill.write(&batch)?;
            }
            self.spill = Some(spill);
        }
        self.hold_completed()
    }

    /// Moves the coalescer's completed batches to memory, or to the spill file once there is one.
    fn hold_completed(&mut self) -> Result<()> {
        let Some(coalescer) = &mut self.coalescer else {
            return Ok(());
        };
        while let Some(batch) = coalescer.next_completed_batch() {
            match &mut self.spill {
                Some(spill) => spill.write(&batch)?,
                None => self.batches.push(batch),
            }
        }
        Ok(())
    }

    /// The same collector holding at most `bytes` in memory, and never spilling into `archive`
    /// (a local archive's folder: the system's temporary folder could be set inside it).
    pub fn spilling_past(mut self, bytes: usize, archive: Option<std::path::PathBuf>) -> Self {
        self.budget = bytes;
        self.archive = archive;
        self
    }

    /// Registers the matched events as [`TABLE`] in `ctx`. `schema` is the pass's, for when no
    /// batch arrived. Keep what it returns until the rules have run: a spilled table's file goes
    /// with it.
    pub async fn register(mut self, ctx: &SessionContext, schema: SchemaRef) -> Result<Registered> {
        if let Some(coalescer) = &mut self.coalescer {
            coalescer.finish_buffered_batch().map_err(arrow_error)?;
        }
        self.hold_completed()?;
        let schema = self
            .schema
            .unwrap_or_else(|| kept_schema(&with_row_id(&schema)));
        let rows = self.rows;
        if let Some(Spill { dir, path, writer }) = self.spill {
            writer.close().map_err(|e| spill_error(&path, e))?;
            ctx.deregister_table(TABLE)?;
            // Read back in the kept schema (dictionaries included), as the held batches were.
            let options = datafusion::prelude::ParquetReadOptions {
                schema: Some(&schema),
                ..Default::default()
            };
            let url = path
                .to_str()
                .ok_or_else(|| Error::Runtime(format!("{}: not a UTF-8 path", path.display())))?;
            ctx.register_parquet(TABLE, url, options).await?;
            return Ok(Registered {
                rows,
                spill: Some(dir),
            });
        }
        // One partition per core, so each rule's query over them runs on all of them.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); cores];
        for (i, batch) in self.batches.into_iter().enumerate() {
            partitions[i % cores].push(batch);
        }
        ctx.deregister_table(TABLE)?;
        ctx.register_table(TABLE, Arc::new(MemTable::try_new(schema, partitions)?))?;
        Ok(Registered { rows, spill: None })
    }
}

/// The matched events as registered: how many, and the temporary folder holding them when they
/// did not fit in [`MEMORY_BUDGET`] (deleted when this is dropped).
pub struct Registered {
    pub rows: usize,
    spill: Option<tempfile::TempDir>,
}

impl Registered {
    pub fn spilled(&self) -> bool {
        self.spill.is_some()
    }
}

/// The kept events' schema: the event columns that repeat within a log file dictionary-encoded
/// (half a million kept events of a month held the log file's name half a million times).
fn kept_schema(schema: &SchemaRef) -> SchemaRef {
    with_dictionaries(
        schema,
        &[
            "eventname",
            "eventsource",
            "principal",
            "useragent",
            "account_id",
            "region",
            "log_file",
        ],
    )
}

/// `schema` with [`ROW_ID`] last.
fn with_row_id(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(ROW_ID, DataType::UInt64, false)));
    Arc::new(Schema::new(fields))
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
mod tests;
