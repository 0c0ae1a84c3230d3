use super::*;
use datafusion::arrow::array::{DictionaryArray, Int32Array, Int64Array};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::physical_expr::aggregate::AggregateExprBuilder;
use datafusion::physical_expr::expressions::{col, lit};

fn dictionary(keys: Vec<Option<i32>>, values: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(
        DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(keys),
            Arc::new(StringArray::from(values)),
        )
        .unwrap(),
    )
}

fn input_schema() -> SchemaRef {
    let text = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("eventname", text.clone(), true),
        Field::new("errorcode", text, true),
        Field::new("bytes", DataType::Int64, true),
    ]))
}

fn batch(names: ArrayRef, codes: ArrayRef, bytes: Vec<i64>) -> RecordBatch {
    RecordBatch::try_new(
        input_schema(),
        vec![names, codes, Arc::new(Int64Array::from(bytes))],
    )
    .unwrap()
}

/// `count(1)` and `sum(bytes)` by both text columns of `batches`, as sorted lines.
fn grouped(batches: &[RecordBatch]) -> Result<Vec<String>> {
    let input = input_schema();
    let count = AggregateExprBuilder::new(count_udaf(), vec![lit(1i64)])
        .schema(Arc::clone(&input))
        .alias("n")
        .build()?;
    let sum = AggregateExprBuilder::new(sum_udaf(), vec![col("bytes", &input)?])
        .schema(Arc::clone(&input))
        .alias("total")
        .build()?;
    let aggregates = vec![Arc::new(count), Arc::new(sum)];
    let mut groups = Groups::new(vec![0, 1], &aggregates)?;
    for batch in batches {
        groups.add(batch)?;
    }
    let output = Arc::new(Schema::new(vec![
        Field::new("eventname", DataType::Utf8, true),
        Field::new("errorcode", DataType::Utf8, true),
        Field::new("n[count]", DataType::Int64, false),
        Field::new("total[sum]", DataType::Int64, true),
    ]));
    let batch = groups.finish(&output)?;
    let mut rows: Vec<String> = (0..batch.num_rows())
        .map(|r| {
            let text = |c: usize| {
                let a = batch.column(c).as_string::<i32>();
                if a.is_null(r) {
                    "NULL".to_string()
                } else {
                    a.value(r).to_string()
                }
            };
            let number = |c: usize| {
                batch
                    .column(c)
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(r)
            };
            format!("{} {} {} {}", text(0), text(1), number(2), number(3))
        })
        .collect();
    rows.sort();
    Ok(rows)
}

/// Two batches whose dictionaries number the same values differently, with NULL keys and a
/// NULL value; each dictionary also holds `unused` values no row has.
fn two_batches(unused: usize) -> Vec<RecordBatch> {
    let dictionary = |keys: Vec<Option<i32>>, named: Vec<Option<&str>>| -> ArrayRef {
        let mut values: Vec<Option<String>> =
            named.into_iter().map(|v| v.map(str::to_string)).collect();
        values.extend((0..unused).map(|i| Some(format!("Unused{i}"))));
        dictionary(keys, values.iter().map(|v| v.as_deref()).collect())
    };
    vec![
        batch(
            dictionary(
                vec![Some(0), Some(1), Some(0), None],
                vec![Some("Get"), Some("Put")],
            ),
            dictionary(
                vec![Some(0), Some(0), Some(1), Some(0)],
                vec![None, Some("Denied")],
            ),
            vec![1, 2, 4, 8],
        ),
        batch(
            dictionary(vec![Some(1), Some(0), None], vec![Some("Put"), Some("Get")]),
            dictionary(vec![Some(0), Some(1), Some(1)], vec![Some("Denied"), None]),
            vec![16, 32, 64],
        ),
    ]
}

/// Each group is found by its text whatever each batch's dictionary numbers it, NULL is one
/// group, and the states are DataFusion's: with small dictionaries (a batch's key combinations
/// looked up once each) and with large ones (each row's values looked up).
#[test]
fn groups_are_found_by_value_whatever_each_batch_numbers_them() {
    let expected = [
        "Get Denied 2 20",
        "Get NULL 1 1",
        "NULL NULL 2 72",
        "Put NULL 2 34",
    ];
    assert_eq!(grouped(&two_batches(0)).unwrap(), expected);
    // 202 x 203 combinations: more than a batch of 3 rows is worth a dense table for.
    assert_eq!(grouped(&two_batches(200)).unwrap(), expected);
}

/// A key outside its dictionary is an error naming the column, on either path, not a panic.
#[test]
fn a_key_outside_its_dictionary_is_an_error() {
    // Past the end, past the end beside a NULL key (whose place is just past the end), negative.
    let wrong: [Vec<Option<i32>>; 3] = [
        vec![Some(0), Some(1)],
        vec![None, Some(1)],
        vec![Some(0), Some(-1)],
    ];
    for (padding, keys) in [0, 200]
        .into_iter()
        .flat_map(|p| wrong.clone().map(|k| (p, k)))
    {
        let keys: Vec<Option<i32>> = keys
            .into_iter()
            .map(|k| k.map(|k| if k > 0 { k + padding } else { k }))
            .collect();
        let mut names: Vec<String> = vec!["Get".into()];
        names.extend((0..padding).map(|i| format!("Unused{i}")));
        let codes: Vec<Option<&str>> = (0..=padding).map(|_| None).collect();
        let names = StringArray::from(names.iter().map(|n| Some(n.as_str())).collect::<Vec<_>>());
        // SAFETY: the key outside its dictionary is the point of the test, and the code under
        // test checks every key before it indexes with it.
        let outside = unsafe {
            DictionaryArray::<Int32Type>::new_unchecked(
                Int32Array::from(keys.clone()),
                Arc::new(names),
            )
        };
        let bad = batch(
            Arc::new(outside),
            dictionary(vec![Some(0), Some(0)], codes),
            vec![1, 2],
        );
        let error = grouped(&[bad]).unwrap_err().to_string();
        assert!(
            error.contains("a key outside its dictionary in column 0"),
            "{keys:?}: {error}"
        );
    }
}
