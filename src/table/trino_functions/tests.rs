//! Trino's documented examples (trino.io/docs/current/functions), run through a session.

use datafusion::arrow::util::display::array_value_to_string;

use crate::table::base_session;

/// The first value of `SELECT expr`, as text.
async fn value(expr: &str) -> String {
    let ctx = base_session().unwrap();
    let batches = ctx
        .sql(&format!("SELECT {expr}"))
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    array_value_to_string(batches[0].column(0), 0).unwrap()
}

async fn error(expr: &str) -> String {
    let ctx = base_session().unwrap();
    match ctx.sql(&format!("SELECT {expr}")).await {
        Err(e) => e.to_string(),
        Ok(df) => df.collect().await.unwrap_err().to_string(),
    }
}

#[tokio::test]
async fn date_add_and_date_diff_as_documented() {
    let at = "from_iso8601_timestamp('2020-03-01T00:00:00Z')";
    assert_eq!(
        value(&format!("to_iso8601(date_add('second', 86, {at}))")).await,
        "2020-03-01T00:01:26.000Z"
    );
    assert_eq!(
        value(&format!("to_iso8601(date_add('hour', 9, {at}))")).await,
        "2020-03-01T09:00:00.000Z"
    );
    assert_eq!(
        value(&format!("to_iso8601(date_add('day', -1, {at}))")).await,
        "2020-02-29T00:00:00.000Z"
    );
    let jan31 = "from_iso8601_timestamp('2021-01-31T12:00:00Z')";
    assert_eq!(
        value(&format!("to_iso8601(date_add('month', 1, {jan31}))")).await,
        "2021-02-28T12:00:00.000Z"
    );
    let next = "from_iso8601_timestamp('2020-03-02T00:00:00Z')";
    assert_eq!(
        value(&format!("date_diff('second', {at}, {next})")).await,
        "86400"
    );
    assert_eq!(
        value(&format!("date_diff('hour', {at}, {next})")).await,
        "24"
    );
    assert_eq!(
        value(&format!("date_diff('day', {next}, {at})")).await,
        "-1"
    );
    let later = "from_iso8601_timestamp('2020-05-01T00:00:00Z')";
    let almost = "from_iso8601_timestamp('2020-04-30T23:59:59Z')";
    assert_eq!(
        value(&format!("date_diff('month', {at}, {later})")).await,
        "2"
    );
    assert_eq!(
        value(&format!("date_diff('month', {at}, {almost})")).await,
        "1"
    );
    assert_eq!(
        value(&format!("date_diff('year', {at}, {later})")).await,
        "0"
    );
    assert!(
        error(&format!("date_diff('fortnight', {at}, {later})"))
            .await
            .contains("unknown unit")
    );
    assert_eq!(
        value(&format!("date_add('day', NULL, {at}) IS NULL")).await,
        "true"
    );
}

#[tokio::test]
async fn iso8601_in_and_out() {
    assert_eq!(
        value("to_iso8601(from_iso8601_timestamp('2017-06-01T10:15:30Z'))").await,
        "2017-06-01T10:15:30.000Z"
    );
    assert_eq!(
        value("to_iso8601(from_iso8601_timestamp('2017-06-01T12:15:30+02:00'))").await,
        "2017-06-01T10:15:30.000Z"
    );
    assert_eq!(
        value("to_iso8601(from_iso8601_timestamp('2017-06-01'))").await,
        "2017-06-01T00:00:00.000Z"
    );
    assert!(
        error("from_iso8601_timestamp('June 1st')")
            .await
            .contains("invalid ISO 8601")
    );
    assert_eq!(value("from_iso8601_timestamp(NULL) IS NULL").await, "true");
}

#[tokio::test]
async fn day_of_week_is_iso_monday_one() {
    // 2017-06-05 was a Monday, 2017-06-11 a Sunday.
    assert_eq!(
        value("day_of_week(from_iso8601_timestamp('2017-06-05T08:00:00Z'))").await,
        "1"
    );
    assert_eq!(
        value("day_of_week(from_iso8601_timestamp('2017-06-11T23:59:59Z'))").await,
        "7"
    );
}

