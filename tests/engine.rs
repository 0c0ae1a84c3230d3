//! Known answers on the real grycap archive, pruning, and JSON functions.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use trailscope::archive::Scope;
use trailscope::table::ScanStats;

use crate::util::{grycap, keys_under, query, rows, scalar};

#[tokio::test]
async fn grycap_known_answers() {
    let (b, source) = query(
        &grycap(),
        Scope::default(),
        "SELECT count(*), count(DISTINCT eventid), count(DISTINCT eventname), count(DISTINCT eventsource), \
         count(DISTINCT log_file), min(eventversion), max(eventversion) FROM cloudtrail",
    )
    .await;
    assert_eq!(scalar(&b), "17598|17598|293|21|1067|1.01|1.05");
    assert!(source.errors.all().is_empty(), "{:?}", source.errors.all());

    let (b, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT awsregion, count(*) FROM cloudtrail GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(rows(&b), ["sa-east-1|1746", "us-east-1|15852"]);

    let (b, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT count(*), min(size) > 0 FROM log_files",
    )
    .await;
    assert_eq!(scalar(&b), "1067|true");
}

#[tokio::test]
async fn schema_drift_old_records_lack_recipient_account() {
    let (b, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT eventversion, count(*) FILTER (WHERE recipientaccountid IS NULL) = count(*) FROM cloudtrail \
         WHERE eventversion IN ('1.01', '1.05') GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(rows(&b), ["1.01|true", "1.05|false"]);
}

#[tokio::test]
async fn real_trail_creation_is_found_with_provenance() {
    let (b, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT eventname, CAST(eventtime AS VARCHAR) AS t, account_id, region, log_file LIKE 'AWSLogs/974349055189/CloudTrail/%' \
         FROM cloudtrail WHERE eventname IN ('CreateTrail', 'StartLogging') ORDER BY eventtime, eventname",
    )
    .await;
    let r = rows(&b);
    assert!(
        r.iter()
            .any(|l| l.starts_with("StartLogging|2014-09-26T11:26:19")),
        "{r:?}"
    );
    assert!(r.iter().any(|l| l.starts_with("CreateTrail|")), "{r:?}");
    assert!(
        r.iter()
            .all(|l| l.ends_with("|974349055189|us-east-1|true")),
        "{r:?}"
    );
}

#[tokio::test]
async fn athena_json_functions_and_operators() {
    let (b, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT count(*) FROM cloudtrail WHERE json_extract_scalar(requestparameters, '$.bucketName') IS NOT NULL \
         AND json_extract_scalar(requestparameters, '$.bucketName') = (requestparameters->>'bucketName')",
    )
    .await;
    let with_bucket: u64 = scalar(&b).parse().unwrap();
    let (b, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT count(*) FROM cloudtrail WHERE requestparameters LIKE '%\"bucketName\"%'",
    )
    .await;
    let textual: u64 = scalar(&b).parse().unwrap();
    assert!(with_bucket > 0);
    assert_eq!(with_bucket, textual);
}

/// Delivery stamp of a grycap key (`..._20170601T0740Z_...`).
fn stamp(key: &str) -> DateTime<Utc> {
    let name = key.rsplit('/').next().unwrap();
    let token = name.split('_').nth(3).unwrap();
    NaiveDateTime::parse_from_str(token, "%Y%m%dT%H%MZ")
        .unwrap()
        .and_utc()
}

#[tokio::test]
async fn one_day_one_region_opens_only_that_days_objects() {
    let from = "2017-06-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let to = from + Duration::days(1);
    let sql = "SELECT count(*), count(DISTINCT eventid) FROM cloudtrail \
               WHERE eventtime >= '2017-06-01T00:00:00Z' AND eventtime < '2017-06-02T00:00:00Z' AND region = 'us-east-1' \
               AND eventname IS NOT NULL";
    let (pruned, source) = query(&grycap(), Scope::default(), sql).await;
    // Independently of our listing: files of that region stamped in [from - 1h, to + 24h margin].
    let expected = keys_under(&grycap())
        .into_iter()
        .filter(|k| k.contains("/us-east-1/"))
        .filter(|k| stamp(k) >= from - Duration::hours(1) && stamp(k) <= to + Duration::days(1))
        .count() as u64;
    let opened = ScanStats::get(&source.stats.objects_opened);
    assert_eq!(opened, expected);
    assert!(opened < 1067 / 2, "opened {opened} objects");
    // Same answer as a full scan filtering the same rows without any pushdown.
    let (full, full_source) = query(
        &grycap(),
        Scope::default(),
        "SELECT count(*), count(DISTINCT eventid) FROM cloudtrail \
         WHERE date_trunc('day', eventtime) = TIMESTAMP '2017-06-01T00:00:00Z' \
         AND concat(region, '') = 'us-east-1' AND eventname IS NOT NULL",
    )
    .await;
    assert_eq!(ScanStats::get(&full_source.stats.objects_opened), 1067);
    assert_eq!(rows(&pruned), rows(&full));
    assert_ne!(scalar(&pruned), "0|0");
}

/// Athena's partition columns are the key's folders: filtering on them opens exactly the objects
/// in those folders (counted from the directory tree, not from our listing), and their values
/// are those folder names.
#[tokio::test]
async fn partition_columns_open_only_their_folders() {
    let cases = [
        (
            "year = '2017' AND month = '06' AND day = '01' AND region = 'us-east-1'",
            "/us-east-1/2017/06/01/",
        ),
        (
            "\"timestamp\" = '2017/06/01' AND region_partition = 'us-east-1'",
            "/us-east-1/2017/06/01/",
        ),
        (
            "date_partition BETWEEN '2018/04/01' AND '2018/04/30' AND account_partition = '974349055189'",
            "/2018/04/",
        ),
        ("accountid = '974349055189' AND year = '2014'", "/2014/"),
    ];
    for (filter, folder) in cases {
        let sql = format!(
            "SELECT count(*), count(DISTINCT log_file), min(year || '/' || month || '/' || day), \
             max(\"date\"), min(account) FROM cloudtrail WHERE {filter}"
        );
        let (batches, source) = query(&grycap(), Scope::default(), &sql).await;
        let expected: Vec<String> = keys_under(&grycap())
            .into_iter()
            .filter(|k| k.contains(folder))
            .collect();
        assert!(!expected.is_empty(), "{folder}");
        let opened = ScanStats::get(&source.stats.objects_opened);
        assert_eq!(opened, expected.len() as u64, "{filter}");
        let row = scalar(&batches);
        let fields: Vec<&str> = row.split('|').collect();
        // Every object of the folder holds records here, and the values are its folder names.
        assert_eq!(fields[1], expected.len().to_string(), "{filter}");
        let first_date = |k: &String| {
            let parts: Vec<&str> = k.split('/').collect();
            let at = parts.len() - 4;
            parts[at..at + 3].join("/")
        };
        let dates: Vec<String> = expected.iter().map(first_date).collect();
        assert_eq!(fields[2], dates.iter().min().unwrap(), "{filter}");
        assert_eq!(fields[3], dates.iter().max().unwrap(), "{filter}");
        assert_eq!(fields[4], "974349055189");
    }
}

#[tokio::test]
async fn select_star_leaves_the_partition_columns_out() {
    let (batches, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT * FROM cloudtrail WHERE year = '2017' AND month = '06' AND day = '01' LIMIT 1",
    )
    .await;
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names.last(), Some(&"log_file"));
    for hidden in [
        "year",
        "timestamp",
        "date_partition",
        "accountid",
        "eventjson",
    ] {
        assert!(!names.contains(&hidden), "{hidden} in SELECT *");
    }
}

/// CloudTrail Lake's `eventjson` is the record's text in its log file: the same record as the
/// columns (its eventID), and the same text the file holds.
#[tokio::test]
async fn eventjson_is_each_records_text() {
    let (batches, _) = query(
        &grycap(),
        Scope::default(),
        "SELECT eventid, log_file, eventjson FROM cloudtrail \
         WHERE \"timestamp\" = '2017/06/01' AND region = 'us-east-1' ORDER BY eventid",
    )
    .await;
    let rows = rows(&batches);
    assert!(rows.len() > 100);
    let mut files: std::collections::HashMap<String, String> = Default::default();
    for row in rows {
        let mut parts = row.splitn(3, '|');
        let (id, file, json) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let record: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(record["eventID"], id);
        let text = files.entry(file.to_string()).or_insert_with(|| {
            let bytes = std::fs::read(grycap().join(file)).unwrap();
            let mut out = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
                .unwrap();
            out
        });
        assert!(text.contains(json), "{id}: not the text of {file}");
    }
}

#[tokio::test]
async fn scope_restricts_rows_exactly() {
    let scope = Scope {
        from: Some("2017-06-01T00:00:00Z".parse().unwrap()),
        to: Some("2017-06-01T12:00:00Z".parse().unwrap()),
        ..Scope::default()
    };
    let (b, _) = query(&grycap(), scope, "SELECT min(eventtime) >= '2017-06-01', max(eventtime) < '2017-06-01T12:00:00Z', count(*) > 0 FROM cloudtrail").await;
    assert_eq!(scalar(&b), "true|true|true");
}
