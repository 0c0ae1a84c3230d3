//! `convert`: the archive's log files that are not in the lake yet → Parquet, committed in steps.
//!
//! Source objects are taken in key order (account, region, delivery day), so a step covers a few
//! neighbouring days and most partitions get one file per run. A step reads up to
//! [`ConvertOptions::commit_bytes`] of compressed objects (fewer once their rows hold
//! [`ConvertOptions::step_decoded_bytes`]), decodes them on all cores, splits the rows by
//! partition, writes one file per partition (more past `max_file_rows`) under this run's unique
//! name, then commits. A step is the unit of loss when a run is killed: the next run sees the last
//! commit, deletes the files nobody committed and converts what is still missing. An object too
//! large to inflate whole is its own step, written a slice at a time and committed whole.
//!
//! Objects that cannot be read (or only partly) are not converted: they stay raw, so queries
//! with `--lake` still read and report them exactly as a raw scan does.

use std::collections::{BTreeMap, HashSet, VecDeque};

use arrow::array::{AsArray, RecordBatch};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::{ObjectStoreExt, PutPayload};

use super::manifest::{self, Commit, DataFile, FORMAT, LakeSnapshot, SourceRecord};
pub(crate) use super::plan::Plan;
use super::step::{read_step, take_step};
use super::write::{self, PartitionRows};
use super::{Lake, META_FOLDER};
use crate::archive::ObjectEntry;
use crate::archive::{ArchiveSource, ReadError, SourceObject};
use crate::decode::Decoder;
use crate::decode::schema::LOG_FILE;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// A commit closes after this many compressed source bytes. Decoded rows take about six
    /// times that in memory, twice over while sorting.
    pub commit_bytes: u64,
    /// A step also closes once its decoded rows hold this many bytes: logs that compress
    /// unusually well (padded or repeated records, a hostile archive's) inflate far past six
    /// times `commit_bytes`, and this is what bounds the run's memory.
    pub step_decoded_bytes: usize,
    /// A partition's rows of one commit roll over into a new file past this many rows.
    pub max_file_rows: usize,
    /// Test hook: stop as a kill would, after this many data files and before their commit.
    pub stop_after_files: Option<usize>,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            commit_bytes: 32 << 20,
            step_decoded_bytes: 192 << 20,
            max_file_rows: 1_000_000,
            stop_after_files: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertSummary {
    pub version_before: u64,
    pub version: u64,
    /// Log objects in scope in the archive.
    pub objects_in_scope: usize,
    /// Of those, already in the lake.
    pub objects_already: usize,
    pub objects_converted: usize,
    /// Unreadable (or partly readable) objects left raw; named in the source's error log.
    pub objects_unreadable: usize,
    /// Objects in the lake whose size has changed in the archive since (read raw by queries).
    pub changed: Vec<String>,
    /// Objects too large to inflate whole (see `decode::slices`), converted a slice at a time.
    pub converted_in_slices: Vec<String>,
    pub records: u64,
    pub files_written: usize,
    pub bytes_written: u64,
    pub commits: usize,
    /// Uncommitted files of an interrupted run that this run deleted.
    pub orphans_removed: usize,
}

/// Converts the log objects of `source` (in its scope) that the lake does not hold yet.
pub async fn convert(
    source: &ArchiveSource,
    lake: &Lake,
    options: &ConvertOptions,
) -> Result<ConvertSummary> {
    let mut plan = Plan::make(source, lake).await?;
    let run = run_id();
    let mut writer = FileWriter {
        lake,
        run: &run,
        written: 0,
        options,
    };
    let mut unreadable = Vec::new();
    let mut pending: VecDeque<ObjectEntry> = std::mem::take(&mut plan.todo).into();
    while !pending.is_empty() {
        for step in convert_step(&mut writer, source, &mut pending, &mut unreadable).await? {
            plan.summary
                .converted_in_slices
                .extend(step.in_slices.clone());
            let commit = commit(&plan.snapshot, &run, step);
            publish(lake, &mut plan.snapshot, &mut plan.summary, commit).await?;
        }
    }
    plan.summary.objects_unreadable = unreadable.len();
    plan.finish(source, lake, &run, unreadable).await
}

