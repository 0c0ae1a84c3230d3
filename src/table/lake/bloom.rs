//! Skipping lake files by bloom filter when a query looks up one principal or access key.
//!
//! The lake writes bloom filters on the values an investigator looks up one of, among them the
//! `arn` and `accesskeyid` leaves of the `useridentity` struct: min/max statistics cannot rule
//! out one ARN among thousands, a bloom filter can. DataFusion 55 prunes with the bloom
//! filters of top-level columns only (apache/datafusion#20871), so "what did this key do" would
//! open and decode every file of the lake. Before the scan is planned, the table reads each
//! candidate file's footer and the filters of the looked-up leaf itself, and keeps the row
//! groups that may hold one of the values. The footers go into the session's file-metadata
//! cache, where DataFusion's scan finds them again, so a kept file's footer is read once.
//!
//! Skipping is only ever an optimisation: a file whose footer or filter cannot be read is kept,
//! and the scan still filters every row it reads.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{ScalarValue, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::parquet::{ParquetAccessPlan, RowGroupAccess};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use futures::{StreamExt, stream};
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};

use crate::lake::manifest::DataFile;
use crate::lake::write::BLOOM_COLUMNS;

/// Files whose footers are read at once.
const CONCURRENT_FILES: usize = 16;

/// An equality lookup on a struct leaf with a bloom filter: `useridentity.arn = 'x'` or
/// `useridentity.accesskeyid IN ('a', 'b')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// The leaf's path in the file: `["useridentity", "arn"]`.
    pub path: Vec<String>,
    /// One of these values must be present for a row group to be read.
    pub values: Vec<String>,
}

/// The lookups among `filters` (each ANDed with the rest) that bloom filters can answer and
/// DataFusion does not: equality or IN on a bloom-filtered leaf of a struct.
pub(crate) fn lookups(filters: &[Expr]) -> Vec<Lookup> {
    filters
        .iter()
        .flat_map(|f| split_conjunction(f))
        .filter_map(lookup)
        .collect()
}

fn lookup(expr: &Expr) -> Option<Lookup> {
    let (field, values) = match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (text(left), text(right)) {
            (None, Some(v)) => (left.as_ref(), vec![v]),
            (Some(v), None) => (right.as_ref(), vec![v]),
            _ => return None,
        },
        Expr::InList(list) if !list.negated => {
            let values: Option<Vec<String>> = list.list.iter().map(text).collect();
            (list.expr.as_ref(), values?)
        }
        _ => return None,
    };
    let path = leaf_path(field)?;
    let bloom = BLOOM_COLUMNS
        .iter()
        .any(|(p, _)| p.len() > 1 && p.iter().eq(path.iter()));
    bloom.then_some(Lookup { path, values })
}

/// A non-null string literal's value.
fn text(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(v))
            | ScalarValue::Utf8View(Some(v))
            | ScalarValue::LargeUtf8(Some(v)),
            _,
        ) => Some(v.clone()),
        _ => None,
    }
}

/// `["useridentity", "arn"]` for `get_field(useridentity, 'arn')` (possibly nested).
fn leaf_path(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Column(c) => Some(vec![c.name.clone()]),
        Expr::ScalarFunction(f) if f.name() == "get_field" => {
            let (base, names) = f.args.split_first()?;
            let mut path = leaf_path(base)?;
            for name in names {
                path.push(text(name)?);
            }
            Some(path)
        }
        _ => None,
    }
}

/// A lake file the scan reads, with the row groups to read when not all of them.
#[derive(Debug)]
pub(crate) struct Candidate<'a> {
    pub file: &'a DataFile,
    pub row_groups: Option<ParquetAccessPlan>,
}

impl Candidate<'_> {
    /// The file as DataFusion's scan takes it (`path`: where the store finds it). A whole file
    /// carries its row count from the manifest as exact statistics, so `count(*)` over the lake
    /// is answered without opening a file.
    pub fn partitioned(&self, path: String) -> PartitionedFile {
        let file = PartitionedFile::new(path, self.file.bytes).with_partition_values(vec![
            ScalarValue::Utf8(Some(self.file.account_id.clone())),
            ScalarValue::Utf8(Some(self.file.region.clone())),
        ]);
        match &self.row_groups {
            Some(plan) => file.with_extension(plan.clone()),
            None => {
                let mut stats = Statistics::new_unknown(super::table_schema().table_schema());
                stats.num_rows = Precision::Exact(self.file.rows as usize);
                stats.total_byte_size = Precision::Inexact(self.file.bytes as usize);
                file.with_statistics(Arc::new(stats))
            }
        }
    }
}

/// Every row group of every file.
pub(crate) fn whole(files: Vec<&DataFile>) -> Vec<Candidate<'_>> {
    files
        .into_iter()
        .map(|file| Candidate {
            file,
            row_groups: None,
        })
        .collect()
}

