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

/// Batches whose dictionaries number the same values differently, with NULL keys and a NULL
/// value: each group is found by its text, NULL is one group, and the states are DataFusion's.
#[test]
fn groups_are_found_by_value_whatever_each_batch_numbers_them() {
    let text = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let input = Arc::new(Schema::new(vec![
        Field::new("eventname", text.clone(), true),
        Field::new("errorcode", text, true),
        Field::new("bytes", DataType::Int64, true),
    ]));
    let count = AggregateExprBuilder::new(count_udaf(), vec![lit(1i64)])
        .schema(Arc::clone(&input))
        .alias("n")
        .build()
        .unwrap();
    let sum = AggregateExprBuilder::new(sum_udaf(), vec![col("bytes", &input).unwrap()])
        .schema(Arc::clone(&input))
        .alias("total")
        .build()
        .unwrap();
    let aggregates = vec![Arc::new(count), Arc::new(sum)];
    let mut groups = Groups::new(vec![0, 1], &aggregates).unwrap();
    let batch = |names, codes, bytes: Vec<i64>| {
        RecordBatch::try_new(
            Arc::clone(&input),
            vec![names, codes, Arc::new(Int64Array::from(bytes))],
        )
        .unwrap()
    };
    groups
        .add(&batch(
            dictionary(
                vec![Some(0), Some(1), Some(0), None],
                vec![Some("Get"), Some("Put")],
            ),
            dictionary(
                vec![Some(0), Some(0), Some(1), Some(0)],
                vec![None, Some("Denied")],
            ),
            vec![1, 2, 4, 8],
        ))
        .unwrap();
    groups
        .add(&batch(
            dictionary(vec![Some(1), Some(0), None], vec![Some("Put"), Some("Get")]),
            dictionary(vec![Some(0), Some(1), Some(1)], vec![Some("Denied"), None]),
            vec![16, 32, 64],
        ))
        .unwrap();
    let output = Arc::new(Schema::new(vec![
        Field::new("eventname", DataType::Utf8, true),
        Field::new("errorcode", DataType::Utf8, true),
        Field::new("n[count]", DataType::Int64, false),
        Field::new("total[sum]", DataType::Int64, true),
    ]));
    let batch = groups.finish(&output).unwrap();
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
    assert_eq!(
        rows,
        [
            "Get Denied 2 20",
            "Get NULL 1 1",
            "NULL NULL 2 72",
            "Put NULL 2 34",
        ]
    );
}