/// What one step wrote, to be committed together: its files (each with the log files whose
/// rows it holds) and the objects converted.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Step {
    pub files: Vec<(DataFile, HashSet<String>)>,
    pub converted: Vec<ConvertedObject>,
    /// Set for the step of one object too large to inflate whole, converted a slice at a time.
    pub in_slices: Option<String>,
}

/// An object converted, as its commit records it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ConvertedObject {
    pub key: String,
    pub size: u64,
    pub e_tag: Option<String>,
    pub rows: u64,
}

impl ConvertedObject {
    fn of(o: &ObjectEntry, rows: u64) -> ConvertedObject {
        ConvertedObject {
            key: o.key.clone(),
            size: o.size,
            e_tag: o.e_tag.clone(),
            rows,
        }
    }
}

/// Converts the next step of `pending` (objects it did not reach go back in front), then each
/// object of it too large to inflate whole; the keys of objects left raw go to `unreadable`.
async fn convert_step(
    writer: &mut FileWriter<'_>,
    source: &ArchiveSource,
    pending: &mut VecDeque<ObjectEntry>,
    unreadable: &mut Vec<String>,
) -> Result<Vec<Step>> {
    let options = writer.options;
    let step = take_step(pending, options.commit_bytes);
    let read = read_step(source, step, options.step_decoded_bytes).await?;
    for o in read.left.into_iter().rev() {
        pending.push_front(o);
    }
    unreadable.extend(read.unreadable);
    let mut steps = Vec::new();
    if !read.converted.is_empty() {
        steps.push(Step {
            files: writer.write(read.batch).await?,
            converted: read
                .converted
                .iter()
                .map(|(o, rows)| ConvertedObject::of(o, *rows))
                .collect(),
            in_slices: None,
        });
    }
    for (entry, object) in read.streamed {
        let Some((files, rows)) = convert_in_slices(writer, source, object).await? else {
            unreadable.push(entry.key);
            continue;
        };
        steps.push(Step {
            files,
            converted: vec![ConvertedObject::of(&entry, rows)],
            in_slices: Some(entry.key.clone()),
        });
    }
    Ok(steps)
}

/// Converts `objects` into files named after `run` without committing them: a cluster task's
/// share of a conversion, which its client commits once every task has succeeded. Returns the
/// steps and the keys of the objects left raw (their reasons are in `source`'s error log).
pub async fn convert_uncommitted(
    source: &ArchiveSource,
    lake: &Lake,
    run: &str,
    objects: Vec<ObjectEntry>,
    options: &ConvertOptions,
) -> Result<(Vec<Step>, Vec<String>)> {
    let mut writer = FileWriter {
        lake,
        run,
        written: 0,
        options,
    };
    let mut unreadable = Vec::new();
    let mut pending: VecDeque<ObjectEntry> = objects.into();
    let mut steps = Vec::new();
    while !pending.is_empty() {
        steps.extend(convert_step(&mut writer, source, &mut pending, &mut unreadable).await?);
    }
    Ok((steps, unreadable))
}

/// Commits the steps a cluster's tasks wrote for one wave of a run, all in one commit (the run
/// ends with [`Plan::finish`], as a local one does).
#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
pub(crate) async fn commit_steps(
    plan: &mut Plan,
    lake: &Lake,
    run: &str,
    steps: Vec<Step>,
) -> Result<()> {
    let mut all = Step::default();
    for step in steps {
        plan.summary.converted_in_slices.extend(step.in_slices);
        all.files.extend(step.files);
        all.converted.extend(step.converted);
    }
    if !all.converted.is_empty() {
        let commit = commit(&plan.snapshot, run, all);
        publish(lake, &mut plan.snapshot, &mut plan.summary, commit).await?;
    }
    Ok(())
}

