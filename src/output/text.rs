//! The text formats: table, CSV, JSON array and JSON lines. Each writes (and flushes) as batches
//! arrive.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{Output, RowSink, arrow_error, io_error};
use crate::error::{Error, Result};

/// A table prints in blocks of at most this many rows: widths need the rows first, and a block
/// shows without waiting for the rest of a long result...
pub(super) const TABLE_BLOCK_ROWS: usize = 1000;
/// ...and the first block is small, so the first rows show at once.
pub(super) const FIRST_BLOCK_ROWS: usize = 100;

pub struct TableSink<'a> {
    out: Output<'a>,
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    printed: bool,
}

impl<'a> TableSink<'a> {
    pub fn new(out: Output<'a>, schema: SchemaRef) -> Self {
        TableSink {
            out,
            schema,
            pending: Vec::new(),
            pending_rows: 0,
            printed: false,
        }
    }

    fn print_pending(&mut self) -> Result<()> {
        let text =
            arrow::util::pretty::pretty_format_batches(&self.pending).map_err(arrow_error)?;
        writeln!(self.out, "{text}").map_err(io_error)?;
        self.out.flush().map_err(io_error)?;
        self.pending.clear();
        self.pending_rows = 0;
        self.printed = true;
        Ok(())
    }
}

impl RowSink for TableSink<'_> {
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let block = if self.printed {
                TABLE_BLOCK_ROWS
            } else {
                FIRST_BLOCK_ROWS
            };
            let take = (block - self.pending_rows).min(batch.num_rows() - offset);
            self.pending.push(batch.slice(offset, take));
            self.pending_rows += take;
            offset += take;
            if self.pending_rows == block {
                self.print_pending()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if !self.pending.is_empty() {
            return self.print_pending();
        }
        if !self.printed {
            // An empty result still shows its columns.
            self.pending
                .push(RecordBatch::new_empty(Arc::clone(&self.schema)));
            return self.print_pending();
        }
        Ok(())
    }
}

pub struct CsvSink<'a> {
    out: Output<'a>,
    schema: SchemaRef,
    header_written: bool,
}

impl<'a> CsvSink<'a> {
    pub fn new(out: Output<'a>, schema: SchemaRef) -> Self {
        CsvSink {
            out,
            schema,
            header_written: false,
        }
    }
}

impl RowSink for CsvSink<'_> {
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(!self.header_written)
            .build(&mut *self.out);
        writer.write(&flatten_nested(batch)?).map_err(arrow_error)?;
        drop(writer);
        self.header_written = true;
        self.out.flush().map_err(io_error)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        if !self.header_written {
            // An empty result still shows its columns: the writer prints the header of an
            // empty batch.
            let empty = RecordBatch::new_empty(Arc::clone(&self.schema));
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *self.out);
            writer
                .write(&flatten_nested(&empty)?)
                .map_err(arrow_error)?;
        }
        self.out.flush().map_err(io_error)
    }
}

pub struct JsonLinesSink<'a> {
    out: Output<'a>,
}

impl<'a> JsonLinesSink<'a> {
    pub fn new(out: Output<'a>) -> Self {
        JsonLinesSink { out }
    }
}

impl RowSink for JsonLinesSink<'_> {
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut lines = Vec::new();
        json_lines(batch, &mut lines)?;
        self.out.write_all(&lines).map_err(io_error)?;
        self.out.flush().map_err(io_error)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.out.flush().map_err(io_error)
    }
}

/// `[{...},{...}]`: each batch is encoded as JSON lines (a record never holds a raw newline:
/// JSON escapes it) and the lines are joined with commas.
pub struct JsonArraySink<'a> {
    out: Output<'a>,
    rows: usize,
    buffer: Vec<u8>,
}

impl<'a> JsonArraySink<'a> {
    pub fn new(out: Output<'a>) -> Self {
        JsonArraySink {
            out,
            rows: 0,
            buffer: Vec::new(),
        }
    }
}

impl RowSink for JsonArraySink<'_> {
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        json_lines(batch, &mut self.buffer)?;
        for line in self.buffer.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let lead: &[u8] = if self.rows == 0 { b"[" } else { b"," };
            self.out.write_all(lead).map_err(io_error)?;
            self.out.write_all(line).map_err(io_error)?;
            self.rows += 1;
        }
        self.out.flush().map_err(io_error)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let close: &[u8] = if self.rows == 0 { b"[]\n" } else { b"]\n" };
        self.out.write_all(close).map_err(io_error)?;
        self.out.flush().map_err(io_error)
    }
}

/// A batch as JSON lines into `buffer` (replacing what it held). Records (see
/// [`super::RECORDS`]) are written with every key, in name order, JSON-text columns embedded.
fn json_lines(batch: &RecordBatch, buffer: &mut Vec<u8>) -> Result<()> {
    buffer.clear();
    let schema = batch.schema();
    let records = schema.metadata().contains_key(super::RECORDS);
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(records)
        .build::<_, arrow::json::writer::LineDelimited>(&mut *buffer);
    writer.write(batch).map_err(arrow_error)?;
    writer.finish().map_err(arrow_error)?;
    drop(writer);
    if !records {
        return Ok(());
    }
    let json_columns: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| f.metadata().contains_key(super::JSON_TEXT))
        .map(|f| f.name().as_str())
        .collect();
    let mut out = Vec::with_capacity(buffer.len());
    for line in buffer.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(line)
                .map_err(|e| Error::Runtime(format!("re-reading a JSON record: {e}")))?;
        for name in &json_columns {
            if let Some(serde_json::Value::String(text)) = object.get(*name)
                && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
            {
                object.insert(name.to_string(), value);
            }
        }
        serde_json::to_writer(&mut out, &object)
            .map_err(|e| Error::Runtime(format!("writing a JSON record: {e}")))?;
        out.push(b'\n');
    }
    *buffer = out;
    Ok(())
}

/// CSV has no nested types: structs, lists and maps become their text.
pub fn flatten_nested(batch: &RecordBatch) -> Result<RecordBatch> {
    let nested = |t: &DataType| {
        matches!(
            t,
            DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_) | DataType::Map(..)
        )
    };
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| nested(f.data_type()))
    {
        return Ok(batch.clone());
    }
    let options = FormatOptions::default().with_null("");
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if nested(field.data_type()) {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)
                .map_err(|e| Error::usage(format!("formatting {}: {e}", field.name())))?;
            let mut builder = StringBuilder::new();
            for i in 0..column.len() {
                if column.is_null(i) {
                    builder.append_null();
                } else {
                    builder.append_value(formatter.value(i).to_string());
                }
            }
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(builder.finish()));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::usage(e.to_string()))
}
