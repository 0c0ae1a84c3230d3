//! How `cloudtrail` reads an archive that has a lake: its Parquet files, plus the raw objects it
//! does not hold ([`LakeScan`], planned by `super::cloudtrail::CloudTrailTable`).
//!
//! A scan lists the archive in scope exactly as the raw table does, keeps the objects the lake's
//! manifest does not hold (new, unreadable, or changed since), and unions DataFusion's own
//! Parquet scan of the manifest's files with a [`CloudTrailExec`](super::scan::CloudTrailExec) over those objects: results
//! are complete and equal a raw scan. Lake files are chosen from the manifest by account, region
//! and event-time range (no listing of the lake); DataFusion's filter pushdown then hands the
//! query's filters to the Parquet source, which prunes row groups and pages with them and
//! filters rows while decoding.
//!
//! The schema is the raw table's, column for column: `account_id` and `region` are partition
//! values (the path), everything else, `log_file` included, is in the files.

pub(crate) mod bloom;
pub(crate) mod dictionary_groups;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::Session;

use datafusion::common::stats::Precision;
use datafusion::common::{DFSchema, ScalarValue, Statistics};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExecBuilder;
use datafusion::physical_plan::union::UnionExec;
use object_store::ObjectStoreExt;

use self::bloom::Candidate;
use super::cloudtrail::{PRUNING, list_for_scan, raw_scan};
use super::scan::RawScan;
use crate::archive::ArchiveSource;
use crate::archive::layout::parse_key;
use crate::archive::{ObjectEntry, Scope, Skipped};
use crate::decode::schema::{ACCOUNT_ID, LOG_FILE, REGION, TIMEZONE, cloudtrail_schema};
use crate::lake::manifest::{ArchiveListing, DataFile, LakeSnapshot};
use crate::lake::write::lake_file_schema;

/// The URL the lake's store is registered under in a session (one lake per session).
const STORE_URL: &str = "trailscope-lake://lake";
/// Bytes read from a lake file's end to get its footer in one read, most of the time.
pub(crate) const FOOTER_READ: usize = 64 * 1024;

/// How `cloudtrail` reads an archive that has a lake: the lake's files plus the raw objects it
/// does not hold.
#[derive(Debug)]
pub struct LakeScan {
    source: ArchiveSource,
    lake: Arc<LakeSnapshot>,
}

impl LakeScan {
    pub fn new(source: ArchiveSource, lake: Arc<LakeSnapshot>) -> Self {
        LakeScan { source, lake }
    }

    /// The manifest's files that can hold rows in `scope`.
    fn files_in(&self, scope: &Scope) -> Vec<&DataFile> {
        files_in(&self.lake.files, scope)
    }
}

/// The files of `files` that can hold rows in `scope` (also the cluster's table's pruning).
pub(crate) fn files_in<'a>(files: &'a [DataFile], scope: &Scope) -> Vec<&'a DataFile> {
    let from = scope.from.map(|t| t.timestamp_micros());
    let to = scope.to.map(|t| t.timestamp_micros());
    files
        .iter()
        .filter(|f| scope.accounts.is_empty() || scope.accounts.contains(&f.account_id))
        .filter(|f| scope.regions.is_empty() || scope.regions.contains(&f.region))
        .filter(|f| {
            // A bounded range never matches a row without an event time.
            let (Some(min), Some(max)) = (f.min_eventtime, f.max_eventtime) else {
                return from.is_none() && to.is_none();
            };
            from.is_none_or(|from| max >= from) && to.is_none_or(|to| min < to)
        })
        .collect()
}

/// Of `listed`, the objects to read raw: those the lake does not hold, and those it holds at
/// another size (changed since converted), whose keys come second: their converted rows are
/// left out.
pub(crate) fn unconverted(
    lake: &LakeSnapshot,
    listed: Vec<ObjectEntry>,
) -> (Vec<ObjectEntry>, Vec<String>) {
    let mut raw = Vec::new();
    let mut changed = Vec::new();
    for o in listed {
        match lake.held_size(&o.key) {
            Some(size) if size == o.size => continue,
            Some(_) => changed.push(o.key.clone()),
            None => {}
        }
        raw.push(o);
    }
    (raw, changed)
}