#[tokio::test]
async fn regexp_extract_as_documented() {
    assert_eq!(value(r"regexp_extract('1a 2b 14m', '\d+')").await, "1");
    assert_eq!(
        value(r"regexp_extract('1a 2b 14m', '(\d+)([a-z]+)', 2)").await,
        "a"
    );
    assert_eq!(value(r"regexp_extract('abc', '\d+') IS NULL").await, "true");
    assert!(
        error(r"regexp_extract('1a', '(\d+)', 2)")
            .await
            .contains("1 groups")
    );
    let arn = "'arn:aws:iam::974349055189:user/alice'";
    assert_eq!(
        value(&format!("regexp_extract({arn}, 'user/(.*)', 1)")).await,
        "alice"
    );
}

#[tokio::test]
async fn json_array_length_as_documented() {
    assert_eq!(value("json_array_length('[1, 2, 3]')").await, "3");
    assert_eq!(
        value("json_array_length('{\"a\": 1}') IS NULL").await,
        "true"
    );
    assert_eq!(value("json_array_length('not json') IS NULL").await, "true");
}

#[tokio::test]
async fn arity_errors_name_the_function() {
    let e = error("regexp_extract('a')").await;
    assert!(
        e.contains("regexp_extract takes 2 or 3 arguments, not 1"),
        "{e}"
    );
}

#[tokio::test]
async fn formats_parse_and_print_as_documented() {
    assert_eq!(
        value("to_iso8601(date_parse('2017-06-01T10:15:30Z', '%Y-%m-%dT%H:%i:%sZ'))").await,
        "2017-06-01T10:15:30.000Z"
    );
    assert_eq!(
        value("to_iso8601(date_parse('2017/06/01', '%Y/%m/%d'))").await,
        "2017-06-01T00:00:00.000Z"
    );
    assert!(
        error("date_parse('June', '%Y')")
            .await
            .contains("does not match")
    );
    let at = "from_iso8601_timestamp('2017-06-05T08:04:09Z')";
    assert_eq!(
        value(&format!("format_datetime({at}, 'yyyy-MM-dd HH:mm')")).await,
        "2017-06-05 08:04"
    );
    assert_eq!(
        value(&format!("format_datetime({at}, 'EEEE')")).await,
        "Monday"
    );
    assert_eq!(
        value(&format!("date_format({at}, '%Y-%m-%d %H:%i:%s')")).await,
        "2017-06-05 08:04:09"
    );
}

#[tokio::test]
async fn replace_with_two_or_three_arguments() {
    assert_eq!(
        value("replace('arn:aws:iam::1:role/x', 'arn:aws:iam::')").await,
        "1:role/x"
    );
    assert_eq!(value("replace('a-b-c', '-', '+')").await, "a+b+c");
    assert_eq!(value("replace(NULL, 'a') IS NULL").await, "true");
}

#[tokio::test]
async fn count_if_counts_true_only() {
    let ctx = base_session().unwrap();
    let batches = ctx
        .sql("SELECT count_if(x > 1) AS n, count_if(x > 9) AS none FROM (VALUES (1), (2), (3), (NULL)) AS t(x)")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let row: Vec<String> = (0..2)
        .map(|c| array_value_to_string(batches[0].column(c), 0).unwrap())
        .collect();
    assert_eq!(row, ["2", "0"]);
}

#[tokio::test]
async fn timestamp_fields_as_documented() {
    // 2017-06-05 (a Monday) is day 156 of 2017, in ISO week 23.
    let at = "from_iso8601_timestamp('2017-06-05T08:04:09Z')";
    let fields = [
        ("year", "2017"),
        ("quarter", "2"),
        ("month", "6"),
        ("week", "23"),
        ("week_of_year", "23"),
        ("day", "5"),
        ("day_of_month", "5"),
        ("day_of_year", "156"),
        ("hour", "8"),
        ("minute", "4"),
        ("second", "9"),
    ];
    for (name, expected) in fields {
        assert_eq!(value(&format!("{name}({at})")).await, expected, "{name}");
    }
    assert_eq!(value("hour(NULL) IS NULL").await, "true");
}

#[tokio::test]
async fn out_of_range_dates_are_errors() {
    let at = "from_iso8601_timestamp('2020-03-01T00:00:00Z')";
    for n in ["5000000000", "-5000000000"] {
        let e = error(&format!("date_add('month', {n}, {at})")).await;
        assert!(e.contains("out of range"), "{n}: {e}");
    }
}

