//! `CloudTrailExec`: fetching objects and decoding them on all cores.
//!
//! Objects are spread over partitions by size (DataFusion runs one stream per partition, one
//! partition per core by default). Within a partition, objects are grouped into units of a few
//! MiB; a unit's objects are fetched concurrently, then decoded on a blocking thread a group at a
//! time (a group inflates to at most 64 MiB; a typical unit is one group). One unit is fetched
//! and its first group decoded while the previous one is consumed, so memory stays bounded by
//! partitions × 2 groups whatever the archive's size or its objects' compression ratio.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt, stream};

use crate::archive::fetch::{fetch_unit, units};
use crate::archive::{ArchiveSource, ObjectEntry, ScanStats, Scope};
use crate::decode::builder::Need;
use crate::decode::slices::Slices;
use crate::decode::{Decoded, Decoder};

/// The methods every leaf plan of ours writes the same way: its `properties` field, no children,
/// no expressions; used inside `impl ExecutionPlan for ...`.
macro_rules! leaf_plan_methods {
    () => {
        fn properties(&self) -> &std::sync::Arc<datafusion::physical_plan::PlanProperties> {
            &self.properties
        }

        fn children(&self) -> Vec<&std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
            vec![]
        }

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(
                &std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>,
            ) -> datafusion::error::Result<
                datafusion::common::tree_node::TreeNodeRecursion,
            >,
        ) -> datafusion::error::Result<datafusion::common::tree_node::TreeNodeRecursion> {
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        }

        fn with_new_children(
            self: std::sync::Arc<Self>,
            _children: Vec<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>>,
        ) -> datafusion::error::Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>>
        {
            Ok(self)
        }
    };
}
pub(crate) use leaf_plan_methods;

#[derive(Debug)]
pub struct CloudTrailExec {
    source: ArchiveSource,
    /// Shared by the copies the optimizer makes (a month is tens of thousands of entries).
    partitions: Arc<Vec<Vec<ObjectEntry>>>,
    decoder: Decoder,
    limit: Option<usize>,
    batch_size: usize,
    scope: String,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

/// What a raw scan reads: `objects`, their rows restricted to `scope`, the decoded columns.
pub struct RawScan<'a> {
    pub objects: Vec<ObjectEntry>,
    pub scope: &'a Scope,
    pub projection: Option<&'a Vec<usize>>,
    /// Whether `eventjson` follows the projected columns.
    pub record_json: bool,
    pub limit: Option<usize>,
}

