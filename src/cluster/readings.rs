//! The hashes of the raw log files a cluster read, computed on its executors.
//!
//! A report checks every log file of its period against its digest and names each in its
//! evidence manifest, by SHA-256. Locally its scan records those hashes as it decodes
//! ([`Readings`]); on a cluster the scan runs on the executors, which hand back only rows, so
//! the client would fetch the whole period again to hash it. Instead a second job over the same
//! objects ([`ObjectReadings`]) fetches and hashes them where they lie (inflated, but not
//! decoded) and sends back a row per object. An object a task could not fetch or inflate gets
//! no row: the checks then read it themselves and give their own verdict, as locally.

use std::fmt;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};

use super::raw::{ArchiveObjects, StoreAddress};
use super::share::Share;
use crate::archive::fetch::{fetch_unit, units};
use crate::archive::{ArchiveSource, ContentHash, Reading, Readings, Scope};

/// A row per object: its key and what [`Reading`] holds.
static READINGS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("size", DataType::UInt64, false),
        Field::new("stored_sha256", DataType::Utf8, false),
        Field::new("content_sha256", DataType::Utf8, true),
        Field::new("uncompressed_len", DataType::UInt64, true),
        Field::new("trailing_bytes", DataType::UInt64, true),
    ]))
});

/// The readings of a raw table's objects in its scope, as a table the cluster computes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectReadings {
    pub raw: ArchiveObjects,
}

#[async_trait]
impl TableProvider for ObjectReadings {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&READINGS_SCHEMA)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scope = self.raw.scope.scope();
        let target = state.config().target_partitions();
        let tasks: Vec<Arc<dyn ExecutionPlan>> = self
            .raw
            .shares(&scope, target)
            .into_iter()
            .map(|share| {
                let task = ReadingsTask {
                    archive: self.raw.archive.clone(),
                    share,
                };
                Arc::new(ReadingsExec::new(task)) as Arc<dyn ExecutionPlan>
            })
            .collect();
        super::stage_each(tasks)
    }
}

/// What one task hashes, as it travels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadingsTask {
    pub archive: StoreAddress,
    pub share: Share,
}

/// One task of the readings job: fetches and hashes its share of the objects.
#[derive(Debug)]
pub struct ReadingsExec {
    task: ReadingsTask,
    properties: Arc<PlanProperties>,
}

impl ReadingsExec {
    pub fn new(task: ReadingsTask) -> Self {
        let properties = super::one_task(Arc::clone(&READINGS_SCHEMA), EmissionType::Incremental);
        ReadingsExec { task, properties }
    }

    pub fn task(&self) -> &ReadingsTask {
        &self.task
    }
}

impl DisplayAs for ReadingsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ReadingsExec: archive={}", self.task.archive.location)
    }
}

impl ExecutionPlan for ReadingsExec {
    fn name(&self) -> &str {
        "ReadingsExec"
    }

    crate::table::scan::leaf_plan_methods!();

    /// Runs on an executor: a batch of readings per fetch unit, hashed off the async threads.
    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "ReadingsExec has one partition, not {partition}"
            )));
        }
        let task = self.task.clone();
        let batches = stream::once(async move {
            let location = task.archive.open().await.map_err(DataFusionError::from)?;
            // What the listing cannot read, the scan has already named to the client.
            let source = ArchiveSource::new(location.clone(), Scope::default(), false);
            let objects = task.share.objects(&location, &source).await?;
            let batches = stream::iter(units(&objects)).then(move |unit| {
                let location = location.clone();
                async move {
                    let (fetched, _unfetched) = fetch_unit(&location, unit).await;
                    tokio::task::spawn_blocking(move || {
                        let readings: Vec<(String, Reading)> = fetched
                            .iter()
                            .map(|o| (o.key.clone(), crate::decode::reading_of(o)))
                            .collect();
                        batch_of(&readings)
                    })
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?
                }
            });
            Ok::<_, DataFusionError>(batches)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&READINGS_SCHEMA),
            batches,
        )))
    }
}

fn batch_of(readings: &[(String, Reading)]) -> Result<RecordBatch> {
    let content = |f: fn(&ContentHash) -> u64| -> ArrayRef {
        Arc::new(
            readings
                .iter()
                .map(|(_, r)| r.content.as_ref().map(f))
                .collect::<UInt64Array>(),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            readings
                .iter()
                .map(|(k, _)| Some(k.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            readings
                .iter()
                .map(|(_, r)| r.size)
                .collect::<UInt64Array>(),
        ),
        Arc::new(
            readings
                .iter()
                .map(|(_, r)| Some(r.stored_sha256.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            readings
                .iter()
                .map(|(_, r)| r.content.as_ref().map(|c| c.sha256.as_str()))
                .collect::<StringArray>(),
        ),
        content(|c| c.uncompressed_len),
        content(|c| c.trailing_bytes as u64),
    ];
    Ok(RecordBatch::try_new(Arc::clone(&READINGS_SCHEMA), columns)?)
}

/// Files the rows of a readings job in `readings`; how many there were.
pub fn record(batches: &[RecordBatch], readings: &Readings) -> Result<usize> {
    let mut n = 0;
    for batch in batches {
        let column = |i: usize| batch.column(i);
        let text = |i: usize| {
            column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| DataFusionError::Internal(format!("readings column {i}")))
        };
        let number = |i: usize| {
            column(i)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .ok_or_else(|| DataFusionError::Internal(format!("readings column {i}")))
        };
        let (keys, sizes, stored) = (text(0)?, number(1)?, text(2)?);
        let (content, lengths, trailing) = (text(3)?, number(4)?, number(5)?);
        for row in 0..batch.num_rows() {
            let content = (!content.is_null(row)).then(|| ContentHash {
                sha256: content.value(row).to_string(),
                uncompressed_len: lengths.value(row),
                trailing_bytes: trailing.value(row) as usize,
            });
            let reading = Reading {
                size: sizes.value(row),
                stored_sha256: stored.value(row).to_string(),
                content,
            };
            readings.record(keys.value(row), reading);
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_survive_their_rows() {
        let sent = vec![
            (
                "a.json.gz".to_string(),
                Reading {
                    size: 10,
                    stored_sha256: "ab".into(),
                    content: Some(ContentHash {
                        sha256: "cd".into(),
                        uncompressed_len: 30,
                        trailing_bytes: 2,
                    }),
                },
            ),
            (
                "b.json.gz".to_string(),
                Reading {
                    size: 5,
                    stored_sha256: "ef".into(),
                    content: None,
                },
            ),
        ];
        let readings = Readings::default();
        assert_eq!(record(&[batch_of(&sent).unwrap()], &readings).unwrap(), 2);
        for (key, reading) in &sent {
            assert_eq!(readings.get(key).as_deref(), Some(reading));
        }
    }
}