#[tokio::test]
async fn element_at_on_arrays_and_on_json_text_as_lake_maps() {
    // Trino: 1-based, negative from the end, NULL past either end, 0 an error.
    assert_eq!(value("element_at(make_array(1, 2, 3), 2)").await, "2");
    assert_eq!(value("element_at(make_array(1, 2, 3), -1)").await, "3");
    assert_eq!(
        value("element_at(make_array(1, 2, 3), 4) IS NULL").await,
        "true"
    );
    assert_eq!(
        value("element_at(make_array(1, 2, 3), -4) IS NULL").await,
        "true"
    );
    assert!(
        error("element_at(make_array(1, 2, 3), 0)")
            .await
            .contains("start at 1")
    );
    // Lake's map of text, over our JSON text.
    let doc = r#"'{"bucketName":"logs","acl":{"x":1}}'"#;
    assert_eq!(
        value(&format!("element_at({doc}, 'bucketName')")).await,
        "logs"
    );
    assert_eq!(
        value(&format!("element_at({doc}, 'acl')")).await,
        r#"{"x":1}"#
    );
    assert_eq!(
        value(&format!("element_at({doc}, 'nope') IS NULL")).await,
        "true"
    );
    assert_eq!(
        value(&format!("map_keys({doc})")).await,
        "[acl, bucketName]"
    );
    assert_eq!(value("map_keys('[1]') IS NULL").await, "true");
    assert_eq!(value("map_keys(MAP {'a': 1, 'b': 2})").await, "[a, b]");
}

#[tokio::test]
async fn contains_tests_arrays_networks_and_text() {
    assert_eq!(value("contains(make_array(1, 2, 3), 2)").await, "true");
    assert_eq!(value("contains(make_array('a', 'b'), 'c')").await, "false");
    // Trino's examples for IP prefixes.
    assert_eq!(
        value("contains('10.0.0.0/8', ipaddress('10.255.255.255'))").await,
        "true"
    );
    assert_eq!(
        value("contains('10.0.0.0/8', ipaddress('11.255.255.255'))").await,
        "false"
    );
    assert_eq!(
        value("contains('2001:db8::/32', ipaddress('2001:db8::1'))").await,
        "true"
    );
    // Two texts that are not a network and an address: a substring test, as before.
    assert_eq!(
        value("contains('support.amazonaws.com', 'amazonaws')").await,
        "true"
    );
    assert!(
        error("ipaddress('AWS Internal')")
            .await
            .contains("Cannot cast value to IPADDRESS")
    );
    assert_eq!(value("try_ipaddress('AWS Internal') IS NULL").await, "true");
    assert_eq!(
        value("ipaddress('9.255.255.255') < ipaddress('10.0.0.0')").await,
        "true"
    );
}

#[tokio::test]
async fn approx_percentile_is_datafusions_approx_percentile_cont() {
    let ctx = base_session().unwrap();
    let batches = ctx
        .sql("SELECT approx_percentile(x, 0.5) FROM (VALUES (1), (2), (3), (4), (5)) AS t(x)")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(
        array_value_to_string(batches[0].column(0), 0).unwrap(),
        "3.0"
    );
}

/// DataFusion's `map_extract` is also called `element_at`, and a session built from another's
/// state registers functions in a hash map's order: ours must keep its name in every session,
/// fresh or rebuilt (it lost it about half the time, and Trino's `element_at(array, 1)` failed).
#[test]
fn element_at_keeps_its_name_in_every_session() {
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::SessionContext;
    let ours = |ctx: &SessionContext| {
        ctx.state()
            .scalar_functions()
            .get("element_at")
            .is_some_and(|f| f.name() == "element_at")
    };
    for _ in 0..16 {
        let base = base_session().unwrap();
        assert!(ours(&base));
        let with_rule = crate::table::session_with(vec![std::sync::Arc::new(
            crate::table::lake::dictionary_groups::DictionaryGroups,
        )])
        .unwrap();
        assert!(ours(&with_rule));
        let functions = base.state().scalar_functions().clone();
        let rebuilt = SessionContext::new_with_state(
            SessionStateBuilder::new_from_existing(base.state()).build(),
        );
        crate::table::keep_own_names(&functions, |f| {
            rebuilt.register_udf(f.as_ref().clone());
            Ok::<(), ()>(())
        })
        .unwrap();
        assert!(ours(&rebuilt));
    }
}