impl CloudTrailExec {
    pub fn new(
        source: ArchiveSource,
        scan: RawScan<'_>,
        partitions: usize,
        batch_size: usize,
    ) -> Self {
        let RawScan {
            objects,
            scope,
            projection,
            record_json,
            limit,
        } = scan;
        let micros = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_micros());
        let projection = projection.map(|p| p.as_slice());
        let mut decoder = Decoder::new(projection, micros(scope.from), micros(scope.to))
            .with_readings(source.readings.clone());
        if record_json {
            decoder = decoder.with_record_json();
        }
        let partitions = Arc::new(balance(objects, partitions));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(decoder.schema()),
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        CloudTrailExec {
            source,
            partitions,
            decoder,
            limit,
            batch_size: batch_size.max(1),
            scope: describe_scope(scope),
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The same scan building, of each struct column given (by output position), only the fields
    /// named (see [`Decoder::with_narrowed`]); the schema is unchanged.
    pub fn narrowed(&self, columns: Vec<(usize, BTreeMap<String, Need>)>) -> CloudTrailExec {
        CloudTrailExec {
            source: self.source.clone(),
            partitions: Arc::clone(&self.partitions),
            decoder: self.decoder.clone().with_narrowed(columns),
            limit: self.limit,
            batch_size: self.batch_size,
            scope: self.scope.clone(),
            properties: Arc::clone(&self.properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn object_count(&self) -> usize {
        self.partitions.iter().map(Vec::len).sum()
    }
}

/// Spreads objects over `n` partitions, largest first onto the lightest (greedy balancing), ties
/// and each partition in key order.
///
/// Objects are ordered by their positions in the key-sorted list, not by their keys: keys share
/// long prefixes (`AWSLogs/<account>/CloudTrail/<region>/<date>/...`), and comparing them in two
/// sorts was most of the time between planning and the first batch (profile of a month's scan:
/// 51,696 files; a year holds ten times as many).
pub(crate) fn balance(mut objects: Vec<ObjectEntry>, n: usize) -> Vec<Vec<ObjectEntry>> {
    let n = n.clamp(1, objects.len().max(1));
    // Listings come sorted by key; anything else is sorted once here.
    if !objects.is_sorted_by(|a, b| a.key <= b.key) {
        objects.sort_by(|a, b| a.key.cmp(&b.key));
    }
    let sizes: Vec<u64> = objects.iter().map(|o| o.size).collect();
    let mut objects: Vec<Option<ObjectEntry>> = objects.into_iter().map(Some).collect();
    largest_first_onto_lightest(&sizes, n)
        .into_iter()
        .map(|mut positions| {
            positions.sort_unstable();
            positions
                .into_iter()
                .filter_map(|i| objects[i].take())
                .collect()
        })
        .collect()
}

/// The positions of `sizes` spread over `n` groups (at least one), largest first onto the
/// lightest; sizes that tie go in position order. Each group lists its positions as they were
/// placed. Sorting positions rather than the items compares numbers, however the items order.
pub(crate) fn largest_first_onto_lightest(sizes: &[u64], n: usize) -> Vec<Vec<usize>> {
    // A stable sort: items of one size stay in position order.
    let mut largest_first: Vec<usize> = (0..sizes.len()).collect();
    largest_first.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut groups: Vec<(u64, Vec<usize>)> = (0..n.max(1)).map(|_| (0, Vec::new())).collect();
    for i in largest_first {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            lightest.0 += sizes[i].max(1);
            lightest.1.push(i);
        }
    }
    groups.into_iter().map(|(_, positions)| positions).collect()
}

fn describe_scope(scope: &Scope) -> String {
    let mut parts = Vec::new();
    if let Some(f) = scope.from {
        parts.push(format!("from={}", f.to_rfc3339()));
    }
    if let Some(t) = scope.to {
        parts.push(format!("to={}", t.to_rfc3339()));
    }
    if !scope.accounts.is_empty() {
        parts.push(format!("accounts={:?}", scope.accounts));
    }
    if !scope.regions.is_empty() {
        parts.push(format!("regions={:?}", scope.regions));
    }
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" ")
    }
}

impl DisplayAs for CloudTrailExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let bytes: u64 = self.partitions.iter().flatten().map(|o| o.size).sum();
        write!(
            f,
            "CloudTrailScan: objects={}, bytes={}, partitions={}, scope={}, columns={}",
            self.object_count(),
            bytes,
            self.partitions.len(),
            self.scope,
            self.decoder.schema().fields().len()
        )?;
        if let Some(limit) = self.limit {
            write!(f, ", limit={limit}")?;
        }
        let narrowed = self.decoder.narrowed();
        if !narrowed.is_empty() {
            write!(f, ", narrowed={}", narrowed.join(" "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for CloudTrailExec {
    fn name(&self) -> &str {
        "CloudTrailExec"
    }

    crate::table::scan::leaf_plan_methods!();

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let objects = self.partitions.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!("CloudTrailExec has no partition {partition}"))
        })?;
        let opened = MetricBuilder::new(&self.metrics).counter("objects_read", partition);
        let bytes = MetricBuilder::new(&self.metrics).counter("bytes_read", partition);
        let source = self.source.clone();
        let decoder = self.decoder.clone();
        let batch_size = self.batch_size;
        let decoded = stream::iter(units(objects))
            .map(move |unit| {
                read_unit(
                    source.clone(),
                    decoder.clone(),
                    unit,
                    opened.clone(),
                    bytes.clone(),
                )
            })
            .buffered(2)
            .try_flatten()
            .map_ok(move |batch| {
                // Engine-sized batches (slices share buffers: no copy).
                let n = batch.num_rows();
                let pieces: Vec<Result<RecordBatch>> = (0..n)
                    .step_by(batch_size)
                    .map(|offset| Ok(batch.slice(offset, batch_size.min(n - offset))))
                    .collect();
                stream::iter(pieces)
            })
            .try_flatten();
        let limited: std::pin::Pin<Box<dyn futures::Stream<Item = Result<RecordBatch>> + Send>> =
            match self.limit {
                None => Box::pin(decoded),
                Some(limit) => {
                    let mut seen = 0usize;
                    Box::pin(decoded.try_take_while(move |b| {
                        let more = seen < limit;
                        seen += b.num_rows();
                        futures::future::ready(Ok(more))
                    }))
                }
            };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.decoder.schema(),
            limited,
        )))
    }
}

/// The rows of a streamed object, each slice decoded on a blocking thread when asked for.
fn read_slices(
    slices: Slices,
    records: Arc<ScanStats>,
) -> impl futures::Stream<Item = Result<RecordBatch>> {
    stream::try_unfold(slices, move |slices| {
        let records = records.clone();
        async move {
            let (next, slices) = next_off_runtime(slices).await?;
            match next {
                None => Ok(None),
                Some(Ok(batch)) => {
                    ScanStats::add(&records.records, batch.num_rows() as u64);
                    Ok(Some((batch, slices)))
                }
                // Part of it was handed on: no answer can leave the rest out quietly.
                Some(Err(why)) => Err(DataFusionError::Execution(format!(
                    "{}: {why}",
                    slices.key()
                ))),
            }
        }
    })
}

type BatchStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<RecordBatch>> + Send>>;

