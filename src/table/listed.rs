//! Tables answered from listing and scanning metadata: `log_files` and `read_errors`.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::{ExecutionPlan, collect};

use super::ArchiveSource;
use super::filters::PruningColumns;
use super::scan::{CloudTrailExec, RawScan};
use crate::archive::{ObjectKind, list_objects};
use crate::decode::schema::TIMEZONE;

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TIMEZONE.into()))
}

const LOG_FILES_PRUNING: PruningColumns = PruningColumns {
    time: "delivery_time",
    account: "account_id",
    region: "region",
    key_partitions: false,
};

/// `read_errors` has no time column: only account and region prune it.
const READ_ERRORS_PRUNING: PruningColumns = PruningColumns {
    time: "",
    ..LOG_FILES_PRUNING
};

fn memory_plan(
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
    projection: Option<&Vec<usize>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(MemorySourceConfig::try_new_exec(
        &[vec![batch]],
        schema,
        projection.cloned(),
    )?)
}

/// `log_files`: one row per delivered log file, with what its key and listing say.
#[derive(Debug)]
pub struct LogFilesTable {
    source: ArchiveSource,
}

impl LogFilesTable {
    pub fn new(source: ArchiveSource) -> Self {
        LogFilesTable { source }
    }

    pub fn table_schema() -> SchemaRef {
        static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
            Arc::new(Schema::new(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("account_id", DataType::Utf8, false),
                Field::new("region", DataType::Utf8, false),
                Field::new("org_id", DataType::Utf8, true),
                Field::new("delivery_time", utc_micros(), true),
                Field::new("size", DataType::UInt64, false),
                Field::new("last_modified", utc_micros(), false),
                Field::new("e_tag", DataType::Utf8, true),
            ]))
        });
        Arc::clone(&SCHEMA)
    }
}

#[async_trait]
impl TableProvider for LogFilesTable {
    fn schema(&self) -> SchemaRef {
        Self::table_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(LOG_FILES_PRUNING.pushdown(filters))
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // A delivery time is a file's stamp itself: no late-delivery margin is needed.
        let mut wanted = LOG_FILES_PRUNING.scope(filters);
        wanted.late_margin = chrono::Duration::zero();
        let scope = self.source.scope.intersect(&wanted);
        let listing = list_objects(&self.source.location, ObjectKind::Log, &scope).await?;
        self.source.errors.record_skipped(&listing.skipped);
        let o = &listing.objects;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                o.iter().map(|e| e.key.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                o.iter().map(|e| e.parsed.account_id.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                o.iter().map(|e| e.parsed.region.as_str()),
            )),
            Arc::new(
                o.iter()
                    .map(|e| e.parsed.org_id.as_deref())
                    .collect::<StringArray>(),
            ),
            Arc::new(
                o.iter()
                    .map(|e| e.parsed.stamp.map(|t| t.timestamp_micros()))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone(TIMEZONE),
            ),
            Arc::new(o.iter().map(|e| e.size).collect::<UInt64Array>()),
            Arc::new(
                o.iter()
                    .map(|e| Some(e.last_modified.timestamp_micros()))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone(TIMEZONE),
            ),
            Arc::new(
                o.iter()
                    .map(|e| e.e_tag.as_deref())
                    .collect::<StringArray>(),
            ),
        ];
        memory_plan(self.schema(), columns, projection)
    }
}

/// `read_errors`: objects that look like CloudTrail's but could not be read, with the reason.
///
/// Answering it means reading every object in scope (decoding without building columns), so
/// `SELECT * FROM read_errors` is a full validation pass over the range.
#[derive(Debug)]
pub struct ReadErrorsTable {
    source: ArchiveSource,
}

impl ReadErrorsTable {
    pub fn new(source: ArchiveSource) -> Self {
        ReadErrorsTable { source }
    }

    pub fn table_schema() -> SchemaRef {
        static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
            Arc::new(Schema::new(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("account_id", DataType::Utf8, false),
                Field::new("region", DataType::Utf8, false),
                Field::new("reason", DataType::Utf8, false),
                Field::new("partially_read", DataType::Boolean, false),
                // `unreadable` (the bytes are bad) or `unfetched` (they could not be fetched).
                Field::new("class", DataType::Utf8, false),
            ]))
        });
        Arc::clone(&SCHEMA)
    }
}

#[async_trait]
impl TableProvider for ReadErrorsTable {
    fn schema(&self) -> SchemaRef {
        Self::table_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(READ_ERRORS_PRUNING.pushdown(filters))
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scope = self
            .source
            .scope
            .intersect(&READ_ERRORS_PRUNING.scope(filters));
        let listing = list_objects(&self.source.location, ObjectKind::Log, &scope).await?;
        self.source.errors.record_skipped(&listing.skipped);
        // Errors must be listed, not raised, here: this table is how --strict users find them.
        let mut lenient = self.source.clone();
        lenient.strict = false;
        let keys: std::collections::BTreeSet<String> = listing
            .objects
            .iter()
            .map(|o| o.key.clone())
            .chain(listing.skipped.iter().map(|s| s.key.clone()))
            .collect();
        // Time bounds apply to rows, not to whether an object is readable: read whole objects.
        let mut whole = scope.clone();
        whole.from = None;
        whole.to = None;
        let nothing = Vec::new();
        let exec = CloudTrailExec::new(
            lenient,
            RawScan {
                objects: listing.objects,
                scope: &whole,
                projection: Some(&nothing),
                record_json: false,
                limit: None,
            },
            state.config().target_partitions(),
            state.config().batch_size(),
        );
        collect(Arc::new(exec), state.task_ctx()).await?;
        let errors: Vec<_> = self
            .source
            .errors
            .all()
            .into_iter()
            .filter(|e| keys.contains(&e.key))
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                errors.iter().map(|e| e.key.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                errors.iter().map(|e| e.account_id.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                errors.iter().map(|e| e.region.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                errors.iter().map(|e| e.reason.as_str()),
            )),
            Arc::new(
                errors
                    .iter()
                    .map(|e| Some(e.partially_read))
                    .collect::<BooleanArray>(),
            ),
            Arc::new(StringArray::from_iter_values(
                errors.iter().map(|e| e.class()),
            )),
        ];
        memory_plan(self.schema(), columns, projection)
    }
}
