//! `compact`: a partition's small data files → fewer, larger ones, under the manifest's
//! guarantees.
//!
//! Incremental conversion leaves small files behind: every run adds one per partition it
//! touches, a late delivery adds one to an old partition, and a run's steps can split a
//! partition. Each file costs a query a footer read and a plan entry. Compaction merges the small
//! files of each partition (in event-time order, so every file stays sorted) into files of up to
//! [`CompactOptions::target_rows`] rows, then commits one manifest that adds the new files and
//! names the files they replace. Readers trust only what the manifests name, so the lake is at
//! every moment either as before or as after: a run killed before its commit leaves uncommitted
//! new files (the next `convert` or `compact` deletes them), one killed after it leaves replaced
//! files no manifest names any more (deleted the same way). Rows are counted on the way and the
//! commit is refused if a single one is missing or extra.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::interleave_record_batch;
use arrow::datatypes::TimestampMicrosecondType;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::{ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use super::Lake;
use super::convert::{remove_orphans, run_id};
use super::manifest::{self, Commit, DataFile, FORMAT_REPLACING};
use super::write::{PartitionKey, lake_file_schema, writer_properties};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Rows of a compacted file at most. Files with half as many or more are left as they are.
    pub target_rows: u64,
    /// Test hook: stop as a kill would, after writing this many new files and before the commit.
    pub stop_after_files: Option<usize>,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            target_rows: 1_000_000,
            stop_after_files: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactSummary {
    pub version_before: u64,
    pub version: u64,
    pub files_before: usize,
    pub files_after: usize,
    /// Small files merged, and the files they became.
    pub files_replaced: usize,
    pub files_written: usize,
    pub rows_rewritten: u64,
    /// Uncommitted files of an interrupted run, and replaced files of a finished one, deleted.
    pub orphans_removed: usize,
}

/// Rows read per input file at a time: the merge holds one such batch per input.
const MERGE_BATCH_ROWS: usize = 2048;
/// Rows per output batch handed to the Parquet writer.
const OUTPUT_BATCH_ROWS: usize = 8192;
/// Files merged into one at most (each holds a batch in memory while merging).
const MAX_INPUTS: usize = 64;

/// Merges each partition's small files of `lake` and commits the result.
pub async fn compact(lake: &Lake, options: &CompactOptions) -> Result<CompactSummary> {
    let snapshot = manifest::load(lake).await?;
    let mut summary = CompactSummary {
        version_before: snapshot.version,
        version: snapshot.version,
        files_before: snapshot.files.len(),
        files_after: snapshot.files.len(),
        orphans_removed: remove_orphans(&snapshot).await?,
        ..CompactSummary::default()
    };
    let groups = plan(&snapshot.files, options.target_rows.max(2));
    if groups.is_empty() {
        return Ok(summary);
    }
    let run = run_id();
    let mut written: Vec<DataFile> = Vec::new();
    let mut replaced: Vec<String> = Vec::new();
    for (seq, group) in groups.into_iter().enumerate() {
        let file = merge_group(lake, &run, seq, &group).await?;
        replaced.extend(group.iter().map(|f| f.path.clone()));
        summary.rows_rewritten += file.rows;
        written.push(file);
        if options.stop_after_files == Some(written.len()) {
            return Err(Error::Archive {
                location: lake.display().to_string(),
                reason: format!(
                    "compact stopped after {} new files, before committing them (test hook)",
                    written.len()
                ),
            });
        }
    }
    summary.files_replaced = replaced.len();
    summary.files_written = written.len();
    let commit = Commit {
        format: FORMAT_REPLACING.to_string(),
        version: snapshot.version + 1,
        run,
        committed_at: chrono::Utc::now().to_rfc3339(),
        files: written,
        sources: Vec::new(),
        listing: None,
        replaces: replaced.clone(),
    };
    manifest::publish(lake, &commit).await?;
    summary.version = commit.version;
    summary.files_after = summary.files_before - summary.files_replaced + summary.files_written;
    // Committed: the replaced files are named by no manifest now. A kill before this loop ends
    // leaves some behind, and the next run's orphan sweep deletes them.
    for path in replaced {
        lake.location.store.delete(&lake.path(&path)).await?;
    }
    Ok(summary)
}

/// The groups of files to merge: per partition, the files under half of `target_rows` in event
/// time order, packed into groups of at most `target_rows` rows; groups of one are left alone.
fn plan(files: &[DataFile], target_rows: u64) -> Vec<Vec<DataFile>> {
    let mut partitions: BTreeMap<PartitionKey, Vec<&DataFile>> = BTreeMap::new();
    for f in files.iter().filter(|f| f.rows < target_rows / 2) {
        partitions.entry(partition_of(f)).or_default().push(f);
    }
    let mut groups = Vec::new();
    for mut small in partitions.into_values() {
        small.sort_by(|a, b| (a.min_eventtime, &a.path).cmp(&(b.min_eventtime, &b.path)));
        let mut group: Vec<DataFile> = Vec::new();
        let mut rows = 0;
        for f in small {
            if !group.is_empty() && (rows + f.rows > target_rows || group.len() == MAX_INPUTS) {
                groups.push(std::mem::take(&mut group));
                rows = 0;
            }
            rows += f.rows;
            group.push(f.clone());
        }
        groups.push(group);
    }
    groups.retain(|g| g.len() > 1);
    groups
}

/// Reads a group's files, merges their rows by event time into one new file and writes it.
async fn merge_group(lake: &Lake, run: &str, seq: usize, group: &[DataFile]) -> Result<DataFile> {
    // Reads retried like every other read of a remote lake.
    let store = lake.location.retrying_reads();
    let inputs: Vec<(String, Bytes)> = stream::iter(group)
        .map(|f| {
            let store = Arc::clone(&store);
            async move {
                let bytes = store.get(&lake.path(&f.path)).await?.bytes().await?;
                Ok::<_, Error>((f.path.clone(), bytes))
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    let expected: u64 = group.iter().map(|f| f.rows).sum();
    let lake_name = lake.display().to_string();
    let merged = tokio::task::spawn_blocking(move || merge_sorted(inputs))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|reason| Error::Archive {
            location: lake_name,
            reason,
        })?;
    if merged.rows != expected {
        return Err(internal(format!(
            "merging {} files gave {} rows where the manifest names {expected}; nothing was committed",
            group.len(),
            merged.rows
        )));
    }
    let key = partition_of(&group[0]);
    let path = format!("{}/part-{run}-c{seq:05}.parquet", key.folder());
    let bytes = merged.parquet.len() as u64;
    lake.location
        .store
        .put(
            &lake.path(&path),
            PutPayload::from(Bytes::from(merged.parquet)),
        )
        .await?;
    Ok(DataFile {
        path,
        account_id: key.account_id,
        region: key.region,
        date: key.date,
        rows: merged.rows,
        bytes,
        min_eventtime: merged.min_eventtime,
        max_eventtime: merged.max_eventtime,
    })
}

fn partition_of(f: &DataFile) -> PartitionKey {
    PartitionKey {
        account_id: f.account_id.clone(),
        region: f.region.clone(),
        date: f.date.clone(),
    }
}

struct Merged {
    parquet: Vec<u8>,
    rows: u64,
    min_eventtime: Option<i64>,
    max_eventtime: Option<i64>,
}

/// One input file being merged: its reader and the batch it is at.
struct Cursor {
    reader: ParquetRecordBatchReader,
    batch: RecordBatch,
    row: usize,
}

impl Cursor {
    fn time(&self) -> Option<i64> {
        let times = self
            .batch
            .column(eventtime_index())
            .as_primitive::<TimestampMicrosecondType>();
        times.is_valid(self.row).then(|| times.value(self.row))
    }

    /// Moves to the next row; false when the file is done.
    fn advance(&mut self) -> std::result::Result<bool, String> {
        self.row += 1;
        while self.row >= self.batch.num_rows() {
            match self.reader.next() {
                Some(batch) => {
                    self.batch = normalized(batch.map_err(|e| e.to_string())?)?;
                    self.row = 0;
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

fn eventtime_index() -> usize {
    static INDEX: std::sync::LazyLock<usize> =
        std::sync::LazyLock::new(|| lake_file_schema().index_of("eventtime").unwrap_or(0));
    *INDEX
}

/// A batch read back from a lake file, in [`lake_file_schema`] (the same columns).
fn normalized(batch: RecordBatch) -> std::result::Result<RecordBatch, String> {
    RecordBatch::try_new(lake_file_schema(), batch.columns().to_vec())
        .map_err(|e| format!("a data file does not have the lake's columns: {e}"))
}

/// K-way merge of sorted lake files by event time (rows without one first, as each file has
/// them), into one Parquet file. Holds one small batch per input and the output being encoded.
fn merge_sorted(inputs: Vec<(String, Bytes)>) -> std::result::Result<Merged, String> {
    let mut cursors: Vec<Cursor> = Vec::new();
    for (path, bytes) in inputs {
        let mut reader = ParquetRecordBatchReader::try_new(bytes, MERGE_BATCH_ROWS)
            .map_err(|e| format!("data file {path}: {e}"))?;
        // A file with no rows adds nothing to the merge.
        if let Some(batch) = reader.next() {
            let batch = normalized(batch.map_err(|e| format!("data file {path}: {e}"))?)?;
            if batch.num_rows() > 0 {
                cursors.push(Cursor {
                    reader,
                    batch,
                    row: 0,
                });
            }
        }
    }
    let mut writer =
        ArrowWriter::try_new(Vec::new(), lake_file_schema(), Some(writer_properties()))
            .map_err(|e| e.to_string())?;
    // Ordered by (time, input): `None` sorts first, and ties keep input order.
    let mut heap: BinaryHeap<Reverse<(Option<i64>, usize)>> = cursors
        .iter()
        .enumerate()
        .map(|(i, c)| Reverse((c.time(), i)))
        .collect();
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(OUTPUT_BATCH_ROWS);
    let (mut rows, mut min_time, mut max_time) = (0u64, None::<i64>, None::<i64>);
    let flush = |picks: &mut Vec<(usize, usize)>,
                 cursors: &[Cursor],
                 writer: &mut ArrowWriter<Vec<u8>>|
     -> std::result::Result<(), String> {
        if picks.is_empty() {
            return Ok(());
        }
        let batches: Vec<&RecordBatch> = cursors.iter().map(|c| &c.batch).collect();
        let out = interleave_record_batch(&batches, picks).map_err(|e| e.to_string())?;
        writer.write(&out).map_err(|e| e.to_string())?;
        picks.clear();
        Ok(())
    };
    while let Some(Reverse((time, i))) = heap.pop() {
        picks.push((i, cursors[i].row));
        rows += 1;
        if let Some(t) = time {
            min_time = Some(min_time.map_or(t, |m| m.min(t)));
            max_time = Some(max_time.map_or(t, |m| m.max(t)));
        }
        let at_batch_end = cursors[i].row + 1 >= cursors[i].batch.num_rows();
        if at_batch_end || picks.len() == OUTPUT_BATCH_ROWS {
            // The picks point into the current batches: write them before one is replaced.
            flush(&mut picks, &cursors, &mut writer)?;
        }
        if cursors[i].advance()? {
            heap.push(Reverse((cursors[i].time(), i)));
        }
    }
    flush(&mut picks, &cursors, &mut writer)?;
    let parquet = writer.into_inner().map_err(|e| e.to_string())?;
    Ok(Merged {
        parquet,
        rows,
        min_eventtime: min_time,
        max_eventtime: max_time,
    })
}

fn internal(msg: String) -> Error {
    Error::Evidence(format!("internal error compacting the lake: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, date: &str, rows: u64, min: i64) -> DataFile {
        DataFile {
            path: path.into(),
            account_id: "111111111111".into(),
            region: "us-east-1".into(),
            date: date.into(),
            rows,
            bytes: rows * 100,
            min_eventtime: Some(min),
            max_eventtime: Some(min + 10),
        }
    }

    #[test]
    fn small_files_of_a_partition_are_packed_in_time_order() {
        let files = [
            file("a", "2026-10-01", 300, 30),
            file("b", "2026-10-01", 400, 10),
            file("c", "2026-10-01", 200, 20),
            file("big", "2026-10-01", 600, 0),
            file("alone", "2026-10-02", 100, 0),
        ];
        let groups = plan(&files, 1000);
        let paths: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.path.as_str()).collect())
            .collect();
        // `big` is past half the target; `alone` has no partner; b+c+a is 900 rows.
        assert_eq!(paths, [["b", "c", "a"]]);
        let groups = plan(&files, 800);
        let paths: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.path.as_str()).collect())
            .collect();
        // Under 400 rows each: c and a (b is 400, not under half of 800).
        assert_eq!(paths, [["c", "a"]]);
    }
}