/// Fetches a unit's objects concurrently and decodes its first group on a blocking thread (so
/// the partition's next unit decodes while this one is consumed); the unit's later groups are
/// decoded as the engine asks for them, and objects too large to inflate whole follow their
/// group a slice at a time ([`read_slices`]). A unit's few compressed MiB can inflate to far
/// more than a group: at most one group per partition waits decoded ahead of the engine.
async fn read_unit(
    source: ArchiveSource,
    decoder: Decoder,
    unit: Vec<ObjectEntry>,
    opened: Count,
    bytes_read: Count,
) -> Result<BatchStream> {
    let (objects, errors) = fetch_unit(&source.location, unit).await;
    let size: usize = objects.iter().map(|o| o.bytes.len()).sum();
    opened.add(objects.len());
    bytes_read.add(size);
    ScanStats::add(&source.stats.objects_opened, objects.len() as u64);
    ScanStats::add(&source.stats.bytes_read, size as u64);
    source.record_read_errors(errors)?;
    let (first, groups) = next_off_runtime(decoder.groups(objects)).await?;
    let Some(first) = first else {
        return Ok(Box::pin(stream::empty()));
    };
    let first = group_rows(&source, &decoder, first)?;
    let later = stream::try_unfold(groups, |groups| async move {
        let (next, groups) = next_off_runtime(groups).await?;
        Ok::<_, DataFusionError>(next.map(|group| (group, groups)))
    })
    .and_then(move |group| futures::future::ready(group_rows(&source, &decoder, group)))
    .try_flatten();
    Ok(Box::pin(first.chain(later)))
}

/// A decoded group's rows, then those of its objects too large to inflate whole; its counts and
/// read errors are filed with the source.
fn group_rows(source: &ArchiveSource, decoder: &Decoder, group: Decoded) -> Result<BatchStream> {
    let Decoded {
        batches,
        errors,
        streamed,
        ..
    } = group;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    ScanStats::add(&source.stats.records, rows as u64);
    source.record_read_errors(errors)?;
    let records = source.stats.clone();
    let slices: Vec<Slices> = streamed.into_iter().map(|o| decoder.slices(o)).collect();
    Ok(Box::pin(stream::iter(batches.into_iter().map(Ok)).chain(
        stream::iter(slices).flat_map(move |s| read_slices(s, records.clone())),
    )))
}

/// The next item of a decoding iterator (inflating and parsing: blocking work), computed on a
/// blocking thread; the iterator comes back with it.
async fn next_off_runtime<I>(mut items: I) -> Result<(Option<I::Item>, I)>
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
{
    tokio::task::spawn_blocking(move || (items.next(), items))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: String, size: u64) -> ObjectEntry {
        ObjectEntry {
            parsed: crate::archive::parse_key(&key).expect("a CloudTrail key"),
            key,
            size,
            last_modified: chrono::DateTime::UNIX_EPOCH,
            e_tag: None,
        }
    }

    /// The balancing by keys, as written before it compared positions: sorted by size, largest
    /// first, ties by key; each onto the lightest partition; each partition sorted by key.
    fn by_keys(mut objects: Vec<ObjectEntry>, n: usize) -> Vec<Vec<ObjectEntry>> {
        let n = n.clamp(1, objects.len().max(1));
        objects.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.key.cmp(&b.key)));
        let mut parts: Vec<(u64, Vec<ObjectEntry>)> = (0..n).map(|_| (0, Vec::new())).collect();
        for o in objects {
            let lightest = parts
                .iter_mut()
                .min_by_key(|(bytes, _)| *bytes)
                .expect("n >= 1");
            lightest.0 += o.size.max(1);
            lightest.1.push(o);
        }
        parts
            .into_iter()
            .map(|(_, mut p)| {
                p.sort_by(|a, b| a.key.cmp(&b.key));
                p
            })
            .collect()
    }

    #[test]
    fn balancing_by_positions_spreads_objects_as_balancing_by_keys_did() {
        // Sizes with many ties (and empty objects), keys out of order.
        let objects: Vec<ObjectEntry> = (0..500u64)
            .map(|i| {
                let j = (i * 7919) % 500;
                let key = format!(
                    "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/{:02}/\
                     111122223333_CloudTrail_us-east-1_20261001T{:04}Z_abc{j:03}.json.gz",
                    1 + j % 28,
                    j % 2400
                );
                entry(key, (j * 31) % 17)
            })
            .collect();
        let keys = |parts: &[Vec<ObjectEntry>]| -> Vec<Vec<String>> {
            parts
                .iter()
                .map(|p| p.iter().map(|o| o.key.clone()).collect())
                .collect()
        };
        for n in [1, 2, 3, 8, 1000] {
            let ours = balance(objects.clone(), n);
            assert_eq!(
                keys(&ours),
                keys(&by_keys(objects.clone(), n)),
                "{n} partitions"
            );
            assert_eq!(ours.iter().map(Vec::len).sum::<usize>(), objects.len());
        }
        assert_eq!(balance(Vec::new(), 4).concat().len(), 0);
    }
}