/// Publishes a commit and counts what it holds.
async fn publish(
    lake: &Lake,
    snapshot: &mut LakeSnapshot,
    summary: &mut ConvertSummary,
    commit: Commit,
) -> Result<()> {
    summary.records += commit.files.iter().map(|f| f.rows).sum::<u64>();
    summary.files_written += commit.files.len();
    summary.bytes_written += commit.files.iter().map(|f| f.bytes).sum::<u64>();
    summary.objects_converted += commit.sources.len();
    manifest::publish(lake, &commit).await?;
    summary.commits += 1;
    summary.version = commit.version;
    snapshot.applied(commit);
    Ok(())
}

/// Writes rows as the lake's files under a run's unique names, numbering them across the run.
struct FileWriter<'a> {
    lake: &'a Lake,
    run: &'a str,
    written: usize,
    options: &'a ConvertOptions,
}

impl FileWriter<'_> {
    /// Splits `batch` by partition and writes one file per partition (more past
    /// `max_file_rows`), encoding on all cores.
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<(DataFile, HashSet<String>)>> {
        let parts = tokio::task::spawn_blocking(move || write::partition(&batch))
            .await
            .map_err(|e| internal(e.to_string()))??;
        let max_rows = self.options.max_file_rows.max(1);
        let pieces: Vec<PartitionRows> =
            parts.into_iter().flat_map(|p| split(p, max_rows)).collect();
        // Under the test hook files are written one at a time, so exactly that many exist when
        // it stops (a cancelled write on a blocking thread would still land).
        let concurrency = match self.options.stop_after_files {
            Some(_) => 1,
            None => parallelism(),
        };
        let (lake, run, written) = (self.lake, self.run, self.written);
        let mut uploads = stream::iter(pieces.into_iter().enumerate())
            .map(|(i, piece)| upload(lake, run, written + i, piece))
            .buffered(concurrency);
        let mut files = Vec::new();
        while let Some(done) = uploads.try_next().await? {
            files.push(done);
            if self.options.stop_after_files == Some(written + files.len()) {
                return Err(Error::Archive {
                    location: lake.display().to_string(),
                    reason: format!(
                        "convert stopped after {} data files, before committing them (test hook)",
                        written + files.len()
                    ),
                });
            }
        }
        self.written += files.len();
        Ok(files)
    }
}

/// Converts an object too large to inflate whole (already checked whole by the step that met
/// it), a slice at a time: memory follows the slice, and the object is committed only once all
/// its files are written. `None` when a slice fails after all: the object is named, its files
/// are deleted and it stays raw.
async fn convert_in_slices(
    writer: &mut FileWriter<'_>,
    source: &ArchiveSource,
    object: SourceObject,
) -> Result<Option<(Vec<(DataFile, HashSet<String>)>, u64)>> {
    let failed = ReadError {
        key: object.key.clone(),
        account_id: object.account_id.clone(),
        region: object.region.clone(),
        reason: String::new(),
        partially_read: false,
        unfetched: false,
    };
    let mut slices = Decoder::new(None, None, None).slices(object);
    let mut files: Vec<(DataFile, HashSet<String>)> = Vec::new();
    let mut rows = 0u64;
    loop {
        let (next, back) = tokio::task::spawn_blocking(move || (slices.next(), slices))
            .await
            .map_err(|e| internal(e.to_string()))?;
        slices = back;
        match next {
            None => return Ok(Some((files, rows))),
            Some(Ok(batch)) => {
                rows += batch.num_rows() as u64;
                files.extend(writer.write(batch).await?);
            }
            Some(Err(reason)) => {
                for (file, _) in &files {
                    writer
                        .lake
                        .location
                        .store
                        .delete(&writer.lake.path(&file.path))
                        .await?;
                }
                source.record_read_errors(vec![ReadError { reason, ..failed }])?;
                return Ok(None);
            }
        }
    }
}

pub(super) fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A run's name: its data files carry it, so files of different runs never collide.
pub(crate) fn run_id() -> String {
    let now = chrono::Utc::now();
    let nanos = now.timestamp_subsec_nanos() as u64;
    let salt = (nanos ^ (u64::from(std::process::id()) << 20)) & 0xffff_ffff;
    format!("{}-{salt:08x}", now.format("%Y%m%dT%H%M%SZ"))
}