/// `files` less those whose bloom filters rule out every lookup's values, each with the row
/// groups that may hold them. Without lookups, every file whole.
pub(crate) async fn prune<'a>(
    state: &dyn Session,
    store: Arc<dyn ObjectStore>,
    files: Vec<&'a DataFile>,
    lookups: &[Lookup],
    path: impl Fn(&str) -> String,
) -> Vec<Candidate<'a>> {
    if lookups.is_empty() {
        return whole(files);
    }
    let cache = state.runtime_env().cache_manager.get_file_metadata_cache();
    let lookups = Arc::new(lookups.to_vec());
    // Owned inputs only: the futures must not borrow `files` (async-trait's scan needs them
    // to be valid for any lifetime).
    let reads: Vec<(String, u64)> = files.iter().map(|f| (path(&f.path), f.bytes)).collect();
    let plans: Vec<Option<ParquetAccessPlan>> = stream::iter(reads)
        .map(|(location, bytes)| {
            let (store, cache, lookups) =
                (Arc::clone(&store), Arc::clone(&cache), Arc::clone(&lookups));
            async move {
                // As DataFusion's scan describes the file, so its cache finds this footer.
                let meta = PartitionedFile::new(location, bytes).object_meta;
                let footer = DFParquetMetadata::new(store.as_ref(), &meta)
                    .with_file_metadata_cache(Some(cache))
                    .with_metadata_size_hint(Some(super::FOOTER_READ))
                    .with_page_index_policy(Some(PageIndexPolicy::Skip))
                    .fetch_metadata()
                    .await;
                match footer {
                    Ok(footer) => {
                        Some(row_groups(store.as_ref(), &meta.location, &footer, &lookups).await)
                    }
                    Err(_) => None,
                }
            }
        })
        .buffered(CONCURRENT_FILES)
        .collect()
        .await;
    files
        .into_iter()
        .zip(plans)
        .filter_map(|(file, plan)| {
            let row_groups = match plan {
                Some(plan) if plan.row_group_indexes().is_empty() => return None,
                Some(plan) if plan.row_group_indexes().len() < plan.len() => Some(plan),
                // Every row group may hold a value, or the footer was unreadable: the file is
                // read whole (and the scan reports what it cannot read).
                _ => None,
            };
            Some(Candidate { file, row_groups })
        })
        .collect()
}

/// The row groups of one file whose filters may hold a value of every lookup.
async fn row_groups(
    store: &dyn ObjectStore,
    location: &object_store::path::Path,
    footer: &ParquetMetaData,
    lookups: &[Lookup],
) -> ParquetAccessPlan {
    let groups = footer.row_groups();
    let mut plan = ParquetAccessPlan::new_all(groups.len());
    let schema = footer.file_metadata().schema_descr();
    for lookup in lookups {
        let Some(leaf) = (0..schema.num_columns()).find(|&i| {
            schema
                .column(i)
                .path()
                .parts()
                .iter()
                .eq(lookup.path.iter())
        }) else {
            continue;
        };
        for (i, group) in groups.iter().enumerate() {
            if !plan.should_scan(i) {
                continue;
            }
            let chunk = group.column(leaf);
            let (Some(offset), Some(length)) =
                (chunk.bloom_filter_offset(), chunk.bloom_filter_length())
            else {
                continue;
            };
            let (Ok(start), Ok(length)) = (u64::try_from(offset), u64::try_from(length)) else {
                continue;
            };
            let Ok(bytes) = store.get_range(location, start..start + length).await else {
                continue;
            };
            let Ok(filter) = Sbbf::from_bytes(&bytes) else {
                continue;
            };
            if !lookup.values.iter().any(|v| filter.check(v.as_str())) {
                plan.set(i, RowGroupAccess::Skip);
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use datafusion::functions::core::expr_fn::get_field;
    use datafusion::logical_expr::{col, lit};

    use super::*;

    fn arn() -> Expr {
        get_field(col("useridentity"), "arn")
    }

    #[test]
    fn lookups_are_equalities_on_bloom_filtered_struct_leaves() {
        let path = vec!["useridentity".to_string(), "arn".to_string()];
        let found = lookups(&[
            arn().eq(lit("a")),
            lit("b").eq(get_field(col("useridentity"), "accesskeyid")),
            arn().in_list(vec![lit("c"), lit("d")], false),
        ]);
        assert_eq!(
            found,
            [
                Lookup {
                    path: path.clone(),
                    values: vec!["a".into()]
                },
                Lookup {
                    path: vec!["useridentity".into(), "accesskeyid".into()],
                    values: vec!["b".into()]
                },
                Lookup {
                    path: path.clone(),
                    values: vec!["c".into(), "d".into()]
                },
            ]
        );
        // Conjuncts are looked into; anything that is not a plain lookup is left to DataFusion.
        let and = arn().eq(lit("a")).and(col("eventname").eq(lit("X")));
        assert_eq!(lookups(&[and]).len(), 1);
        for other in [
            arn().in_list(vec![lit("a")], true),
            arn().not_eq(lit("a")),
            arn().eq(arn()),
            arn().eq(lit(ScalarValue::Utf8(None))),
            arn().eq(lit("a")).or(arn().eq(lit("b"))),
            col("eventid").eq(lit("a")),
            get_field(col("useridentity"), "type").eq(lit("Root")),
        ] {
            assert!(lookups(std::slice::from_ref(&other)).is_empty(), "{other}");
        }
    }
}
