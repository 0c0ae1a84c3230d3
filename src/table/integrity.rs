//! Trail-forensics tables: `digests`, `digest_log_files`, `verify_results` and `gaps`.
//!
//! Computed at scan time from the archive (like `log_files`), so they follow the session's
//! `--from/--to/--account/--region` and can be joined with `cloudtrail`, e.g. the events around a
//! gap. No keys reach a SQL session, so these tables check chains, hashes and presence but not
//! RSA signatures: `trailscope verify` does that.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::TableSource;
use crate::decode::schema::TIMEZONE;
use crate::integrity::gaps::GapOptions;
use crate::integrity::verify::{VerifyOptions, digest_inventory, verify};

/// Which of the four tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityKind {
    Digests,
    DigestLogFiles,
    VerifyResults,
    Gaps,
}

impl IntegrityKind {
    pub const ALL: [IntegrityKind; 4] = [
        IntegrityKind::Digests,
        IntegrityKind::DigestLogFiles,
        IntegrityKind::VerifyResults,
        IntegrityKind::Gaps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            IntegrityKind::Digests => "digests",
            IntegrityKind::DigestLogFiles => "digest_log_files",
            IntegrityKind::VerifyResults => "verify_results",
            IntegrityKind::Gaps => "gaps",
        }
    }

    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: LazyLock<[SchemaRef; 4]> = LazyLock::new(|| {
            let s = |name: &str| Field::new(name, DataType::Utf8, true);
            let t = |name: &str| Field::new(name, ts(), true);
            let b = |name: &str| Field::new(name, DataType::Boolean, false);
            [
                Arc::new(Schema::new(vec![
                    s("key"),
                    s("account_id"),
                    s("region"),
                    s("trail"),
                    s("home_region"),
                    s("org_id"),
                    t("start_time"),
                    t("end_time"),
                    s("bucket"),
                    s("object"),
                    s("fingerprint"),
                    s("previous_object"),
                    s("previous_hash"),
                    s("previous_signature"),
                    Field::new("log_file_count", DataType::UInt64, true),
                    b("chain_start"),
                    b("backfill"),
                    s("status"),
                    s("detail"),
                ])),
                Arc::new(Schema::new(vec![
                    s("digest_key"),
                    s("key"),
                    s("s3_object"),
                    s("account_id"),
                    s("region"),
                    t("delivery_time"),
                    s("hash_value"),
                    t("oldest_event_time"),
                    t("newest_event_time"),
                    b("present"),
                ])),
                Arc::new(Schema::new(vec![
                    s("type"),
                    s("key"),
                    s("account_id"),
                    s("region"),
                    s("trail"),
                    t("time"),
                    s("status"),
                    s("detail"),
                ])),
                Arc::new(Schema::new(vec![
                    s("account_id"),
                    s("region"),
                    t("start"),
                    t("end"),
                    Field::new("duration_minutes", DataType::UInt64, false),
                    s("class"),
                    s("evidence"),
                ])),
            ]
        });
        let i = IntegrityKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(0);
        Arc::clone(&SCHEMAS[i])
    }
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TIMEZONE.into()))
}

fn times<I: IntoIterator<Item = Option<DateTime<Utc>>>>(it: I) -> ArrayRef {
    Arc::new(
        it.into_iter()
            .map(|t| t.map(|t| t.timestamp_micros()))
            .collect::<TimestampMicrosecondArray>()
            .with_timezone(TIMEZONE),
    )
}

fn strings<'a, I: IntoIterator<Item = Option<&'a str>>>(it: I) -> ArrayRef {
    Arc::new(it.into_iter().collect::<StringArray>())
}

fn parse(t: Option<&String>) -> Option<DateTime<Utc>> {
    t.and_then(|s| crate::time::parse_rfc3339(s))
}

/// A trail-forensics table over an archive.
#[derive(Debug)]
pub struct IntegrityTable {
    kind: IntegrityKind,
    source: TableSource,
}

impl IntegrityTable {
    pub fn new(kind: IntegrityKind, source: TableSource) -> Self {
        IntegrityTable { kind, source }
    }

