use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMicrosecondType;
use bytes::Bytes;

fn object(key: &str, json: &str) -> SourceObject {
    SourceObject {
        key: key.into(),
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        bytes: Bytes::from(json.to_string()),
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch.column(batch.schema().index_of(name).unwrap())
}

const DRIFTED: &str = r#"{"Records":[
  {"eventVersion":"1.11","eventTime":"2024-01-01T00:00:01Z","eventName":"GetObject","readOnly":"true",
   "managementEvent":false,"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a",
   "sessionContext":{"attributes":{"mfaAuthenticated":"false"}}},
   "resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"}],
   "requestParameters":{"bucketName":"b"},"brandNewField":{"x":1}},
  {"eventVersion":"1.01","eventTime":"2025-03-26 16:43:57.000000000","eventName":"StopLogging",
   "requestParameters":null,"readOnly":false,"resources":null}
]}"#;

#[test]
fn decodes_drifted_records_losslessly() {
    let d = Decoder::new(None, None, None).decode(&[object("k1", DRIFTED)]);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let b = &d.batch();
    assert_eq!(b.num_rows(), 2);
    let readonly = column(b, "readonly").as_boolean();
    assert_eq!((readonly.value(0), readonly.value(1)), (true, false));
    let times = column(b, "eventtime").as_primitive::<TimestampMicrosecondType>();
    assert!(times.is_valid(0) && times.is_valid(1));
    let params = column(b, "requestparameters").as_string::<i32>();
    assert_eq!(params.value(0), r#"{"bucketName":"b"}"#);
    assert!(params.is_null(1));
    let other = column(b, "other_fields").as_string::<i32>();
    assert_eq!(other.value(0), r#"{"brandNewField":{"x":1}}"#);
    assert!(other.is_null(1));
    let resources = column(b, "resources").as_list::<i32>();
    let arns = resources.value(0);
    let arn = arns
        .as_struct()
        .column_by_name("arn")
        .unwrap()
        .as_string::<i32>()
        .value(0)
        .to_string();
    assert_eq!(
        arn, "arn:aws:s3:::b",
        "upper-case ARN key lands in the arn field"
    );
    assert!(resources.is_null(1));
    let ui = column(b, "useridentity").as_struct();
    let mfa = ui
        .column_by_name("sessioncontext")
        .unwrap()
        .as_struct()
        .column_by_name("attributes")
        .unwrap()
        .as_struct()
        .column_by_name("mfaauthenticated")
        .unwrap()
        .as_string::<i32>()
        .value(0)
        .to_string();
    assert_eq!(mfa, "false");
    assert_eq!(column(b, "log_file").as_string::<i32>().value(1), "k1");
}

#[test]
fn projection_builds_only_requested_columns() {
    let schema = cloudtrail_schema();
    let name = schema.index_of("eventname").unwrap();
    let file = schema.index_of("log_file").unwrap();
    let d = Decoder::new(Some(&[name, file]), None, None).decode(&[object("k", DRIFTED)]);
    assert_eq!(d.batch().num_columns(), 2);
    assert_eq!(
        column(&d.batch(), "eventname").as_string::<i32>().value(1),
        "StopLogging"
    );
    let empty = Decoder::new(Some(&[]), None, None).decode(&[object("k", DRIFTED)]);
    assert_eq!(
        (empty.batch().num_columns(), empty.batch().num_rows()),
        (0, 2)
    );
}

#[test]
fn time_range_keeps_rows_in_half_open_interval() {
    let from = parse_time("2024-01-01T00:00:01Z");
    let d = Decoder::new(Some(&[]), Some(from), Some(from + 1)).decode(&[object("k", DRIFTED)]);
    assert_eq!(d.batch().num_rows(), 1);
    let d = Decoder::new(Some(&[]), None, Some(from)).decode(&[object("k", DRIFTED)]);
    assert_eq!(d.batch().num_rows(), 0);
}

fn parse_time(s: &str) -> i64 {
    crate::time::parse_event_time(s).unwrap()
}

#[test]
fn bad_objects_are_named_and_leave_no_rows() {
    let good = object("good", DRIFTED);
    let half = object("half", r#"{"Records":[{"eventName":"A"},{"eventName":"B""#);
    let not_json = object("notjson", "<html>AccessDenied</html>");
    let no_records = object("norecords", r#"{"records":[]}"#);
    let null_record = object("nullrecord", r#"{"Records":[null]}"#);
    let empty = object("empty", "");
    let twice = object(
        "twice",
        r#"{"Records":[{"eventName":"A"}],"Records":[{"eventName":"B"}]}"#,
    );
    let d = Decoder::new(None, None, None).decode(&[
        twice,
        half,
        good,
        not_json,
        no_records,
        null_record,
        empty,
    ]);
    assert_eq!(d.batch().num_rows(), 2, "only the good object's rows");
    let keys: Vec<&str> = d.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "empty",
            "half",
            "norecords",
            "notjson",
            "nullrecord",
            "twice"
        ]
    );
    assert!(
        d.errors
            .iter()
            .all(|e| !e.partially_read && !e.reason.is_empty())
    );
    assert_eq!(d.objects_read, 1);
}

#[test]
fn text_that_is_not_utf8_makes_the_object_unreadable_wherever_it_is() {
    let bytes = |key: &str, json: &[u8]| SourceObject {
        bytes: Bytes::from(json.to_vec()),
        ..object(key, "")
    };
    let read = bytes(
        "read",
        "{\"Records\":[{\"eventName\":\"Ünï ✓\"}]}".as_bytes(),
    );
    let in_read_column = bytes("bad-read", b"{\"Records\":[{\"eventName\":\"A\xff\"}]}");
    let in_skipped_column = bytes(
        "bad-skipped",
        b"{\"Records\":[{\"eventName\":\"A\",\"userAgent\":\"\xc3(\"}]}",
    );
    let eventname = cloudtrail_schema().index_of("eventname").expect("a column");
    let d = Decoder::new(Some(&[eventname]), None, None).decode(&[
        read,
        in_read_column,
        in_skipped_column,
    ]);
    let names = d.batch().column(0).as_string::<i32>().clone();
    assert_eq!(names.iter().collect::<Vec<_>>(), [Some("Ünï ✓")]);
    let errors: Vec<(&str, &str)> = d
        .errors
        .iter()
        .map(|e| (e.key.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "bad-read",
                "not a CloudTrail log document: invalid unicode code point at line 1 column 28"
            ),
            (
                "bad-skipped",
                "not a CloudTrail log document: invalid unicode code point at line 1 column 43"
            ),
        ]
    );
}

#[test]
fn empty_records_and_bare_arrays_are_fine() {
    let d = Decoder::new(None, None, None).decode(&[
        object("a", r#"{"Records": [ ]}"#),
        object("b", r#"[{"eventName":"X"}]"#),
    ]);
    assert!(d.errors.is_empty());
    assert_eq!(d.batch().num_rows(), 1);
}

#[test]
fn large_units_are_decoded_in_groups_bounded_by_inflated_bytes() {
    // Three objects of ~30 MiB each (one long string apiece): more than one group's budget.
    let big = |key: &str| {
        let filler = "x".repeat(30 << 20);
        object(
            key,
            &format!(r#"{{"Records":[{{"eventName":"Big","userAgent":"{filler}"}}]}}"#),
        )
    };
    let d = Decoder::new(None, None, None).decode(&[
        big("a"),
        big("b"),
        big("c"),
        object("d", DRIFTED),
    ]);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        d.batches.len(),
        2,
        "{:?}",
        d.batches
            .iter()
            .map(RecordBatch::num_rows)
            .collect::<Vec<_>>()
    );
    assert_eq!((d.num_rows(), d.objects_read), (5, 4));
    for b in &d.batches {
        let bytes: usize = column(b, "useragent").as_string::<i32>().value_data().len();
        assert!(bytes <= GROUP_INFLATED_BYTES + (30 << 20), "{bytes}");
    }
}

#[test]
fn record_json_is_each_records_own_text_in_a_last_column() {
    let name = cloudtrail_schema().index_of("eventname").unwrap();
    let plain = Decoder::new(Some(&[name]), None, None);
    assert_eq!(plain.schema().fields().len(), 1);
    let with_json = plain.with_record_json();
    let d = with_json.decode(&[object("k", DRIFTED)]);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let b = &d.batch();
    assert_eq!(b.schema().field(1).name(), schema::EVENT_JSON);
    let texts = b.column(1).as_string::<i32>();
    let document: serde_json::Value = serde_json::from_str(DRIFTED).unwrap();
    for row in 0..2 {
        // The text is the record's own, byte for byte, new fields included.
        let record = &document["Records"][row];
        let text = texts.value(row);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text).unwrap(),
            *record
        );
        assert!(DRIFTED.contains(text));
    }
    assert!(texts.value(0).contains("brandNewField"));
    // A record that is not an object is still corruption.
    let d = with_json.decode(&[object("bad", r#"{"Records":[{"eventName":"A"}, "x"]}"#)]);
    assert_eq!(d.errors.len(), 1);
}

/// `object` read in slices of about `slice_bytes`, as one too large to inflate whole is: its
/// verdict, then its rows in one batch.
fn sliced(
    decoder: &Decoder,
    object: &SourceObject,
    slice_bytes: usize,
) -> Result<RecordBatch, String> {
    slices::check(object, false)?;
    let batches: Vec<RecordBatch> = decoder
        .slices(object.clone())
        .with_slice_bytes(slice_bytes)
        .collect::<Result<_, _>>()?;
    Ok(arrow::compute::concat_batches(&decoder.schema(), &batches)
        .expect("slices share the decoder's schema"))
}

#[test]
fn an_object_read_in_slices_gives_the_verdict_and_rows_of_one_read_whole() {
    let many: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"eventName":"E{i}","eventTime":"2024-01-01T00:00:{:02}Z","requestParameters":{{"n":[{i},"x\\\"]"]}}}}"#, i % 60))
        .collect();
    let documents = [
        DRIFTED.to_string(),
        format!(r#"{{"Records":[{}]}}"#, many.join(",")),
        format!(
            r#"{{"meta":{{"a":[1,2]}},"Records":[{}],"tail":null}}"#,
            many.join(" , ")
        ),
        format!("[{}]", many.join(",")),
        r#"{"Records":[]}"#.into(),
        r#"{"Records":[{"eventName":"A"}],"Records":[]}"#.into(),
        r#"{"Records":[{"eventName":"A"},"not a record"]}"#.into(),
        r#"{"Records":[{"eventName":"A"}]} trailing"#.into(),
        format!(
            r#"{{"Records":[{{"x":{}{}}}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        ),
        format!(
            r#"{{"deep":{}{},"Records":[]}}"#,
            "[".repeat(127),
            "]".repeat(127)
        ),
        format!(
            r#"{{"deep":{}{},"Records":[]}}"#,
            "[".repeat(126),
            "]".repeat(126)
        ),
    ];
    for decoder in [
        Decoder::new(None, None, None),
        Decoder::new(None, None, None).with_record_json(),
        Decoder::new(Some(&[1]), Some(10_000_000 + 1_704_067_200_000_000), None),
    ] {
        for doc in &documents {
            let object = object("k", doc);
            let whole = decoder.decode(std::slice::from_ref(&object));
            for slice_bytes in [1, 100, 1 << 20] {
                match sliced(&decoder, &object, slice_bytes) {
                    Ok(batch) => {
                        assert!(whole.errors.is_empty(), "{doc}: {:?}", whole.errors);
                        assert_eq!(batch, whole.batch(), "{doc}");
                    }
                    Err(why) => assert!(
                        whole.objects_read == 0 && !whole.errors.is_empty(),
                        "{doc}: read whole, but in slices: {why}"
                    ),
                }
            }
        }
    }
}

#[test]
fn an_object_too_large_to_inflate_whole_is_streamed_checked_and_hashed() {
    // Just over the cap: read in slices, with the content hash a whole inflation would give.
    let record = format!(
        r#"{{"eventName":"Big","userAgent":"{}"}}"#,
        "a".repeat(1 << 20)
    );
    let n = (gzip::MAX_LOG_INFLATED >> 20) + 2;
    let json = format!(r#"{{"Records":[{}]}}"#, vec![record.as_str(); n].join(","));
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, json.as_bytes()).expect("gzip into memory");
    let gz = e.finish().expect("gzip into memory");
    let big = SourceObject {
        bytes: Bytes::from(gz),
        ..object("big", "")
    };
    let readings = Arc::new(Readings::default());
    let decoder = Decoder::new(Some(&[1]), None, None).with_readings(Some(readings.clone()));
    let d = decoder.decode(std::slice::from_ref(&big));
    assert!(d.errors.is_empty() && d.num_rows() == 0, "{:?}", d.errors);
    assert_eq!((d.objects_read, d.streamed.len()), (1, 1));
    let content = readings
        .get("big")
        .and_then(|r| r.content.clone())
        .expect("the streamed object's content is hashed");
    assert_eq!(content.uncompressed_len, json.len() as u64);
    assert_eq!(content.sha256, hex::encode(Sha256::digest(json.as_bytes())));
    let rows: usize = decoder
        .slices(d.streamed[0].clone())
        .map(|b| b.expect("a checked object reads").num_rows())
        .sum();
    assert_eq!(rows, n);
}

#[test]
fn a_narrowed_struct_builds_only_the_fields_named_and_checks_the_rest() {
    use super::builder::Need;
    let schema = cloudtrail_schema();
    let identity = schema.index_of("useridentity").unwrap();
    let only_arn = || {
        vec![(
            0,
            BTreeMap::from([
                ("arn".to_string(), Need::Whole),
                (
                    "sessioncontext".to_string(),
                    Need::at(&["attributes".into()], Need::Whole),
                ),
            ]),
        )]
    };
    let narrowed = Decoder::new(Some(&[identity]), None, None).with_narrowed(only_arn());
    let whole = Decoder::new(Some(&[identity]), None, None);
    let (n, w) = (
        narrowed.decode(&[object("k", DRIFTED)]).batch(),
        whole.decode(&[object("k", DRIFTED)]).batch(),
    );
    assert_eq!(n.schema(), w.schema(), "the schema does not change");
    let (n, w) = (n.column(0).as_struct(), w.column(0).as_struct());
    assert_eq!(n.column_by_name("arn"), w.column_by_name("arn"));
    assert_eq!(n.nulls(), w.nulls(), "an absent userIdentity stays NULL");
    assert_eq!(w.column_by_name("type").unwrap().null_count(), 1);
    assert_eq!(n.column_by_name("type").unwrap().null_count(), 2);
    let session = |s: &arrow::array::StructArray| {
        let context = s
            .column_by_name("sessioncontext")
            .unwrap()
            .as_struct()
            .clone();
        let attributes = context.column_by_name("attributes").unwrap().clone();
        (
            context
                .column_by_name("sessionissuer")
                .unwrap()
                .null_count(),
            attributes,
        )
    };
    let ((n_issuer_nulls, n_attributes), (_, w_attributes)) = (session(n), session(w));
    assert!(
        n_attributes == w_attributes,
        "a field named deeper is built"
    );
    assert_eq!(n_issuer_nulls, 2, "its siblings are not");
    assert_eq!(
        narrowed.narrowed(),
        ["useridentity{arn,sessioncontext{attributes}}"]
    );

    // A field not built is still read: a bad value in it fails the object as before.
    let bad = object(
        "bad",
        "{\"Records\":[{\"eventName\":\"A\",\"userIdentity\":{\"arn\":\"a\",\"type\":\"\\ud800\"}}]}",
    );
    let bad = std::slice::from_ref(&bad);
    let (n, w) = (narrowed.decode(bad), whole.decode(bad));
    assert_eq!(w.errors.len(), 1);
    assert_eq!(n.errors.len(), 1, "{:?}", n.errors);
    assert_eq!(n.errors[0].reason, w.errors[0].reason);
}

#[test]
fn keys_written_with_escapes_name_the_same_fields() {
    // Keys are borrowed from the document; one holding an escape is unescaped into a copy, and
    // must land where its plain spelling would, nested or not, or among the other fields.
    let json = r#"{"R\u0065cords":[{"eventN\u0061me":"A","userIdentity":{"\u0074ype":"Root"},
        "n\u00e9w":1}]}"#;
    let d = Decoder::new(None, None, None).decode(&[object("k", json)]);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let b = &d.batch();
    assert_eq!(column(b, "eventname").as_string::<i32>().value(0), "A");
    let ui = column(b, "useridentity").as_struct();
    let kind = ui.column_by_name("type").unwrap().as_string::<i32>();
    assert_eq!(kind.value(0), "Root");
    let other = column(b, "other_fields").as_string::<i32>();
    assert_eq!(other.value(0), "{\"n\u{e9}w\":1}");
}
