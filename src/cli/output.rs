//! Printing query results: one seam, several formats, any `io::Write`.
//!
//! Adding a format: a variant here, a branch in [`write_batches`], a line in the README.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use clap::ValueEnum;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table for people.
    Table,
    Csv,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet (needs -o FILE).
    Parquet,
}

/// Where results go: stdout, or a file that must not be inside the archive being read.
pub fn open_output(
    path: Option<&Path>,
    archive_dir: Option<&Path>,
) -> Result<Box<dyn Write + Send>> {
    let Some(path) = path else {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout())));
    };
    if let Some(dir) = archive_dir {
        let target = absolute(path);
        if target.starts_with(dir) {
            return Err(Error::usage(format!(
                "-o {}: refusing to write inside the archive being read ({}); trailscope never alters evidence",
                path.display(),
                dir.display()
            )));
        }
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path.display(), e))?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

fn absolute(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match parent.canonicalize() {
        Ok(dir) => dir.join(path.file_name().unwrap_or_default()),
        Err(_) => path.to_path_buf(),
    }
}

/// Writes `batches` in `format`. Parquet is refused on a terminal-bound stdout.
pub fn write_batches(
    out: &mut (dyn Write + Send),
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    to_file: bool,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("output", e);
    let arrow_err = |e: arrow::error::ArrowError| match e {
        arrow::error::ArrowError::IoError(_, io_err) => Error::io("output", io_err),
        other => Error::usage(format!("writing results: {other}")),
    };
    // An empty result still shows its columns.
    let empty = [RecordBatch::new_empty(Arc::clone(schema))];
    let batches = if batches.is_empty() {
        &empty[..]
    } else {
        batches
    };
    match format {
        Format::Table => {
            let text = arrow::util::pretty::pretty_format_batches(batches).map_err(arrow_err)?;
            writeln!(out, "{text}").map_err(io)?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                let header: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                drop(writer);
                writeln!(out, "{}", header.join(",")).map_err(io)?;
            } else {
                for b in batches {
                    writer.write(&flatten_for_csv(b)?).map_err(arrow_err)?;
                }
            }
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                writer.write(b).map_err(arrow_err)?;
            }
            writer.finish().map_err(arrow_err)?;
            drop(writer);
            writeln!(out).map_err(io)?;
        }
        Format::Ndjson => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                writer.write(b).map_err(arrow_err)?;
            }
            writer.finish().map_err(arrow_err)?;
        }
        Format::Parquet => {
            if !to_file {
                return Err(Error::usage("--format parquet needs -o FILE"));
            }
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut *out, Arc::clone(schema), None)
                    .map_err(|e| Error::usage(format!("writing parquet: {e}")))?;
            for b in batches {
                writer
                    .write(b)
                    .map_err(|e| Error::usage(format!("writing parquet: {e}")))?;
            }
            writer
                .close()
                .map_err(|e| Error::usage(format!("writing parquet: {e}")))?;
        }
    }
    out.flush().map_err(io)
}

/// CSV has no nested types: structs and lists become their JSON-like text.
fn flatten_for_csv(batch: &RecordBatch) -> Result<RecordBatch> {
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
