//! `trailscope tables`: the tables and their columns, nested fields as dotted paths.

use std::fmt::Write as _;

use arrow::datatypes::{DataType, Field};
use clap::Args;

use trailscope::error::{Error, Result};
use trailscope::table::registry;

#[derive(Debug, Args)]
pub struct TablesArgs {
    /// Show only this table.
    pub table: Option<String>,
}

pub async fn run(args: TablesArgs) -> Result<u8> {
    if let Some(name) = &args.table
        && registry::find(name).is_none()
    {
        let names: Vec<&str> = registry::TABLES.iter().map(|t| t.name).collect();
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
    for table in registry::TABLES
        .iter()
        .filter(|t| only.is_none_or(|o| o == t.name))
    {
        let _ = writeln!(out, "{}: {}", table.name, table.about);
        if columns || only.is_some() {
            for field in (table.schema)().fields() {
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
