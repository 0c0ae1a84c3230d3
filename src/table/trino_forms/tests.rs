use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, ListBuilder, StringBuilder};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;

use crate::table::{base_session, statements};

/// Rows `id`, `xs`, `ys`: 1 has two and one elements, 2 an empty array, 3 NULL.
async fn run(sql: &str) -> Vec<String> {
    let mut xs = ListBuilder::new(StringBuilder::new());
    let mut ys = ListBuilder::new(StringBuilder::new());
    xs.values().append_value("a");
    xs.values().append_value("b");
    xs.append(true);
    xs.append(true);
    xs.append(false);
    ys.values().append_value("y");
    ys.append(true);
    ys.append(true);
    ys.append(false);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        ("xs", Arc::new(xs.finish())),
        ("ys", Arc::new(ys.finish())),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let ctx = base_session().unwrap();
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
    ctx.register_table("events", Arc::new(table)).unwrap();
    let parsed = statements::parse_checked(sql, None).unwrap();
    let mut results = statements::execute(&ctx, parsed)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches = results.pop().unwrap().batches;
    let mut rows = Vec::new();
    for b in &batches {
        for row in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| datafusion::arrow::util::display::array_value_to_string(c, row).unwrap())
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}

#[tokio::test]
async fn cross_join_unnest_drops_empty_and_null_arrays() {
    let rows =
        run("SELECT e.id, u.x FROM events e CROSS JOIN UNNEST(e.xs) AS u(x) ORDER BY 1, 2").await;
    assert_eq!(rows, ["1|a", "1|b"]);
}

#[tokio::test]
async fn left_join_unnest_on_true_keeps_them_with_null() {
    let rows =
        run("SELECT id, x FROM events LEFT JOIN UNNEST(xs) AS t(x) ON TRUE ORDER BY 1, 2").await;
    assert_eq!(rows, ["1|a", "1|b", "2|", "3|"]);
}

#[tokio::test]
async fn with_ordinality_numbers_elements_from_one() {
    let rows = run(
        "SELECT id, x, n FROM events CROSS JOIN UNNEST(xs) WITH ORDINALITY AS t(x, n) ORDER BY 1, 3",
    )
    .await;
    assert_eq!(rows, ["1|a|1", "1|b|2"]);
    let left = run(
        "SELECT id, n FROM events LEFT JOIN UNNEST(xs) WITH ORDINALITY AS t(x, n) ON TRUE \
         WHERE id = 2",
    )
    .await;
    assert_eq!(left, ["2|"]);
}

#[tokio::test]
async fn several_arrays_zip_and_pad_with_null() {
    let rows =
        run("SELECT id, x, y FROM events CROSS JOIN UNNEST(xs, ys) AS t(x, y) ORDER BY 1, 2").await;
    assert_eq!(rows, ["1|a|y", "1|b|"]);
}

#[tokio::test]
async fn star_over_an_unnest_shows_no_position_column() {
    let rows =
        run("SELECT * FROM events CROSS JOIN UNNEST(xs) AS t(x) WHERE id = 1 AND x = 'b'").await;
    assert_eq!(rows, ["1|[a, b]|[y]|b"]);
}

#[test]
fn fields_of_values_become_subscripts_named_as_our_structs() {
    let sql = "SELECT element_at(resources, 1).accountId, resources[1]['ARN'], \
               requestparameters['bucketName'] FROM cloudtrail";
    let mut parsed = statements::parse_checked(sql, None).unwrap();
    let text = parsed.pop().unwrap().to_string();
    assert!(
        text.contains("element_at(resources, 1)['accountid'] AS \"accountid\""),
        "{text}"
    );
    assert!(text.contains("resources[1]['arn'] AS \"arn\""), "{text}");
    // JSON text is looked into as Lake's maps are, keys in their case.
    assert!(
        text.contains("element_at(requestparameters, 'bucketName')"),
        "{text}"
    );
}
#[test]
fn trino_casts_try_split_and_ipaddress_literals() {
    let sql = "SELECT try(CAST(x AS integer)), try(CAST(ip AS IPADDRESS)), split(arn, '/'), \
               CAST(ip AS IPADDRESS) > IPADDRESS '10.0.0.0', 'IPADDRESS ''1.1.1.1''' FROM t";
    let mut parsed = statements::parse_checked(sql, None).unwrap();
    let text = parsed.pop().unwrap().to_string();
    assert!(text.contains("(TRY_CAST(x AS INTEGER))"), "{text}");
    assert!(text.contains("(try_ipaddress(ip))"), "{text}");
    assert!(
        text.contains("try_ipaddress(ip) > ipaddress('10.0.0.0')"),
        "{text}"
    );
    assert!(text.contains("string_to_array(arn, '/')"), "{text}");
    // Inside a string literal nothing changes.
    assert!(text.contains("'IPADDRESS ''1.1.1.1'''"), "{text}");
    // Offsets hold past multi-byte characters and line breaks.
    assert_eq!(
        super::ipaddress_literals("SELECT 'é',\n  IPADDRESS\t'1.2.3.4' < ip"),
        "SELECT 'é',\n  ipaddress('1.2.3.4') < ip"
    );
}

#[test]
fn timestamps_in_string_functions_are_cloudtrail_text_in_select_lists() {
    let sql = "SELECT substr(eventtime, 1, 10), eventtime LIKE '2017%', substr(eventname, 1, 3) \
               FROM cloudtrail";
    let mut parsed = statements::parse_checked(sql, None).unwrap();
    let text = parsed.pop().unwrap().to_string();
    let time = "to_char(eventtime, '%Y-%m-%dT%H:%M:%SZ')";
    assert!(text.contains(&format!("SUBSTR({time}, 1, 10)")), "{text}");
    assert!(text.contains(&format!("{time} LIKE '2017%'")), "{text}");
    assert!(text.contains("SUBSTR(eventname, 1, 3)"), "{text}");
}
#[tokio::test]
async fn order_by_a_source_column_an_output_shadows_sorts_by_the_source() {
    // Trino sorts by e.id (1, 2, 3); the output id is its negation.
    let rows = run("SELECT e.id * -1 AS id FROM events e ORDER BY e.id LIMIT 2").await;
    assert_eq!(rows, ["-1", "-2"]);
    let with_cte =
        run("WITH x AS (SELECT * FROM events) SELECT x.id * -1 AS id FROM x ORDER BY x.id DESC")
            .await;
    assert_eq!(with_cte, ["-3", "-2", "-1"]);
}
