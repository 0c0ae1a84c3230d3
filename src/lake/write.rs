//! Rows of the `cloudtrail` table → Hive-partitioned Parquet files, sorted by event time.
//!
//! Synchronous, no I/O: the caller decides where the bytes go. File settings are chosen for
//! scanning: zstd (not for columns of few values and the event time; see [`writer_properties`]),
//! row groups of 128k rows, page statistics and the page index (so time, account, eventname and
//! errorcode filters skip row groups and pages), and bloom filters on the
//! high-cardinality columns an investigator looks up one value of (event id, principal, access
//! key, source IP), where min/max statistics cannot help.

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{Schema, SchemaRef, TimestampMicrosecondType};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::decode::schema::{ACCOUNT_ID, REGION, cloudtrail_schema};
use crate::error::{Error, Result};

/// Hive's name for the partition of rows whose partition value is null (no event time).
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";
/// Rows per row group: small enough to skip by statistics, large enough to scan fast.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows per page (the page index's granularity for skipping inside a row group).
const PAGE_ROWS: usize = 8 * 1024;
/// Text columns whose values come from a small set (API names, services, regions, error codes,
/// kinds of event): every file holds them dictionary-encoded, and queries group on them.
pub(crate) const FEW_VALUES: &[&str] = &[
    "eventname",
    "eventsource",
    "awsregion",
    "errorcode",
    "eventtype",
    "eventcategory",
    "recipientaccountid",
];
/// More columns of few values (versions, flags, kinds, accounts, TLS settings), nested ones
/// among them.
const ALSO_FEW_VALUES: &[&[&str]] = &[
    &["eventversion"],
    &["readonly"],
    &["managementevent"],
    &["useridentity", "type"],
    &["useridentity", "accountid"],
    &["tlsdetails", "tlsversion"],
    &["tlsdetails", "ciphersuite"],
];
/// Columns with a bloom filter, and the distinct values a row group is sized for.
pub(crate) const BLOOM_COLUMNS: &[(&[&str], u64)] = &[
    (&["eventid"], ROW_GROUP_ROWS as u64),
    (&["useridentity", "arn"], 16 * 1024),
    (&["useridentity", "accesskeyid"], 16 * 1024),
    (&["sourceipaddress"], 16 * 1024),
];

/// The schema of the lake's files: the `cloudtrail` table without `account_id` and `region`,
/// which are partition values in the path (Hive readers refuse a column that is both).
pub fn lake_file_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let full = cloudtrail_schema();
        let fields: Vec<_> = full
            .fields()
            .iter()
            .filter(|f| f.name() != ACCOUNT_ID && f.name() != REGION)
            .cloned()
            .collect();
        Arc::new(Schema::new(fields))
    });
    Arc::clone(&SCHEMA)
}

/// Where a group of rows goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionKey {
    pub account_id: String,
    pub region: String,
    pub date: String,
}

impl PartitionKey {
    pub fn folder(&self) -> String {
        format!(
            "account_id={}/region={}/date={}",
            self.account_id, self.region, self.date
        )
    }
}

/// Rows of one partition, sorted by event time, in [`lake_file_schema`].
#[derive(Debug)]
pub struct PartitionRows {
    pub key: PartitionKey,
    pub batch: RecordBatch,
    pub min_eventtime: Option<i64>,
    pub max_eventtime: Option<i64>,
}