/// The archive's objects of `scope` to weigh against the lake's manifest (those it does not
/// hold are read raw). With a checkpoint,
/// only folders delivered since the last whole-archive conversion are listed, plus the
/// objects it had to leave raw; its skipped objects are reported as a listing would. None when
/// the user asked for the lake alone (`--lake-only`).
pub(crate) async fn raw_candidates(
    source: &ArchiveSource,
    lake: &LakeSnapshot,
    scope: &Scope,
) -> Result<Vec<ObjectEntry>> {
    if lake.listing == ArchiveListing::Skip {
        return Ok(Vec::new());
    }
    let Some(checkpoint) = &lake.checkpoint else {
        return list_for_scan(source, scope).await;
    };
    let mut recent = scope.clone();
    recent.delivered_from = checkpoint.since.clone();
    let mut listed = list_for_scan(source, &recent).await?;
    // What the listing above did not reach: folders before the checkpoint, in scope.
    let older =
        |key: &str| parse_key(key).filter(|k| scope.may_contain(k) && !recent.may_contain(k));
    let skipped: Vec<Skipped> = checkpoint
        .skipped
        .iter()
        .filter(|s| older(&s.key).is_some() || parse_key(&s.key).is_none())
        .map(|s| Skipped {
            key: s.key.clone(),
            reason: s.reason.clone(),
        })
        .collect();
    source.report_skipped(&skipped)?;
    let store = &source.location.store;
    for key in &checkpoint.read_raw {
        let Some(parsed) = older(key) else { continue };
        let path = crate::archive::fetch::store_path(key);
        let meta = match source.location.retry.run(|| store.head(&path)).await {
            Ok(meta) => meta,
            // Gone since: the raw table would not see it either.
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                return Err(crate::Error::Unfetched {
                    key: key.clone(),
                    reason: e.fetch_reason(),
                }
                .into());
            }
        };
        listed.push(ObjectEntry {
            key: key.clone(),
            parsed,
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
        });
    }
    Ok(listed)
}

/// Index of each raw column in the Parquet scan's table schema (file columns, then the two
/// partition columns).
pub(crate) fn scan_index(raw: usize) -> usize {
    let full = cloudtrail_schema();
    let file = lake_file_schema();
    let name = full.field(raw).name();
    match name.as_str() {
        ACCOUNT_ID => file.fields().len(),
        REGION => file.fields().len() + 1,
        _ => file.index_of(name).unwrap_or(raw),
    }
}

pub(crate) fn table_schema() -> TableSchema {
    let partition = |name: &str| Arc::new(Field::new(name, DataType::Utf8, false));
    TableSchema::builder(lake_file_schema())
        .with_table_partition_cols(vec![partition(ACCOUNT_ID), partition(REGION)])
        .build()
}

fn time(t: chrono::DateTime<chrono::Utc>) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(t.timestamp_micros()),
        Some(TIMEZONE.into()),
    ))
}

impl LakeScan {
    /// The plan of a scan of `cloudtrail` (as `TableProvider::scan` is given it): DataFusion's
    /// Parquet scan of the lake's files, unioned with a raw scan of the objects it lacks.
    pub async fn plan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scope = self.source.scope.intersect(&PRUNING.scope(filters));
        let listed = raw_candidates(&self.source, &self.lake, &scope).await?;
        let (raw, changed) = unconverted(&self.lake, listed);
        let raw_objects = raw.len();
        let raw_plan = raw_scan(
            state,
            &self.source,
            RawScan {
                objects: raw,
                scope: &scope,
                projection,
                record_json: false,
                limit,
            },
        );
        let lake = &self.lake.lake;
        let files = bloom::prune(
            state,
            lake.location.retrying_reads(),
            self.files_in(&scope),
            &bloom::lookups(filters),
            |p| lake.path(p).to_string(),
        )
        .await;
        crate::archive::ScanStats::add(&self.source.stats.lake_files_planned, files.len() as u64);
        if files.is_empty() {
            return Ok(raw_plan);
        }
        let lake_plan = self
            .parquet_plan(state, &files, projection, filters, &changed)
            .await?;
        if raw_objects == 0 {
            // The lake alone: its plan keeps the statistics a union would blur.
            return Ok(lake_plan);
        }
        UnionExec::try_new(vec![lake_plan, raw_plan])
    }
}

impl LakeScan {
    /// The Parquet scan of `files`, rows restricted exactly to the source's time range and
    /// without rows of `changed` objects (they are read raw instead).
    async fn parquet_plan(
        &self,
        state: &dyn Session,
        files: &[Candidate<'_>],
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        changed: &[String],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let url = ObjectStoreUrl::parse(STORE_URL)?;
        state
            .runtime_env()
            .register_object_store(url.as_ref(), self.lake.lake.location.retrying_reads());
        let lake = &self.lake.lake;
        let groups = balance(files, state.config().target_partitions().max(1), |p| {
            lake.path(p).to_string()
        });
        let exact = ExactRows {
            from: self.source.scope.from,
            to: self.source.scope.to,
            changed,
        };
        parquet_scan(state, url, groups, projection, filters, exact).await
    }
}

/// The rows of lake files a scan must cut exactly, beyond what pruning skips.
pub(crate) struct ExactRows<'a> {
    /// The user's --from/--to: a file holds whole days.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Objects changed since converted: their rows are read raw instead.
    pub changed: &'a [String],
}

/// Whether a scan reads its files' page indexes: only when it filters on `eventtime`, the one
/// column a file's pages are ordered by (within an account, region and day), so the only one
/// whose page bounds skip anything. Reading the index of every column of every file cost 5 ms
/// of a 40 ms question over 104 files at 5M events, and pruned no page for `errorcode`.
fn filters_on_time(filters: &[Expr], exact_rows: &ExactRows<'_>) -> bool {
    exact_rows.from.is_some()
        || exact_rows.to.is_some()
        || filters
            .iter()
            .any(|f| f.column_refs().iter().any(|c| c.name == "eventtime"))
}

