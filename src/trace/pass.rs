//! One decoding pass for a trace. The shared scan keeps the issuing calls as `cloudtrail` (the
//! rows and columns `issued_credentials` reads) and, beside them, the few columns of every event
//! made with an access key, as `trace_events`, with the repetitive text columns
//! dictionary-encoded per batch. Which keys matter is only known once every issuing call has
//! been read, so the events are kept until then; past [`EVENTS_BUDGET`] rows they are dropped
//! and read again by a second scan, so memory stays bounded on any archive.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::read::ACTION_COLUMNS;
use crate::error::{Error, Result};
use crate::table::registry::sql_of;
use crate::table::shared_scan::{AlongSide, cast_to, share_cloudtrail_scan, with_dictionaries};

/// The table of kept events.
pub const EVENTS_TABLE: &str = "trace_events";

/// Events kept in one pass at most (about 150 bytes each); beyond, a second scan reads them.
pub const EVENTS_BUDGET: usize = 4_000_000;

/// Text columns that repeat within a log file (the log file itself above all).
const DICTIONARY: [&str; 10] = [
    "account_id",
    "region",
    "eventsource",
    "eventname",
    "errorcode",
    "principal",
    "sourceipaddress",
    "useragent",
    "log_file",
    "issuer_arn",
];

fn events_select() -> String {
    format!(
        "SELECT {ACTION_COLUMNS}, useridentity.sessioncontext.sessionissuer.arn AS issuer_arn \
         FROM cloudtrail"
    )
}

/// Keeps the rows of `batch` made with an access key, in `schema`'s types.
fn keep(batch: &RecordBatch, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
    let arrow = |e: datafusion::arrow::error::ArrowError| -> Error {
        datafusion::error::DataFusionError::from(e).into()
    };
    let Some(keys) = batch
        .column_by_name("access_key_id")
        .and_then(|c| c.as_string_opt::<i32>())
    else {
        return Ok(None);
    };
    let mask: BooleanArray = keys
        .iter()
        .map(|k| Some(k.is_some_and(|k| !k.is_empty())))
        .collect();
    if mask.true_count() == 0 {
        return Ok(None);
    }
    let kept = filter_record_batch(batch, &mask).map_err(arrow)?;
    Ok(Some(cast_to(&kept, schema)?))
}

/// Runs the pass over `ctx`'s `cloudtrail`. Returns whether the events were kept (registered as
/// [`EVENTS_TABLE`]); `false` when there were more than `budget`.
pub async fn run(ctx: &SessionContext, budget: usize) -> Result<bool> {
    let select = events_select();
    let schema = with_dictionaries(ctx.sql(&select).await?.schema().as_arrow(), &DICTIONARY);
    let mut kept: Vec<RecordBatch> = Vec::new();
    let mut rows = 0usize;
    let mut overflow = false;
    let mut sink = |batch: RecordBatch| -> Result<()> {
        if overflow {
            return Ok(());
        }
        if let Some(b) = keep(&batch, &schema)? {
            rows += b.num_rows();
            if rows > budget {
                overflow = true;
                kept = Vec::new();
            } else {
                kept.push(b);
            }
        }
        Ok(())
    };
    share_cloudtrail_scan(
        ctx,
        &[sql_of("issued_credentials").to_string()],
        |_| async { Ok(()) },
        vec![AlongSide {
            select: &select,
            sink: &mut sink,
        }],
    )
    .await?;
    if overflow {
        return Ok(false);
    }
    ctx.register_table(
        EVENTS_TABLE,
        Arc::new(MemTable::try_new(schema, vec![kept])?),
    )?;
    Ok(true)
}
