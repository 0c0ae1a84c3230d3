//! The snapshot tables (`trails`, `trail_status`, `buckets`, ...) as in-memory DataFusion tables.
//!
//! The rows come from [`crate::snapshot::facts`]; this file only types them into Arrow. A
//! snapshot is small (hundreds of calls), so the tables are built once per session.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde_json::Value;

use crate::decode::schema::TIMEZONE;
use crate::error::Result;
use crate::snapshot::Snapshot;
use crate::snapshot::facts::{ColType, FactTable, fact_tables};

/// Registers every snapshot table (empty when no snapshot is given, so controls still plan).
pub fn register_snapshot_tables(ctx: &SessionContext, snapshots: &[Snapshot]) -> Result<()> {
    for table in fact_tables(snapshots) {
        let batch = to_batch(&table)?;
        let provider = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(table.name, Arc::new(provider))?;
    }
    Ok(())
}

fn arrow_type(t: ColType) -> DataType {
    match t {
        ColType::Text | ColType::Json => DataType::Utf8,
        ColType::Bool => DataType::Boolean,
        ColType::Int => DataType::Int64,
        ColType::Float => DataType::Float64,
        ColType::Time => DataType::Timestamp(TimeUnit::Microsecond, Some(TIMEZONE.into())),
    }
}

/// A time as the AWS CLI prints it: ISO 8601 (v2) or epoch seconds (v1, and `--cli-timestamp-format none`).
fn micros(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => crate::time::parse_user_time(s)
            .ok()
            .map(|t| t.timestamp_micros()),
        Value::Number(n) => n.as_f64().map(|f| (f * 1e6) as i64),
        _ => None,
    }
}

fn text(v: &Value, json: bool) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if !json => Some(s.clone()),
        Value::Bool(b) if !json => Some(b.to_string()),
        Value::Number(n) if !json => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        // Booleans relayed as strings happen in hand-made snapshots too.
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn to_batch(table: &FactTable) -> Result<RecordBatch> {
    let fields: Vec<Field> = table
        .columns
        .iter()
        .map(|(name, t)| Field::new(*name, arrow_type(*t), true))
        .collect();
    let null = Value::Null;
    let columns: Vec<ArrayRef> = table
        .columns
        .iter()
        .map(|(name, t)| {
            let values = table.rows.iter().map(|r| r.get(*name).unwrap_or(&null));
            let array: ArrayRef = match t {
                ColType::Text => Arc::new(values.map(|v| text(v, false)).collect::<StringArray>()),
                ColType::Json => Arc::new(values.map(|v| text(v, true)).collect::<StringArray>()),
                ColType::Bool => Arc::new(values.map(bool_of).collect::<BooleanArray>()),
                ColType::Int => Arc::new(values.map(Value::as_i64).collect::<Int64Array>()),
                ColType::Float => Arc::new(values.map(Value::as_f64).collect::<Float64Array>()),
                ColType::Time => Arc::new(
                    values
                        .map(micros)
                        .collect::<TimestampMicrosecondArray>()
                        .with_timezone(TIMEZONE),
                ),
            };
            array
        })
        .collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(datafusion::error::DataFusionError::from)?)
}