/// DataFusion's Parquet scan of lake files, in the `cloudtrail` column order, with `exact` rows
/// cut by a filter on top. Shared by the local lake table and the cluster's.
///
/// The scan is given no predicate here: DataFusion's physical filter pushdown hands it every
/// filter above it (the query's, which the table accepts as inexact, and the exact cut), and it
/// uses them to prune files, row groups and pages by statistics and to filter rows while
/// decoding (`pushdown_filters`). The latter matters most for the questions a lake is for:
/// `useridentity.arn = ...` decodes the one `arn` leaf of every row, and the other columns only
/// of the rows that match, instead of the whole `useridentity` struct of every row.
pub(crate) async fn parquet_scan(
    state: &dyn Session,
    url: ObjectStoreUrl,
    groups: Vec<FileGroup>,
    projection: Option<&Vec<usize>>,
    filters: &[Expr],
    exact_rows: ExactRows<'_>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let mut exact = Vec::new();
    if let Some(from) = exact_rows.from {
        exact.push(col("eventtime").gt_eq(time(from)));
    }
    if let Some(to) = exact_rows.to {
        exact.push(col("eventtime").lt(time(to)));
    }
    if !exact_rows.changed.is_empty() {
        let keys = exact_rows.changed.iter().map(|k| lit(k.as_str())).collect();
        exact.push(col(LOG_FILE).in_list(keys, true));
    }
    let mut options = state.table_options().parquet.clone();
    options.global.pushdown_filters = true;
    options.global.reorder_filters = true;
    // A lake file's footer is ~16 KiB (its page index is read only when a filter needs it);
    // DataFusion's default first read of 512 KiB from the end is most of a small file.
    options.global.metadata_size_hint = Some(FOOTER_READ);
    options.global.enable_page_index = filters_on_time(filters, &exact_rows);
    let parquet = ParquetSource::new(table_schema());

    // Output columns in the raw table's order, plus what the exact filter needs.
    let wanted: Vec<usize> = match projection {
        Some(p) => p.clone(),
        None => (0..cloudtrail_schema().fields().len()).collect(),
    };
    let mut indices: Vec<usize> = wanted.iter().map(|&i| scan_index(i)).collect();
    let shown = indices.len();
    let needed = [
        (
            exact_rows.from.is_some() || exact_rows.to.is_some(),
            "eventtime",
        ),
        (!exact_rows.changed.is_empty(), LOG_FILE),
    ];
    for (_, name) in needed.iter().filter(|(needed, _)| *needed) {
        let i = scan_index(cloudtrail_schema().index_of(name)?);
        if !indices.contains(&i) {
            indices.push(i);
        }
    }

    // The row count, when every file's is known (from the manifest): exact statistics let
    // DataFusion answer `count(*)` without reading. Filters pushed into the scan later make it
    // inexact (DataFusion's rule), and the exact cut below sits above it.
    let files = groups.iter().flat_map(|g| g.files());
    let rows: Option<usize> = files
        .map(|f| match f.statistics.as_ref().map(|s| s.num_rows) {
            Some(Precision::Exact(n)) => Some(n),
            _ => None,
        })
        .sum();
    let mut builder = FileScanConfigBuilder::new(url, Arc::new(parquet))
        .with_file_groups(groups)
        .with_projection_indices(Some(indices))?;
    if let Some(rows) = rows {
        let mut stats = Statistics::new_unknown(table_schema().table_schema());
        stats.num_rows = Precision::Exact(rows);
        builder = builder.with_statistics(stats);
    }
    let config = builder.build();
    // The format's options are the source's: it sets them on the scan it plans.
    let format = ParquetFormat::default().with_options(options);
    let plan = format.create_physical_plan(state, config).await?;
    let Some(predicate) = conjunction(exact) else {
        return Ok(plan);
    };
    let scanned = DFSchema::try_from(plan.schema())?;
    let predicate = state.create_physical_expr(predicate, &scanned)?;
    Ok(Arc::new(
        FilterExecBuilder::new(predicate, plan)
            .apply_projection(Some((0..shown).collect()))?
            .build()?,
    ))
}

/// Files spread over `n` groups (DataFusion reads groups in parallel), largest first onto the
/// lightest.
pub(crate) fn balance(
    files: &[Candidate<'_>],
    n: usize,
    path: impl Fn(&str) -> String,
) -> Vec<FileGroup> {
    // In path order, so that files of one size go in path order.
    let mut by_path: Vec<&Candidate> = files.iter().collect();
    by_path.sort_by(|a, b| a.file.path.cmp(&b.file.path));
    let sizes: Vec<u64> = by_path.iter().map(|c| c.file.bytes).collect();
    let n = n.clamp(1, files.len().max(1));
    super::scan::largest_first_onto_lightest(&sizes, n)
        .into_iter()
        .map(|positions| {
            positions
                .into_iter()
                .map(|i| by_path[i].partitioned(path(&by_path[i].file.path)))
                .collect::<Vec<PartitionedFile>>()
        })
        .filter(|g| !g.is_empty())
        .map(FileGroup::new)
        .collect()
}
