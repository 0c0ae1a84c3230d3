use std::sync::Arc;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn batch(from: i64, n: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let names: Vec<Option<String>> = (from..from + n)
        .map(|i| (i % 2 == 0).then(|| format!("e{i}")))
        .collect();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(from..from + n)),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap()
}

fn write(name: &str, batches: &[RecordBatch]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let schema = batch(0, 0).schema();
    write_all(format(name).unwrap(), &mut out, &schema, batches, true).unwrap();
    out
}

#[test]
fn every_format_writes_every_row_of_every_batch() {
    let batches = [batch(0, 3), batch(3, 0), batch(3, 2)];
    let text = |name| String::from_utf8(write(name, &batches)).unwrap();
    assert_eq!(text("csv"), "n,name\n0,e0\n1,\n2,e2\n3,\n4,e4\n");
    let jsonl = text("jsonl");
    assert_eq!(jsonl.lines().count(), 5);
    assert_eq!(jsonl.lines().next(), Some(r#"{"n":0,"name":"e0"}"#));
    assert_eq!(text("ndjson"), jsonl, "ndjson is jsonl's alias");
    let array: serde_json::Value = serde_json::from_str(&text("json")).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 5);
    assert_eq!(array[4]["n"], 4);
    let table = text("table");
    assert!(table.contains("| n | name |"), "{table}");
    assert_eq!(table.matches("| e").count(), 3, "{table}");
    let parquet = bytes::Bytes::from(write("parquet", &batches));
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(parquet, 1024).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 5);
}

#[test]
fn an_empty_result_still_shows_its_columns() {
    assert_eq!(String::from_utf8(write("csv", &[])).unwrap(), "n,name\n");
    assert_eq!(String::from_utf8(write("json", &[])).unwrap(), "[]\n");
    assert_eq!(String::from_utf8(write("jsonl", &[])).unwrap(), "");
    let table = String::from_utf8(write("table", &[])).unwrap();
    assert!(table.contains("| n | name |"), "{table}");
}

#[test]
fn a_long_table_prints_its_first_block_before_the_result_ends() {
    let mut out: Vec<u8> = Vec::new();
    let schema = batch(0, 0).schema();
    {
        let mut sink = format("table")
            .unwrap()
            .open(&mut out, schema, false)
            .unwrap();
        // One batch holding the first block, the whole second one and 5 rows of the third.
        let rows = FIRST_BLOCK_ROWS + TABLE_BLOCK_ROWS + 5;
        sink.batch(&batch(0, rows as i64)).unwrap();
        // The rest of the result may take long (or never come, under `| head`).
        std::mem::forget(sink);
    }
    let text = String::from_utf8(out).unwrap();
    let last_printed = FIRST_BLOCK_ROWS + TABLE_BLOCK_ROWS - 1;
    assert!(
        text.contains(&format!("| {last_printed} ")),
        "two blocks are out"
    );
    assert!(
        !text.contains(&format!("| {} ", last_printed + 1)),
        "the third block waits for more rows"
    );
    // Each block is a table of its own: two headers.
    assert_eq!(text.matches("| n ").count(), 2);
}

#[test]
fn binary_formats_need_a_file_and_names_resolve_with_aliases() {
    let mut out: Vec<u8> = Vec::new();
    let err = format("parquet")
        .unwrap()
        .open(&mut out, batch(0, 0).schema(), false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("write it to a file"), "{err}");
    assert_eq!(format("ndjson").unwrap().name, "jsonl");
    assert!(format("xml").is_none());
}

use text::{FIRST_BLOCK_ROWS, TABLE_BLOCK_ROWS};

#[test]
fn records_write_every_key_in_name_order_with_json_embedded() {
    let batch = records(
        &[
            ("status", Column::Text),
            ("account_id", Column::Text),
            ("evidence", Column::Json),
        ],
        [
            vec![
                Some("fail".into()),
                None,
                Some(r#"{"events":2,"check":"alarm"}"#.into()),
            ],
            vec![
                Some("pass".into()),
                Some("1".into()),
                Some("not json".into()),
            ],
        ],
    )
    .unwrap();
    let jsonl = String::from_utf8(write_one("jsonl", &batch)).unwrap();
    assert_eq!(
        jsonl,
        "{\"account_id\":null,\"evidence\":{\"check\":\"alarm\",\"events\":2},\"status\":\"fail\"}\n\
         {\"account_id\":\"1\",\"evidence\":\"not json\",\"status\":\"pass\"}\n"
    );
    let array: serde_json::Value = serde_json::from_slice(&write_one("json", &batch)).unwrap();
    assert_eq!(array[0]["evidence"]["events"], 2);
    // Text formats keep the JSON as text, in column order.
    let csv = String::from_utf8(write_one("csv", &batch)).unwrap();
    assert!(
        csv.starts_with("status,account_id,evidence\nfail,,"),
        "{csv}"
    );
}

fn write_one(name: &str, batch: &RecordBatch) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    write_all(
        format(name).unwrap(),
        &mut out,
        &batch.schema(),
        std::slice::from_ref(batch),
        true,
    )
    .unwrap();
    out
}
