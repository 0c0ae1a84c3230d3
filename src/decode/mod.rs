//! How bytes become Arrow: gzip → one `{"Records":[...]}` document → a record batch.
//!
//! Plain synchronous code with no I/O, so it runs on blocking threads (one per core) and is
//! testable without a runtime. A unit of work is several objects decoded into one batch:
//! real archives are mostly tiny files, and one batch per file would drown the engine in
//! small batches.

pub mod builder;
pub mod gzip;
pub mod schema;
pub mod slices;

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, StringBuilder, TimestampMicrosecondArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use sha2::{Digest, Sha256};

use crate::archive::{ContentHash, ReadError, Reading, Readings, SourceObject};
use builder::{Need, StructBuilder, StructSeed};
use schema::{RECORD_FIELDS, cloudtrail_schema, other_fields_index};

/// The result of decoding a unit of objects, or a group of one (see [`Decoder::groups`]).
#[derive(Debug, Default)]
pub struct Decoded {
    /// Rows of every readable object, in the decoder's projected schema: one batch per group of
    /// objects that inflate to at most [`GROUP_INFLATED_BYTES`] (one for a typical unit).
    pub batches: Vec<RecordBatch>,
    pub errors: Vec<ReadError>,
    pub objects_read: usize,
    /// Objects too large to inflate whole, checked whole and to be read with
    /// [`Decoder::slices`] (see [`slices`]).
    pub streamed: Vec<SourceObject>,
}

impl Decoded {
    /// All rows in one batch (tests compare whole results).
    #[cfg(test)]
    pub fn batch(&self) -> RecordBatch {
        let schema = self.batches[0].schema();
        arrow::compute::concat_batches(&schema, &self.batches)
            .expect("batches of one decoder share its schema")
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The bytes its batches hold.
    pub fn memory_size(&self) -> usize {
        self.batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum()
    }

    /// Adds `other`'s rows, errors and objects to these.
    pub fn absorb(&mut self, other: Decoded) {
        self.batches.extend(other.batches);
        self.errors.extend(other.errors);
        self.objects_read += other.objects_read;
        self.streamed.extend(other.streamed);
    }
}

/// A unit's objects decoded one group at a time (see [`Decoder::groups`]).
pub struct Groups {
    decoder: Decoder,
    objects: Vec<SourceObject>,
    next: usize,
}

impl Groups {
    /// The objects no group has taken yet, in order.
    pub fn remaining(&self) -> &[SourceObject] {
        &self.objects[self.next..]
    }
}

impl Iterator for Groups {
    type Item = Decoded;

    /// Inflates objects while the group stays within [`GROUP_INFLATED_BYTES`] (by what each
    /// says it inflates to; a group always takes one), then decodes them into one batch.
    fn next(&mut self) -> Option<Decoded> {
        let start = self.next;
        if start >= self.objects.len() {
            return None;
        }
        let readings = self.decoder.readings.as_deref();
        let mut decoded = Decoded::default();
        let mut inflated = Vec::new();
        let mut bytes = 0;
        let mut end = start;
        while end < self.objects.len()
            && (end == start
                || bytes + gzip::size_hint(&self.objects[end].bytes) <= GROUP_INFLATED_BYTES)
        {
            let one = inflate_one(&self.objects[end], &mut decoded, readings);
            bytes += one.as_ref().map_or(0, Vec::len);
            inflated.push(one);
            end += 1;
        }
        self.next = end;
        self.decoder
            .decode_guarded(&self.objects[start..end], inflated, &mut decoded);
        decoded.objects_read += decoded.streamed.len();
        Some(decoded)
    }
}

/// Why an object was not read when decoding it panicked: a bug, named with the object's key.
const INTERNAL_ERROR: &str = "decoding it failed (an internal error in trailscope: please report \
                              it with this key); the rest of the archive was read";

/// Inflated bytes decoded into one batch at most. A unit of many large objects becomes several
/// batches: memory follows this budget rather than the unit's size, and a string column never
/// nears Arrow's 2 GiB offset limit (an object alone is bounded by [`gzip::MAX_LOG_INFLATED`]).
pub const GROUP_INFLATED_BYTES: usize = 64 << 20;

/// Decodes objects into the `cloudtrail` schema, building only the projected columns and keeping
/// only rows whose event time is in `[from, to)` when a range is given.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Indices into [`cloudtrail_schema`] of the columns to return.
    projection: Vec<usize>,
    schema: SchemaRef,
    time_range: Option<(Option<i64>, Option<i64>)>,
    /// Whether an `eventjson` column (each record's JSON text) follows the projected ones.
    record_json: bool,
    /// Where each object's hashes are recorded as it is inflated (see [`Readings`]).
    readings: Option<Arc<Readings>>,
    /// Struct columns (index into [`cloudtrail_schema`]) of which only some fields are built.
    narrowed: Vec<(usize, BTreeMap<String, Need>)>,
}