/// Splits full `cloudtrail` rows into partitions, each sorted by event time (rows without one
/// first). `batch` must have the whole [`cloudtrail_schema`].
pub fn partition(batch: &RecordBatch) -> Result<Vec<PartitionRows>> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| internal(format!("rows lack the {name} column")))
    };
    let sort = |values, nulls_first| SortColumn {
        values,
        options: Some(SortOptions {
            descending: false,
            nulls_first,
        }),
    };
    let indices = lexsort_to_indices(
        &[
            sort(column(ACCOUNT_ID)?, false),
            sort(column(REGION)?, false),
            sort(column("eventtime")?, true),
        ],
        None,
    )
    .map_err(|e| internal(e.to_string()))?;
    let sorted = take_record_batch(batch, &indices).map_err(|e| internal(e.to_string()))?;
    let accounts = sorted
        .column_by_name(ACCOUNT_ID)
        .map(|c| c.as_string::<i32>());
    let regions = sorted.column_by_name(REGION).map(|c| c.as_string::<i32>());
    let times = sorted
        .column_by_name("eventtime")
        .map(|c| c.as_primitive::<TimestampMicrosecondType>());
    let (Some(accounts), Some(regions), Some(times)) = (accounts, regions, times) else {
        return Err(internal(
            "provenance or eventtime column has another type".into(),
        ));
    };
    let keep: Vec<usize> = sorted
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name() != ACCOUNT_ID && f.name() != REGION)
        .map(|(i, _)| i)
        .collect();
    let key_at = |row: usize| PartitionKey {
        account_id: accounts.value(row).to_string(),
        region: regions.value(row).to_string(),
        date: if times.is_null(row) {
            NULL_PARTITION.to_string()
        } else {
            day(times.value(row))
        },
    };
    let mut out = Vec::new();
    let mut start = 0;
    for row in 1..=sorted.num_rows() {
        let key = key_at(start);
        if row < sorted.num_rows() && key_at(row) == key {
            continue;
        }
        let slice = sorted
            .slice(start, row - start)
            .project(&keep)
            .map_err(|e| internal(e.to_string()))?;
        let slice = RecordBatch::try_new(lake_file_schema(), slice.columns().to_vec())
            .map_err(|e| internal(e.to_string()))?;
        let part_times = times.slice(start, row - start);
        out.push(PartitionRows {
            key,
            batch: slice,
            min_eventtime: arrow::compute::min(&part_times),
            max_eventtime: arrow::compute::max(&part_times),
        });
        start = row;
    }
    Ok(out)
}

/// `YYYY-MM-DD` (UTC) of a microsecond timestamp.
pub fn day(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| NULL_PARTITION.to_string())
}

/// The writer settings of every lake file.
///
/// Columns of few values and the event time are left uncompressed. A reader makes a zstd codec
/// for each column chunk it reads, and parquet 59's allocates a compression and a decompression
/// context (`ZSTD_createCCtx`, `ZSTD_createDCtx`): about a tenth of the CPU of a question that
/// reads two such columns of a hundred files, for little gain in size (dictionary keys bit-packed:
/// eventname 4.1 MB plain against 3.6 MB zstd in the 5M-event benchmark lake). The event time,
/// sorted in each file, is stored as deltas, smaller than zstd over plain values (14.9 MB against
/// 22.2 MB there).
pub fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("trailscope {}", env!("CARGO_PKG_VERSION")));
    let few = FEW_VALUES.iter().map(std::slice::from_ref);
    for path in few.chain(ALSO_FEW_VALUES.iter().copied()) {
        builder = builder.set_column_compression(column_path(path), Compression::UNCOMPRESSED);
    }
    let time = column_path(&["eventtime"]);
    builder = builder
        .set_column_compression(time.clone(), Compression::UNCOMPRESSED)
        .set_column_dictionary_enabled(time.clone(), false)
        .set_column_encoding(time, Encoding::DELTA_BINARY_PACKED);
    for (path, ndv) in BLOOM_COLUMNS {
        let column = column_path(path);
        builder = builder
            .set_column_bloom_filter_enabled(column.clone(), true)
            .set_column_bloom_filter_fpp(column.clone(), 0.01)
            .set_column_bloom_filter_max_ndv(column, *ndv);
    }
    builder.build()
}

fn column_path(path: &[&str]) -> ColumnPath {
    ColumnPath::new(path.iter().map(|p| p.to_string()).collect())
}

