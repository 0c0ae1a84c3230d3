//! `trailscope tables`: the tables and their columns, nested fields as dotted paths.

use std::fmt::Write as _;

use arrow::datatypes::{DataType, Field, SchemaRef};
use clap::Args;

use crate::decode::schema::cloudtrail_schema;
use crate::error::{Error, Result};
use crate::table::integrity;
use crate::table::listed::{LogFilesTable, ReadErrorsTable};

#[derive(Debug, Args)]
pub struct TablesArgs {
    /// Show only this table.
    pub table: Option<String>,
}

/// (name, description, schema)
type TableInfo = (&'static str, &'static str, fn() -> SchemaRef);

const TABLES: &[TableInfo] = &[
    (
        "cloudtrail",
        "one row per CloudTrail record, with the log_file it came from",
        cloudtrail_schema,
    ),
    (
        "log_files",
        "one row per delivered log file (from listing alone)",
        LogFilesTable::table_schema,
    ),
    (
        "read_errors",
        "objects that look like CloudTrail's but could not be read, with the reason",
        ReadErrorsTable::table_schema,
    ),
    (
        "digests",
        "one row per digest file (missing ones inferred) with its chain status; signatures: trailscope verify",
        integrity::digests_schema,
    ),
    (
        "digest_log_files",
        "one row per log file a digest lists, and whether it is present",
        integrity::digest_log_files_schema,
    ),
    (
        "verify_results",
        "digest and log file verification results (no signature check; use trailscope verify)",
        integrity::verify_results_schema,
    ),
    (
        "gaps",
        "delivery gaps over 60 minutes per account and region, classified with evidence",
        integrity::gaps_schema,
    ),
];

pub async fn run(args: TablesArgs) -> Result<u8> {
    if let Some(name) = &args.table
        && !TABLES.iter().any(|(t, _, _)| t == name)
    {
        let names: Vec<&str> = TABLES.iter().map(|(t, _, _)| *t).collect();
        return Err(Error::usage(format!(
            "no table {name}: tables are {}",
            names.join(", ")
        )));
    }
    print!("{}", describe_tables(args.table.as_deref(), true));
    Ok(0)
}

/// Text listing of `only` (or every table); with `columns`, each column and its type.
pub fn describe_tables(only: Option<&str>, columns: bool) -> String {
    let mut out = String::new();
    for (name, about, schema) in TABLES
        .iter()
        .filter(|(t, _, _)| only.is_none_or(|o| o == *t))
    {
        let _ = writeln!(out, "{name}: {about}");
        if columns || only.is_some() {
            for field in schema().fields() {
                describe_field(&mut out, "", field);
            }
            out.push('\n');
        }
    }
    out
}

fn describe_field(out: &mut String, prefix: &str, field: &Field) {
    let path = format!("{prefix}{}", field.name());
    match field.data_type() {
        DataType::Struct(children) => {
            let _ = writeln!(out, "  {path:<52} struct");
            for child in children {
                describe_field(out, &format!("{path}."), child);
            }
        }
        DataType::List(item) => match item.data_type() {
            DataType::Struct(children) => {
                let _ = writeln!(out, "  {path:<52} list of struct");
                for child in children {
                    describe_field(out, &format!("{path}[]."), child);
                }
            }
            other => {
                let _ = writeln!(out, "  {path:<52} list of {other}");
            }
        },
        other => {
            let _ = writeln!(out, "  {path:<52} {}", type_name(other));
        }
    }
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 => "string".into(),
        DataType::Boolean => "boolean".into(),
        DataType::UInt64 => "bigint unsigned".into(),
        DataType::Timestamp(_, Some(tz)) => format!("timestamp ({tz})"),
        other => other.to_string(),
    }
}
