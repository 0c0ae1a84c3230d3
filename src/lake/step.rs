//! What one `convert` step reads: objects taken in key order, fetched and decoded on all cores
//! until their rows fill the step's memory budget (see [`super::convert`]).

use std::collections::{HashMap, HashSet, VecDeque};

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch};
use futures::{StreamExt, TryStreamExt, stream};

use super::convert::{internal, parallelism};
use crate::archive::fetch::{fetch_unit, units};
use crate::archive::{ArchiveSource, ObjectEntry, SourceObject};
use crate::decode::schema::LOG_FILE;
use crate::decode::{Decoded, Decoder};
use crate::error::{Error, Result};

/// The next step: objects from the front of `pending` (in key order) until they hold about
/// `bytes` compressed bytes.
pub(super) fn take_step(pending: &mut VecDeque<ObjectEntry>, bytes: u64) -> Vec<ObjectEntry> {
    let mut step = Vec::new();
    let mut size = 0;
    while size < bytes
        && let Some(o) = pending.pop_front()
    {
        size += o.size;
        step.push(o);
    }
    step
}

pub(super) struct StepRows {
    /// Rows of the readable objects, whole `cloudtrail` schema.
    pub(super) batch: RecordBatch,
    /// Readable objects, with their row counts.
    pub(super) converted: Vec<(ObjectEntry, u64)>,
    /// Keys of the objects left out for an error.
    pub(super) unreadable: Vec<String>,
    /// Readable objects too large to inflate whole, to be converted a slice at a time.
    pub(super) streamed: Vec<(ObjectEntry, SourceObject)>,
    /// Objects the step did not reach before its rows filled the budget, in key order.
    pub(super) left: Vec<ObjectEntry>,
}

/// Fetches and decodes a step's objects on all cores, in key order, until their rows hold
/// `budget` bytes; leaves out every object with an error.
pub(super) async fn read_step(
    source: &ArchiveSource,
    objects: Vec<ObjectEntry>,
    budget: usize,
) -> Result<StepRows> {
    let budget = budget.max(1);
    let decoder = Decoder::new(None, None, None);
    // Each unit in flight stops at its share, so a step holds at most about twice the budget.
    let share = (budget / parallelism()).max(1);
    let mut reads = stream::iter(units(&objects))
        .map(|unit| {
            let decoder = decoder.clone();
            let keys: Vec<String> = unit.iter().map(|o| o.key.clone()).collect();
            async move {
                let (good, errors) = fetch_unit(&source.location, unit).await;
                let (decoded, not_reached) = tokio::task::spawn_blocking(move || {
                    let mut groups = decoder.groups(good);
                    let mut decoded = Decoded::default();
                    while decoded.memory_size() < share
                        && let Some(group) = groups.next()
                    {
                        decoded.absorb(group);
                    }
                    let not_reached: HashSet<String> =
                        groups.remaining().iter().map(|o| o.key.clone()).collect();
                    (decoded, not_reached)
                })
                .await
                .map_err(|e| internal(e.to_string()))?;
                Ok::<_, Error>((keys, errors, decoded, not_reached))
            }
        })
        .buffered(parallelism());
    let mut reached: HashSet<String> = HashSet::new();
    let mut bad: HashSet<String> = HashSet::new();
    let mut streamed = Vec::new();
    let mut batches = Vec::new();
    let mut held = 0;
    while held < budget
        && let Some((keys, mut errors, decoded, not_reached)) = reads.try_next().await?
    {
        held += decoded.memory_size();
        reached.extend(keys.into_iter().filter(|k| !not_reached.contains(k)));
        errors.extend(decoded.errors);
        bad.extend(errors.iter().map(|e| e.key.clone()));
        source.record_read_errors(errors)?;
        streamed.extend(decoded.streamed);
        batches.extend(decoded.batches);
    }
    drop(reads);
    let schema = decoder.schema();
    let mut batch = concat_batches(&schema, &batches).map_err(|e| internal(e.to_string()))?;
    drop(batches);
    let log_file = |b: &RecordBatch| {
        b.column_by_name(LOG_FILE)
            .map(|c| c.as_string::<i32>().clone())
    };
    if !bad.is_empty()
        && let Some(keys) = log_file(&batch)
    {
        // Partly read objects still gave rows: drop them, the whole object stays raw.
        let keep: BooleanArray = keys
            .iter()
            .map(|k| Some(!bad.contains(k.unwrap_or(""))))
            .collect();
        batch = filter_record_batch(&batch, &keep).map_err(|e| internal(e.to_string()))?;
    }
    let mut rows: HashMap<&str, u64> = HashMap::new();
    let keys = log_file(&batch).ok_or_else(|| internal("no log_file column".into()))?;
    for k in keys.iter().flatten() {
        *rows.entry(k).or_default() += 1;
    }
    let mut in_slices: HashMap<String, SourceObject> =
        streamed.into_iter().map(|o| (o.key.clone(), o)).collect();
    let mut converted = Vec::new();
    let mut streamed = Vec::new();
    let mut left = Vec::new();
    for o in objects {
        if !reached.contains(&o.key) {
            left.push(o);
        } else if let Some(object) = in_slices.remove(&o.key) {
            if !bad.contains(&o.key) {
                streamed.push((o, object));
            }
        } else if !bad.contains(&o.key) {
            let n = rows.get(o.key.as_str()).copied().unwrap_or(0);
            converted.push((o, n));
        }
    }
    Ok(StepRows {
        batch,
        converted,
        unreadable: bad.into_iter().collect(),
        streamed,
        left,
    })
}
