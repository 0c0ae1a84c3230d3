//! Rows out: one seam ([`RowSink`]) that every result format implements, fed batch by batch as
//! the engine produces them, so the first rows print at once and memory stays bounded whatever
//! the result's size.
//!
//! Adding an output format:
//! 1. implement [`RowSink`] for it in this folder;
//! 2. add one [`FormatDef`] to [`FORMATS`] (name, aliases, one line for `--help`, whether it
//!    needs a file, the constructor);
//! 3. add a test below that writes a result in it and reads it back.

pub mod html;
mod text;

use std::io::Write;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

pub use text::flatten_nested;

/// Schema metadata marking a batch of records of a documented format (findings, verify items,
/// gaps): json and jsonl write every key, nulls too, in name order, and embed the columns marked
/// [`JSON_TEXT`] as JSON. Query results carry no marker and are written as the engine gives them.
pub const RECORDS: &str = "trailscope.records";
/// Field metadata marking a text column that holds JSON.
pub const JSON_TEXT: &str = "trailscope.json_text";

/// What a record column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Text,
    /// JSON text, embedded as JSON by the JSON formats.
    Json,
}

/// A column of `batch` as optional text per row (times as RFC 3339, to the second), for code
/// that reads query results into its own types.
pub fn text_cells(
    batch: &RecordBatch,
    name: &str,
) -> std::result::Result<Vec<Option<String>>, String> {
    use arrow::array::{Array, AsArray};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| format!("the query has no {name} column"))?;
    let column = match column.data_type() {
        DataType::Timestamp(_, _) => Arc::new(
            cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
                .map_err(|e| format!("column {name}: {e}"))?
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .map(|t| {
                    t.and_then(chrono::DateTime::from_timestamp_micros)
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                })
                .collect::<arrow::array::StringArray>(),
        ),
        _ => cast(column, &DataType::Utf8).map_err(|e| format!("column {name}: {e}"))?,
    };
    let strings = column.as_string::<i32>();
    Ok((0..strings.len())
        .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
        .collect())
}

/// Records as one batch for any sink: text columns named by `columns`, one row per item
/// (`None` is null), marked with [`RECORDS`].
pub fn records(
    columns: &[(&str, Column)],
    rows: impl IntoIterator<Item = Vec<Option<String>>>,
) -> Result<RecordBatch> {
    use arrow::array::{ArrayRef, StringBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    let mut builders: Vec<StringBuilder> = columns.iter().map(|_| StringBuilder::new()).collect();
    for row in rows {
        for (builder, cell) in builders.iter_mut().zip(row) {
            builder.append_option(cell);
        }
    }
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, kind)| {
            let field = Field::new(*name, DataType::Utf8, true);
            match kind {
                Column::Text => field,
                Column::Json => {
                    field.with_metadata([(JSON_TEXT.to_string(), "true".to_string())].into())
                }
            }
        })
        .collect();
    let schema =
        Schema::new(fields).with_metadata([(RECORDS.to_string(), "true".to_string())].into());
    let arrays: Vec<ArrayRef> = builders
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    RecordBatch::try_new(Arc::new(schema), arrays).map_err(arrow_error)
}

/// Where rows go. A sink sees [`RowSink::batch`] for each batch in order, then
/// [`RowSink::finish`] once; an empty result gets `finish` alone and still shows its columns
/// where the format can.
pub trait RowSink {
    fn batch(&mut self, batch: &RecordBatch) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<()>;
}

/// The output a sink writes to (stdout, a file).
pub type Output<'a> = &'a mut (dyn Write + Send);

/// One output format.
pub struct FormatDef {
    pub name: &'static str,
    /// Other names accepted for it (`ndjson` for `jsonl`).
    pub aliases: &'static [&'static str],
    pub about: &'static str,
    /// Binary formats are refused on a terminal-bound stdout: they need `-o FILE`.
    pub needs_file: bool,
    pub sink: for<'a> fn(Output<'a>, SchemaRef) -> Result<Box<dyn RowSink + 'a>>,
}

pub const FORMATS: &[FormatDef] = &[
    FormatDef {
        name: "table",
        aliases: &[],
        about: "aligned table for people (printed in blocks of rows as they arrive)",
        needs_file: false,
        sink: |out, schema| Ok(Box::new(text::TableSink::new(out, schema))),
    },
    FormatDef {
        name: "csv",
        aliases: &[],
        about: "comma-separated values with a header; nested values as text",
        needs_file: false,
        sink: |out, schema| Ok(Box::new(text::CsvSink::new(out, schema))),
    },
    FormatDef {
        name: "json",
        aliases: &[],
        about: "one JSON array of objects",
        needs_file: false,
        sink: |out, _| Ok(Box::new(text::JsonArraySink::new(out))),
    },
    FormatDef {
        name: "jsonl",
        aliases: &["ndjson"],
        about: "one JSON object per line",
        needs_file: false,
        sink: |out, _| Ok(Box::new(text::JsonLinesSink::new(out))),
    },
    FormatDef {
        name: "parquet",
        aliases: &[],
        about: "Apache Parquet (needs -o FILE)",
        needs_file: true,
        sink: |out, schema| {
            Ok(Box::new(ParquetSink(
                parquet::arrow::ArrowWriter::try_new(out, schema, None).map_err(parquet_error)?,
            )))
        },
    },
];

impl std::fmt::Debug for FormatDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The format called `name` (or one of its aliases).
pub fn format(name: &str) -> Option<&'static FormatDef> {
    FORMATS
        .iter()
        .find(|f| f.name == name || f.aliases.contains(&name))
}

/// JSON lines, the format of evidence items (verify, gaps).
pub fn jsonl() -> &'static FormatDef {
    FORMATS
        .iter()
        .find(|f| f.name == "jsonl")
        .unwrap_or(&FORMATS[0])
}

impl FormatDef {
    /// A sink writing to `out`; `to_file` says whether `out` is a file the user named.
    pub fn open<'a>(
        &self,
        out: Output<'a>,
        schema: SchemaRef,
        to_file: bool,
    ) -> Result<Box<dyn RowSink + 'a>> {
        if self.needs_file && !to_file {
            return Err(Error::usage(format!(
                "format {} is binary: write it to a file, not a terminal or pipe",
                self.name
            )));
        }
        (self.sink)(out, schema)
    }
}

/// Writes already collected batches through a sink of `format`.
pub fn write_all(
    format: &FormatDef,
    out: Output<'_>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    to_file: bool,
) -> Result<()> {
    let mut sink = format.open(out, Arc::clone(schema), to_file)?;
    for b in batches {
        sink.batch(b)?;
    }
    sink.finish()
}

struct ParquetSink<'a>(parquet::arrow::ArrowWriter<Output<'a>>);

impl RowSink for ParquetSink<'_> {
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.0.write(batch).map_err(parquet_error)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let out = self.0.into_inner().map_err(parquet_error)?;
        out.flush().map_err(|e| Error::io("output", e))
    }
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::io("output", *io),
                Err(other) => Error::usage(format!("writing parquet: {other}")),
            }
        }
        other => Error::usage(format!("writing parquet: {other}")),
    }
}

/// Output errors keep their I/O kind, so a closed pipe (`| head`) can end the run quietly.
fn arrow_error(e: ArrowError) -> Error {
    match e {
        ArrowError::IoError(_, io) => Error::io("output", io),
        ArrowError::ExternalError(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => Error::io("output", *io),
            Err(other) => Error::usage(format!("writing results: {other}")),
        },
        other => Error::usage(format!("writing results: {other}")),
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::io("output", e)
}

#[cfg(test)]
mod tests;