/// One Parquet file's bytes for `batch` (in [`lake_file_schema`]).
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut writer =
        ArrowWriter::try_new(Vec::new(), lake_file_schema(), Some(writer_properties()))
            .map_err(|e| internal(format!("parquet writer: {e}")))?;
    writer
        .write(batch)
        .map_err(|e| internal(format!("parquet write: {e}")))?;
    writer
        .into_inner()
        .map_err(|e| internal(format!("parquet close: {e}")))
}

fn internal(msg: String) -> Error {
    Error::Evidence(format!("internal error writing the lake: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::SourceObject;
    use crate::decode::Decoder;

    fn object(key: &str, account: &str, times: &[&str]) -> SourceObject {
        let records: Vec<String> = times
            .iter()
            .enumerate()
            .map(|(i, t)| format!(r#"{{"eventTime":"{t}","eventID":"{key}-{i}","eventName":"X"}}"#))
            .collect();
        let json = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, json.as_bytes()).unwrap();
        SourceObject {
            key: key.into(),
            account_id: account.into(),
            region: "us-east-1".into(),
            bytes: e.finish().unwrap().into(),
        }
    }

    #[test]
    fn rows_go_to_their_event_day_sorted() {
        let objects = [
            object(
                "a",
                "111111111111",
                &["2026-10-02T10:00:00Z", "2026-10-01T23:59:00Z"],
            ),
            object("b", "222222222222", &["2026-10-01T01:00:00Z"]),
            object("c", "111111111111", &["2026-10-01T05:00:00Z", "not a time"]),
        ];
        let decoded = Decoder::new(None, None, None).decode(&objects);
        let parts = partition(&decoded.batch()).unwrap();
        let folders: Vec<String> = parts.iter().map(|p| p.key.folder()).collect();
        assert_eq!(
            folders,
            [
                "account_id=111111111111/region=us-east-1/date=__HIVE_DEFAULT_PARTITION__",
                "account_id=111111111111/region=us-east-1/date=2026-10-01",
                "account_id=111111111111/region=us-east-1/date=2026-10-02",
                "account_id=222222222222/region=us-east-1/date=2026-10-01",
            ]
        );
        let first = &parts[1];
        assert_eq!(first.batch.num_rows(), 2);
        assert!(first.min_eventtime < first.max_eventtime);
        assert_eq!(first.batch.schema(), lake_file_schema());
        let bytes = encode(&first.batch).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
    }

    /// Columns of few values and the event time are read without a codec; the rest is zstd,
    /// and the event time reads back as written.
    #[test]
    fn columns_of_few_values_and_the_time_are_stored_without_compression() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let times = ["2026-10-01T01:00:00Z", "2026-10-01T02:00:00Z"];
        let objects = [object("a", "111111111111", &times)];
        let decoded = Decoder::new(None, None, None).decode(&objects);
        let parts = partition(&decoded.batch()).unwrap();
        let bytes = bytes::Bytes::from(encode(&parts[0].batch).unwrap());
        let reader = SerializedFileReader::new(bytes.clone()).unwrap();
        let group = reader.metadata().row_group(0);
        let chunk = |path: &str| {
            (0..group.num_columns())
                .map(|i| group.column(i))
                .find(|c| c.column_path().string() == path)
                .unwrap()
        };
        for path in ["eventname", "errorcode", "useridentity.type", "eventtime"] {
            assert_eq!(
                chunk(path).compression(),
                Compression::UNCOMPRESSED,
                "{path}"
            );
        }
        for path in ["requestparameters", "eventid", "useridentity.arn"] {
            assert!(
                matches!(chunk(path).compression(), Compression::ZSTD(_)),
                "{path}"
            );
        }
        assert!(
            chunk("eventtime")
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED)
        );
        let back: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes, 1024)
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
        assert_eq!(
            back[0].column_by_name("eventtime"),
            parts[0].batch.column_by_name("eventtime")
        );
    }
}