/// A partition's rows in pieces of at most `max_rows` (each piece stays sorted).
fn split(p: PartitionRows, max_rows: usize) -> Vec<PartitionRows> {
    let n = p.batch.num_rows();
    if n <= max_rows {
        return vec![p];
    }
    (0..n)
        .step_by(max_rows)
        .map(|offset| {
            let batch = p.batch.slice(offset, max_rows.min(n - offset));
            let times = batch.column_by_name("eventtime").map(|c| {
                c.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .clone()
            });
            PartitionRows {
                key: p.key.clone(),
                min_eventtime: times.as_ref().and_then(arrow::compute::min),
                max_eventtime: times.as_ref().and_then(arrow::compute::max),
                batch,
            }
        })
        .collect()
}

/// Encodes one file on a blocking thread and writes it under its unique name.
async fn upload(
    lake: &Lake,
    run: &str,
    seq: usize,
    piece: PartitionRows,
) -> Result<(DataFile, HashSet<String>)> {
    let PartitionRows {
        key,
        batch,
        min_eventtime,
        max_eventtime,
    } = piece;
    let rows = batch.num_rows() as u64;
    let (bytes, sources) = tokio::task::spawn_blocking(move || {
        let sources: HashSet<String> = batch
            .column_by_name(LOG_FILE)
            .map(|c| {
                c.as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        write::encode(&batch).map(|b| (b, sources))
    })
    .await
    .map_err(|e| internal(e.to_string()))??;
    let path = format!("{}/part-{run}-{seq:05}.parquet", key.folder());
    let size = bytes.len() as u64;
    lake.location
        .store
        .put(&lake.path(&path), PutPayload::from(Bytes::from(bytes)))
        .await?;
    let file = DataFile {
        path,
        account_id: key.account_id,
        region: key.region,
        date: key.date,
        rows,
        bytes: size,
        min_eventtime,
        max_eventtime,
    };
    Ok((file, sources))
}

pub(super) fn commit(snapshot: &LakeSnapshot, run: &str, step: Step) -> Commit {
    let Step {
        files, converted, ..
    } = step;
    let mut files_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, sources)) in files.iter().enumerate() {
        for s in sources {
            files_of.entry(s.as_str()).or_default().push(i);
        }
    }
    let sources = converted
        .iter()
        .map(|o| SourceRecord {
            key: o.key.clone(),
            size: o.size,
            e_tag: o.e_tag.clone(),
            rows: o.rows,
            files: files_of.get(o.key.as_str()).cloned().unwrap_or_default(),
        })
        .collect();
    Commit {
        format: FORMAT.to_string(),
        version: snapshot.version + 1,
        run: run.to_string(),
        committed_at: chrono::Utc::now().to_rfc3339(),
        files: files.into_iter().map(|(f, _)| f).collect(),
        sources,
        listing: None,
        replaces: Vec::new(),
    }
}

/// Deletes data files no manifest names: what a killed run wrote before its commit, including
/// the local store's half-written staging files (`<name>.parquet#<n>`), and files a compaction
/// replaced. One writer (`convert` or `compact`) per lake at a time: a concurrent run's
/// uncommitted files look the same.
pub(crate) async fn remove_orphans(snapshot: &LakeSnapshot) -> Result<usize> {
    let lake = &snapshot.lake;
    let known: HashSet<&str> = snapshot.files.iter().map(|f| f.path.as_str()).collect();
    let root = lake.location.root.clone();
    let prefix = (!root.as_ref().is_empty()).then_some(&root);
    let listed: Vec<object_store::ObjectMeta> =
        lake.location.store.list(prefix).try_collect().await?;
    let mut removed = 0;
    for meta in listed {
        let Some(rel) = lake.relative(&meta.location) else {
            continue;
        };
        if rel.starts_with(META_FOLDER)
            || !rel.starts_with("account_id=")
            || !(rel.ends_with(".parquet") || rel.contains(".parquet#"))
            || known.contains(rel.as_str())
        {
            continue;
        }
        lake.location.store.delete(&meta.location).await?;
        removed += 1;
    }
    Ok(removed)
}

pub(super) fn internal(msg: String) -> Error {
    Error::Evidence(format!("internal error converting: {msg}"))
}
