//! The trail's stop and restart events for `gaps`, read with SQL over `cloudtrail`.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use chrono::{DateTime, Duration};
use datafusion::prelude::SessionContext;

use super::{ArchiveSource, TableSource, session};
use crate::archive::Scope;
use crate::error::{Error, Result};
use crate::integrity::gaps::{GapOptions, GapReport, STOP_EVENTS, StopEventSource, TrailEvent};

/// Stop events from the archive (its lake too, when it has one), and from a session that
/// already holds the range's events when the caller has one (the report's shared scan).
pub struct CloudTrailStops<'a> {
    source: &'a TableSource,
    in_range: Option<&'a SessionContext>,
}

impl<'a> CloudTrailStops<'a> {
    pub fn new(source: &'a TableSource, in_range: Option<&'a SessionContext>) -> Self {
        CloudTrailStops { source, in_range }
    }
}

#[async_trait::async_trait]
impl StopEventSource for CloudTrailStops<'_> {
    async fn stop_events_in_range(&self) -> Result<Vec<TrailEvent>> {
        if let Some(ctx) = self.in_range {
            return read(ctx).await;
        }
        let scope = &self.source.scope;
        self.read_between(scope.from, scope.to).await
    }

    async fn stop_events_before(&self, lookback: Duration) -> Result<Vec<TrailEvent>> {
        match self.source.scope.from {
            Some(from) => self.read_between(Some(from - lookback), Some(from)).await,
            None => Ok(Vec::new()),
        }
    }
}

impl CloudTrailStops<'_> {
    /// The stop events between `from` and `to`. The stop may be recorded in another region (the
    /// trail's home region): every region is read. Not other accounts: a stop only explains the
    /// gaps of the accounts it names, which are the accounts it is recorded in (the caller and
    /// the trail's owner both call in their own account), so the accounts asked for bound the
    /// scan. Unreadable objects go to the caller's error log, like those of any other scan.
    async fn read_between(
        &self,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<TrailEvent>> {
        let wide = ArchiveSource {
            scope: Scope {
                from,
                to,
                accounts: self.source.scope.accounts.clone(),
                ..Scope::default()
            },
            ..self.source.archive.clone()
        };
        read(&session(TableSource::new(wide, self.source.lake.clone()))?).await
    }
}

async fn read(ctx: &SessionContext) -> Result<Vec<TrailEvent>> {
    let batches = ctx.sql(STOP_EVENTS).await?.collect().await?;
    let mut out = Vec::new();
    for b in &batches {
        let text = |i: usize| -> Result<_> {
            arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8)
                .map_err(|e| Error::Runtime(format!("reading stop events: {e}")))
        };
        let seconds = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64)
            .map_err(|e| Error::Runtime(format!("reading stop events: {e}")))?;
        let seconds = seconds.as_primitive::<Int64Type>();
        let columns = [text(1)?, text(2)?, text(3)?, text(4)?, text(5)?];
        let [name, recipient, arn, ip, params] = columns.each_ref().map(|c| c.as_string::<i32>());
        let cell = |c: &arrow::array::StringArray, row: usize| {
            (!c.is_null(row)).then(|| c.value(row).to_string())
        };
        for row in 0..b.num_rows() {
            let (Some(at), Some(event)) = (
                (!seconds.is_null(row))
                    .then(|| DateTime::from_timestamp(seconds.value(row), 0))
                    .flatten(),
                cell(name, row),
            ) else {
                continue;
            };
            out.push(TrailEvent {
                at,
                event,
                recipient_account: cell(recipient, row),
                arn: cell(arn, row),
                source_ip: cell(ip, row),
                params: cell(params, row),
            });
        }
    }
    Ok(out)
}

/// `gaps` over an archive's listing, with its stop events read from `cloudtrail` (or from
/// `in_range`, a session holding the range's events of every account and region).
pub async fn gaps(
    source: &TableSource,
    options: &GapOptions,
    in_range: Option<&SessionContext>,
) -> Result<GapReport> {
    let events = CloudTrailStops::new(source, in_range);
    let options = GapOptions {
        allow_partial: source.allow_partial,
        ..options.clone()
    };
    crate::integrity::gaps(&source.location, &source.scope, &options, &events).await
}