const EVENTTIME: usize = 2;

impl Decoder {
    /// `projection`: column indices of [`cloudtrail_schema`] (None = all columns);
    /// `from`/`to`: microseconds since the epoch, inclusive / exclusive.
    pub fn new(projection: Option<&[usize]>, from: Option<i64>, to: Option<i64>) -> Self {
        let full = cloudtrail_schema();
        debug_assert_eq!(RECORD_FIELDS[EVENTTIME].name, "eventtime");
        let projection: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..full.fields().len()).collect(),
        };
        let schema = Arc::new(
            full.project(&projection)
                .expect("projection indices come from the same schema"),
        );
        let time_range = (from.is_some() || to.is_some()).then_some((from, to));
        Decoder {
            projection,
            schema,
            time_range,
            record_json: false,
            readings: None,
            narrowed: Vec::new(),
        }
    }

    /// The same decoder building, of each struct column given (by its position among the
    /// projected columns), only the fields named; the others come out NULL. For a plan that reads
    /// `useridentity.arn` and no other part of `useridentity`: its session context and the rest
    /// are then parsed and checked but not built.
    pub fn with_narrowed(mut self, columns: Vec<(usize, BTreeMap<String, Need>)>) -> Self {
        self.narrowed = columns
            .into_iter()
            .filter_map(|(position, fields)| Some((*self.projection.get(position)?, fields)))
            .collect();
        self
    }

    /// The narrowed struct columns, by name, for a plan's display.
    pub fn narrowed(&self) -> Vec<String> {
        let full = cloudtrail_schema();
        self.narrowed
            .iter()
            .map(|(i, fields)| format!("{}{}", full.field(*i).name(), Need::Only(fields.clone())))
            .collect()
    }

    /// The same decoder, recording each object's hashes into `readings` (when given) as it
    /// inflates it.
    pub fn with_readings(mut self, readings: Option<Arc<Readings>>) -> Self {
        self.readings = readings;
        self
    }

    /// The same decoder with an [`schema::EVENT_JSON`] column last: each record's JSON text as
    /// the log file holds it.
    pub fn with_record_json(mut self) -> Self {
        let mut fields: Vec<_> = self.schema.fields().iter().cloned().collect();
        fields.push(Arc::new(arrow::datatypes::Field::new(
            schema::EVENT_JSON,
            arrow::datatypes::DataType::Utf8,
            true,
        )));
        self.schema = Arc::new(arrow::datatypes::Schema::new(fields));
        self.record_json = true;
        self
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Decodes `objects` into batches. Objects that cannot be read are left out whole and
    /// reported; they never leave half their rows behind. A bug that panics while decoding names
    /// the object it met and loses nothing else.
    pub fn decode(&self, objects: &[SourceObject]) -> Decoded {
        let mut decoded = Decoded::default();
        for group in self.groups(objects.to_vec()) {
            decoded.absorb(group);
        }
        decoded.errors.sort_by(|a, b| a.key.cmp(&b.key));
        decoded
    }

    /// Decodes `objects` a group at a time, as the caller asks: each group inflates to at most
    /// [`GROUP_INFLATED_BYTES`] (or is one object), so a caller holding one group at a time holds
    /// a bounded amount however much a unit's few compressed MiB inflate to.
    pub fn groups(&self, objects: Vec<SourceObject>) -> Groups {
        Groups {
            decoder: self.clone(),
            objects,
            next: 0,
        }
    }

    /// The rows of a streamed object (see [`Decoded::streamed`]), a slice at a time.
    pub fn slices(&self, object: SourceObject) -> slices::Slices {
        slices::Slices::new(self.clone(), object)
    }

    /// Decodes a group; if that panics, decodes its objects one by one to name the culprit.
    fn decode_guarded(
        &self,
        objects: &[SourceObject],
        mut inflated: Vec<Option<Vec<u8>>>,
        decoded: &mut Decoded,
    ) {
        let mut errors = Vec::new();
        let whole = catch_unwind(AssertUnwindSafe(|| {
            self.decode_group(objects, &mut inflated, &mut errors)
        }));
        if let Ok(batch) = whole {
            decoded.objects_read += inflated.iter().filter(|i| i.is_some()).count();
            decoded.batches.push(batch);
            decoded.errors.extend(errors);
            return;
        }
        for (object, bytes) in objects.iter().zip(inflated) {
            let Some(bytes) = bytes else { continue };
            let mut one = vec![Some(bytes)];
            let mut errors = Vec::new();
            let slice = std::slice::from_ref(object);
            match catch_unwind(AssertUnwindSafe(|| {
                self.decode_group(slice, &mut one, &mut errors)
            })) {
                Ok(batch) => {
                    decoded.objects_read += one.iter().filter(|i| i.is_some()).count();
                    decoded.batches.push(batch);
                    decoded.errors.extend(errors);
                }
                Err(_) => decoded
                    .errors
                    .push(read_error(object, INTERNAL_ERROR.into(), false)),
            }
        }
    }

    /// Decodes one document of `object`'s records (a whole object, or a slice of one) into a
    /// batch; a panic becomes [`INTERNAL_ERROR`].
    fn decode_document(
        &self,
        object: &SourceObject,
        document: Vec<u8>,
    ) -> Result<RecordBatch, String> {
        let objects = std::slice::from_ref(object);
        catch_unwind(AssertUnwindSafe(|| {
            self.try_decode(objects, &[Some(document)])
        }))
        .map_err(|_| INTERNAL_ERROR.to_string())?
        .map_err(|(_, reason)| reason)
    }

    /// Decodes a group of inflated objects into one batch; when an object fails part-way, starts
    /// over without it. Failures are rare, so this costs nothing in the common case and never
    /// needs builders that can roll back.
    fn decode_group(
        &self,
        objects: &[SourceObject],
        inflated: &mut [Option<Vec<u8>>],
        errors: &mut Vec<ReadError>,
    ) -> RecordBatch {
        loop {
            match self.try_decode(objects, inflated) {
                Ok(batch) => return batch,
                Err((index, reason)) => {
                    errors.push(read_error(&objects[index], reason, false));
                    inflated[index] = None;
                }
            }
        }
    }

    fn try_decode(
        &self,
        objects: &[SourceObject],
        inflated: &[Option<Vec<u8>>],
    ) -> Result<RecordBatch, (usize, String)> {
        let other_index = other_fields_index();
        let needs_time = self.time_range.is_some();
        let mut record_projection: Vec<usize> = self
            .projection
            .iter()
            .copied()
            .filter(|&i| i < other_index)
            .collect();
        if needs_time && !record_projection.contains(&EVENTTIME) {
            record_projection.push(EVENTTIME);
        }
        let mut records = StructBuilder::new(RECORD_FIELDS, Some(&record_projection));
        for (index, fields) in &self.narrowed {
            records.narrow_child(*index, fields);
        }
        if self.projection.contains(&other_index) {
            records.collect_other_fields();
        }
        if self.record_json {
            records.collect_record_json();
        }
        let mut provenance: Vec<(usize, &SourceObject)> = Vec::new();
        for (index, (object, bytes)) in objects.iter().zip(inflated).enumerate() {
            let Some(bytes) = bytes else { continue };
            let before = records.len();
            parse_document(bytes, &mut records).map_err(|e| (index, e))?;
            provenance.push((records.len() - before, object));
        }
        let rows = records.len();
        let (record_columns, other_fields) = records.finish_columns();
        let record_json = records.finish_record_json();
        let full = cloudtrail_schema();
        let provenance_column = |pick: fn(&SourceObject) -> &str| -> ArrayRef {
            let bytes = provenance.iter().map(|(n, o)| n * pick(o).len()).sum();
            let mut builder = StringBuilder::with_capacity(rows, bytes);
            for (n, o) in &provenance {
                for _ in 0..*n {
                    builder.append_value(pick(o));
                }
            }
            Arc::new(builder.finish())
        };
        let column = |i: usize| -> ArrayRef {
            if i < other_index {
                record_columns[i]
                    .clone()
                    .expect("projected columns are built")
            } else if i == other_index {
                other_fields
                    .clone()
                    .expect("other_fields is built when projected")
            } else {
                match full.field(i).name().as_str() {
                    schema::ACCOUNT_ID => provenance_column(|o| &o.account_id),
                    schema::REGION => provenance_column(|o| &o.region),
                    _ => provenance_column(|o| &o.key),
                }
            }
        };
        let mut columns: Vec<ArrayRef> = self.projection.iter().map(|&i| column(i)).collect();
        columns.extend(record_json);
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(self.schema(), columns, &options)
            .map_err(|e| (0, format!("internal: building batch: {e}")))?;
        match self.time_range {
            None => Ok(batch),
            Some((from, to)) => {
                let times = record_columns[EVENTTIME]
                    .as_ref()
                    .expect("eventtime is built for time filters");
                let times = times
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .expect("eventtime is a microsecond timestamp");
                let keep: BooleanArray = times
                    .iter()
                    .map(|t| {
                        Some(t.is_some_and(|t| {
                            from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e)
                        }))
                    })
                    .collect();
                filter_record_batch(&batch, &keep)
                    .map_err(|e| (0, format!("internal: filtering: {e}")))
            }
        }
    }
}

