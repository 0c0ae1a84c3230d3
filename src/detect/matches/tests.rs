use super::*;

#[test]
fn matched_events_never_spill_into_the_archive() {
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("eventname", DataType::Utf8, true),
            Field::new("m_0", DataType::Boolean, true),
        ])),
        vec![
            Arc::new(datafusion::arrow::array::StringArray::from(vec!["A"])),
            Arc::new(BooleanArray::from(vec![true])),
        ],
    )
    .expect("two columns of one row");
    let collector = || Collector {
        flags: vec!["m_0".into()],
        ..Matcher::default().collector()
    };
    // An archive holding the temporary folder: past the budget, the pass stops.
    let holding = std::env::temp_dir().join("..");
    let mut inside = collector().spilling_past(0, Some(holding));
    let e = inside.add(batch.clone()).unwrap_err().to_string();
    assert!(e.contains("set TMPDIR"), "{e}");
    // Elsewhere it spills.
    let elsewhere = tempfile::tempdir()
        .expect("a temporary folder")
        .path()
        .join("archive");
    let mut outside = collector().spilling_past(0, Some(elsewhere));
    outside.add(batch).expect("spills outside the archive");
    assert!(outside.spill.is_some());
}

/// Rules that are not correlations read the matched events once; each takes the rows its
/// own query would give (a NULL flag, a field the event lacks, matches nothing).
#[tokio::test]
async fn plain_rules_take_from_one_read_the_rows_of_their_own_queries() {
    let rule = |name: &str, id: &str, field: &str, value: &str| {
        (
            format!("{name}.yml"),
            format!(
                "title: {name}\nid: {id}\nstatus: test\nlogsource:\n  product: aws\n  \
                 service: cloudtrail\ndetection:\n  selection:\n    {field}: {value}\n  \
                 condition: selection\nlevel: low\n"
            ),
        )
    };
    let set = super::super::load::load(&[
        rule(
            "stops",
            "6e4c4bd2-8b07-4b43-9d11-5d0d8d5e0c01",
            "eventName",
            "StopLogging",
        ),
        rule(
            "denied",
            "6e4c4bd2-8b07-4b43-9d11-5d0d8d5e0c02",
            "errorCode",
            "AccessDenied",
        ),
    ]);
    let rules = set.runnable();
    assert_eq!(rules.len(), 2, "{:?}", set.failed);
    let matcher = Matcher::new(&rules);
    let flag = |r: &Compiled| matcher.flags[&r.selections[0].condition].clone();
    let (stops, denied) = (flag(&rules[0]), flag(&rules[1]));
    // Five matched events: a stop, a denial, both, a stop whose other flag is NULL, neither
    // (kept for a correlation, say).
    let flags = [
        (Some(true), Some(false)),
        (Some(false), Some(true)),
        (Some(true), Some(true)),
        (Some(true), None),
        (Some(false), Some(false)),
    ];
    let mut fields: Vec<Field> = EVENT_COLUMN_NAMES
        .iter()
        .map(|c| Field::new(*c, DataType::Utf8, true))
        .collect();
    let mut columns: Vec<datafusion::arrow::array::ArrayRef> = EVENT_COLUMN_NAMES
        .iter()
        .map(|c| {
            Arc::new(datafusion::arrow::array::StringArray::from_iter_values(
                (0..flags.len()).map(|row| format!("{c} {row}")),
            )) as _
        })
        .collect();
    for (name, pick) in [(&stops, 0), (&denied, 1)] {
        fields.push(Field::new(name, DataType::Boolean, true));
        columns.push(Arc::new(BooleanArray::from(
            flags
                .iter()
                .map(|f| if pick == 0 { f.0 } else { f.1 })
                .collect::<Vec<_>>(),
        )));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("event columns and two flags");
    let ctx = SessionContext::new();
    ctx.register_batch(TABLE, batch).expect("registers");

    // The event ids of some rows, sorted.
    let event_ids = |batches: &[RecordBatch]| -> Vec<String> {
        let mut ids: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let ids = b
                    .column_by_name("eventid")
                    .expect("eventid")
                    .as_string::<i32>();
                (0..b.num_rows())
                    .map(|i| ids.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort();
        ids
    };
    let run = |sql: String| {
        let ctx = ctx.clone();
        async move {
            ctx.sql(&sql)
                .await
                .expect("plans")
                .collect()
                .await
                .expect("runs")
        }
    };
    let plain: Vec<&Compiled> = rules.iter().collect();
    let read = run(matcher.plain_sql(&plain).expect("two flags")).await;
    let source = Source::Matches(&matcher);
    let mut taken = Vec::new();
    for rule in &rules {
        let own = event_ids(&run(rule.sql_over(&source)).await);
        let mine = event_ids(&matcher.rows_of(rule, &read).expect("filters"));
        assert_eq!(mine, own, "{}", rule.rule.title);
        taken.push(mine);
    }
    let ids =
        |rows: &[usize]| -> Vec<String> { rows.iter().map(|r| format!("eventid {r}")).collect() };
    assert_eq!(taken, vec![ids(&[0, 2, 3]), ids(&[1, 2])]);
}

#[test]
fn a_value_that_is_an_event_column_is_read_from_it() {
    assert_eq!(event_column("useridentity.arn"), Some("principal"));
    assert_eq!(event_column("eventname"), Some("eventname"));
    assert_eq!(event_column("useridentity.type"), None);
}

/// The scan hands the collector a few matched events per batch; the table the rules read holds
/// them in full batches, every row kept in order with its row number.
#[tokio::test]
async fn matched_events_of_many_small_batches_are_held_in_few() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("eventname", DataType::Utf8, true),
        Field::new("m_0", DataType::Boolean, true),
    ]));
    let mut collector = Collector {
        flags: vec!["m_0".into()],
        ..Matcher::default().collector()
    };
    for i in 0..300 {
        let names = datafusion::arrow::array::StringArray::from(vec![
            format!("Matched{i}"),
            format!("Other{i}"),
        ]);
        let flags = BooleanArray::from(vec![true, false]);
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(names), Arc::new(flags)])
                .expect("two columns of two rows");
        collector.add(batch).expect("held in memory");
    }
    let ctx = SessionContext::new();
    let registered = collector
        .register(&ctx, Arc::clone(&schema))
        .await
        .expect("registered");
    assert_eq!(registered.rows, 300);
    let batches = ctx
        .sql(&format!("SELECT eventname, {ROW_ID} FROM {TABLE}"))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    assert_eq!(batches.len(), 1, "the matched events were not coalesced");
    let names = datafusion::arrow::compute::cast(batches[0].column(0), &DataType::Utf8)
        .expect("names as text");
    let names: Vec<&str> = names.as_string::<i32>().iter().flatten().collect();
    let expected: Vec<String> = (0..300).map(|i| format!("Matched{i}")).collect();
    assert_eq!(names, expected);
    let ids = batches[0]
        .column(1)
        .as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
    assert_eq!(ids.values().to_vec(), (0..300).collect::<Vec<u64>>());
}