    async fn columns(&self) -> crate::error::Result<Vec<ArrayRef>> {
        let (location, scope) = (&self.source.location, &self.source.scope);
        Ok(match self.kind {
            IntegrityKind::Digests => {
                let (d, _) = digest_inventory(location, scope).await?;
                vec![
                    strings(d.iter().map(|x| Some(x.key.as_str()))),
                    strings(d.iter().map(|x| Some(x.account_id.as_str()))),
                    strings(d.iter().map(|x| Some(x.region.as_str()))),
                    strings(d.iter().map(|x| Some(x.trail.as_str()))),
                    strings(d.iter().map(|x| Some(x.home_region.as_str()))),
                    strings(d.iter().map(|x| x.org_id.as_deref())),
                    times(d.iter().map(|x| x.start_time)),
                    times(d.iter().map(|x| x.end_time)),
                    strings(d.iter().map(|x| x.bucket.as_deref())),
                    strings(d.iter().map(|x| x.object.as_deref())),
                    strings(d.iter().map(|x| x.fingerprint.as_deref())),
                    strings(d.iter().map(|x| x.previous_object.as_deref())),
                    strings(d.iter().map(|x| x.previous_hash.as_deref())),
                    strings(d.iter().map(|x| x.previous_signature.as_deref())),
                    Arc::new(
                        d.iter()
                            .map(|x| x.log_file_count.map(|n| n as u64))
                            .collect::<UInt64Array>(),
                    ),
                    Arc::new(
                        d.iter()
                            .map(|x| Some(x.chain_start))
                            .collect::<BooleanArray>(),
                    ),
                    Arc::new(d.iter().map(|x| Some(x.backfill)).collect::<BooleanArray>()),
                    strings(d.iter().map(|x| Some(x.status.as_str()))),
                    strings(d.iter().map(|x| Some(x.detail.as_str()))),
                ]
            }
            IntegrityKind::DigestLogFiles => {
                let (_, f) = digest_inventory(location, scope).await?;
                vec![
                    strings(f.iter().map(|x| x.digest_key.as_deref())),
                    strings(f.iter().map(|x| Some(x.key.as_str()))),
                    strings(f.iter().map(|x| x.s3_object.as_deref())),
                    strings(f.iter().map(|x| Some(x.account_id.as_str()))),
                    strings(f.iter().map(|x| Some(x.region.as_str()))),
                    times(f.iter().map(|x| x.delivered)),
                    strings(f.iter().map(|x| x.expected_hash.as_deref())),
                    times(f.iter().map(|x| parse(x.oldest_event_time.as_ref()))),
                    times(f.iter().map(|x| parse(x.newest_event_time.as_ref()))),
                    Arc::new(
                        f.iter()
                            .map(|x| Some(x.status != crate::integrity::LogFileStatus::Missing))
                            .collect::<BooleanArray>(),
                    ),
                ]
            }
            IntegrityKind::VerifyResults => {
                let r = verify(location, scope, &VerifyOptions::default()).await?;
                let (d, f) = (&r.digests, &r.log_files);
                let kind = d
                    .iter()
                    .map(|_| Some("digest"))
                    .chain(f.iter().map(|_| Some("log_file")));
                vec![
                    strings(kind),
                    strings(
                        d.iter()
                            .map(|x| Some(x.key.as_str()))
                            .chain(f.iter().map(|x| Some(x.key.as_str()))),
                    ),
                    strings(
                        d.iter()
                            .map(|x| Some(x.account_id.as_str()))
                            .chain(f.iter().map(|x| Some(x.account_id.as_str()))),
                    ),
                    strings(
                        d.iter()
                            .map(|x| Some(x.region.as_str()))
                            .chain(f.iter().map(|x| Some(x.region.as_str()))),
                    ),
                    strings(
                        d.iter()
                            .map(|x| Some(x.trail.as_str()))
                            .chain(f.iter().map(|_| None)),
                    ),
                    times(
                        d.iter()
                            .map(|x| x.end_time)
                            .chain(f.iter().map(|x| x.delivered)),
                    ),
                    strings(
                        d.iter()
                            .map(|x| Some(x.status.as_str()))
                            .chain(f.iter().map(|x| Some(x.status.as_str()))),
                    ),
                    strings(
                        d.iter()
                            .map(|x| Some(x.detail.as_str()))
                            .chain(f.iter().map(|x| Some(x.detail.as_str()))),
                    ),
                ]
            }
            IntegrityKind::Gaps => {
                let r =
                    super::stop_events::gaps(&self.source, &GapOptions::default(), None).await?;
                let g = &r.gaps;
                let evidence: Vec<String> = g.iter().map(|x| x.evidence.to_string()).collect();
                vec![
                    strings(g.iter().map(|x| Some(x.account_id.as_str()))),
                    strings(g.iter().map(|x| Some(x.region.as_str()))),
                    times(g.iter().map(|x| Some(x.start))),
                    times(g.iter().map(|x| Some(x.end))),
                    Arc::new(
                        g.iter()
                            .map(|x| Some((x.end - x.start).num_minutes().max(0) as u64))
                            .collect::<UInt64Array>(),
                    ),
                    strings(g.iter().map(|x| Some(x.class.as_str()))),
                    strings(evidence.iter().map(|e| Some(e.as_str()))),
                ]
            }
        })
    }
}

#[async_trait]
impl TableProvider for IntegrityTable {
    fn schema(&self) -> SchemaRef {
        self.kind.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = self.schema();
        let batch = RecordBatch::try_new(Arc::clone(&schema), self.columns().await?)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            schema,
            projection.cloned(),
        )?)
    }
}