/// An object's inflated bytes, or `None` with its error filed (or, too large to inflate whole
/// but readable, with the object filed as streamed); its hashes go to `readings`.
fn inflate_one(
    object: &SourceObject,
    decoded: &mut Decoded,
    readings: Option<&Readings>,
) -> Option<Vec<u8>> {
    // Content hashes only when a later step reads them: hashing every object costs a scan.
    let hashed = readings.is_some();
    let (outcome, trailing, content) = inflate_hashing(object, hashed);
    if let Some(readings) = readings {
        readings.record(&object.key, reading(object, content));
    }
    if trailing > 0 {
        decoded.errors.push(read_error(
            object,
            format!(
                "{trailing} bytes of data after the end of the gzip member were not read (CloudTrail writes one member: possible tampering)"
            ),
            true,
        ));
    }
    match outcome {
        Ok(Some(bytes)) => Some(bytes),
        Ok(None) => {
            decoded.streamed.push(object.clone());
            None
        }
        Err(reason) => {
            decoded.errors.push(read_error(object, reason, false));
            None
        }
    }
}

/// An object inflated (`None`: too large to inflate whole, but checked readable in slices) or
/// why not, the bytes after its gzip member, and its content's hash when `hashed`.
fn inflate_hashing(
    object: &SourceObject,
    hashed: bool,
) -> (Result<Option<Vec<u8>>, String>, usize, Option<ContentHash>) {
    match gzip::inflate(&object.bytes, gzip::MAX_LOG_INFLATED) {
        Ok(i) => {
            let content = hashed.then(|| ContentHash {
                sha256: hex::encode(Sha256::digest(&i.bytes)),
                uncompressed_len: i.bytes.len() as u64,
                trailing_bytes: i.trailing_bytes,
            });
            (Ok(Some(i.bytes)), i.trailing_bytes, content)
        }
        Err(gzip::InflateError::TooLarge { .. }) => match slices::check(object, hashed) {
            Ok(checked) => (Ok(None), checked.trailing_bytes, checked.content),
            Err(reason) => (Err(reason), 0, None),
        },
        Err(e) => (Err(e.to_string()), 0, None),
    }
}

fn reading(object: &SourceObject, content: Option<ContentHash>) -> Reading {
    Reading {
        size: object.bytes.len() as u64,
        stored_sha256: hex::encode(Sha256::digest(&object.bytes)),
        content,
    }
}

/// An object's hashes as a scan records them, without decoding it: for checks whose scan ran
/// elsewhere (on a cluster's executors).
pub fn reading_of(object: &SourceObject) -> Reading {
    reading(object, inflate_hashing(object, true).2)
}

fn read_error(object: &SourceObject, reason: String, partially_read: bool) -> ReadError {
    ReadError {
        key: object.key.clone(),
        account_id: object.account_id.clone(),
        region: object.region.clone(),
        reason,
        partially_read,
        unfetched: false,
    }
}

/// Parses one document (`{"Records":[...]}`, or a bare array of records) into `records`.
///
/// The document's UTF-8 is checked once, whole, and serde_json then reads it as text: read from
/// bytes, it checks each string (every key and value) on its own, at a cost per string: a month's
/// 51,696 log files inflated and decoded on one core took 2.32 s against 2.98 s (one column
/// built; 3.18 s against 3.94 s with the report's 18). A document that is not UTF-8 is read from
/// bytes as before, so its error names where, as it always did.
fn parse_document(bytes: &[u8], records: &mut StructBuilder) -> Result<(), String> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_from(serde_json::Deserializer::from_str(text), records),
        Err(_) => parse_from(serde_json::Deserializer::from_slice(bytes), records),
    }
}

fn parse_from<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    records: &mut StructBuilder,
) -> Result<(), String> {
    let found = de::Deserializer::deserialize_any(&mut de, DocumentVisitor(records))
        .map_err(|e| format!("not a CloudTrail log document: {e}"))?;
    de.end()
        .map_err(|e| format!("unexpected data after the JSON document: {e}"))?;
    if found {
        Ok(())
    } else {
        Err("JSON object without a \"Records\" array".into())
    }
}

struct DocumentVisitor<'a>(&'a mut StructBuilder);

impl<'de> Visitor<'de> for DocumentVisitor<'_> {
    /// Whether a `Records` array was found.
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a \"Records\" array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(builder::Key(key)) = map.next_key()? {
            if key == "Records" {
                // Two arrays: which one is the log is the attacker's choice. Not read.
                if found {
                    return Err(de::Error::custom(
                        "a second \"Records\" array (CloudTrail writes one)",
                    ));
                }
                map.next_value_seed(RecordsSeed(&mut *self.0))?;
                found = true;
            } else {
                map.next_value::<builder::Checked>()?;
            }
        }
        Ok(found)
    }

    /// A bare array of records, as `lookup-events` exports and detonation logs hold.
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        RecordsVisitor(self.0).visit_seq(seq)?;
        Ok(true)
    }
}

struct RecordsSeed<'a>(&'a mut StructBuilder);

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(RecordsVisitor(self.0))
    }
}

struct RecordsVisitor<'a>(&'a mut StructBuilder);

impl<'de> Visitor<'de> for RecordsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RecordSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// A record must be an object: a `null` or a string in `Records` is corruption, not a row.
struct RecordSeed<'a>(&'a mut StructBuilder);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if !self.0.wants_record_json() {
            return deserializer.deserialize_map(RecordVisitor(self.0));
        }
        // The record's text is kept, then read as any record is.
        let raw = <&'de serde_json::value::RawValue as de::Deserialize>::deserialize(deserializer)?;
        let text = raw.get();
        let mut record = serde_json::Deserializer::from_str(text);
        de::Deserializer::deserialize_map(&mut record, RecordVisitor(&mut *self.0))
            .map_err(de::Error::custom)?;
        self.0.push_record_json(text);
        Ok(())
    }
}

struct RecordVisitor<'a>(&'a mut StructBuilder);

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        StructSeed(self.0).deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

#[cfg(test)]
mod tests;
