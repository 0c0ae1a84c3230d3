//! Real messy inputs planted in an archive layout: schema drift, strings for booleans, odd times,
//! organization-trail layout, and objects that cannot be read, which must be named, never dropped.

use std::path::Path;

use trailscope::archive::Scope;

use crate::util::{copy_tree, gzip, plant, query, rows, samples, scalar, stderr, trailscope};

const DAY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01";

fn log_key(n: u32) -> String {
    format!(
        "{DAY}/111122223333_CloudTrail_us-east-1_20240101T{:02}00Z_sample{n:08}.json.gz",
        n % 24
    )
}

/// Wraps a JSON array of records (as the detonation logs hold) into a delivered log document.
fn as_log(records_json: &str) -> Vec<u8> {
    gzip(format!("{{\"Records\":{records_json}}}").as_bytes())
}

/// A messy archive: good files from several sources plus five unreadable objects.
fn messy_archive(dir: &Path) -> Vec<&'static str> {
    let s = samples();
    let read = |p: &str| std::fs::read_to_string(s.join(p)).unwrap();
    // Booleans as strings (Cribl relays Control Tower events).
    let cribl: serde_json::Value =
        serde_json::from_str(&read("cribl-aws-cloudtrail-logs/data/samples/zyNWSr.json")).unwrap();
    let raw = serde_json::to_vec(&cribl[0]["_raw"]).unwrap();
    plant(dir, &log_key(1), &gzip(&raw));
    // Non-ISO eventTime and invented region names (stratus detonations).
    // (this detonation log holds one record object, not an array)
    let one =
        read("stratus-red-team/detonation-logs/aws.defense-evasion.bedrock-guardrail-delete.json");
    plant(dir, &log_key(2), &as_log(&format!("[{one}]")));
    plant(
        dir,
        &log_key(3),
        &as_log(&read(
            "stratus-red-team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json",
        )),
    );
    // eventVersion 1.0 .. 1.11 examples.
    for (i, v) in ["1_0", "1_05", "1_08", "1_11"].iter().enumerate() {
        plant(
            dir,
            &log_key(10 + i as u32),
            &gzip(
                read(&format!(
                    "umccr-cloudtrail-parquet-lambda/test_input/examples/{v}.json"
                ))
                .as_bytes(),
            ),
        );
    }
    // A pretty-printed gzip log file as delivered by another tool.
    plant(
        dir,
        &log_key(20),
        &std::fs::read(s.join("grafana-loki/cloudtrail-log-file.json.gz")).unwrap(),
    );
    // Unreadable: malformed JSON, HTML error page, zero bytes, truncated gzip; plus trailing data.
    plant(
        dir,
        &log_key(30),
        &gzip(
            read(
                "zmallen-cloudtrail2sightings/cloudtrail_unzipped/aws.execution.ec2-user-data.json",
            )
            .as_bytes(),
        ),
    );
    plant(
        dir,
        &log_key(31),
        &gzip(b"<Error><Code>AccessDenied</Code></Error>"),
    );
    plant(dir, &log_key(32), b"");
    let mut truncated = gzip(
        read("stratus-red-team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json")
            .as_bytes(),
    );
    truncated.truncate(truncated.len() / 2);
    plant(dir, &log_key(33), &truncated);
    let mut appended =
        as_log(r#"[{"eventName":"Original","eventID":"e-1","eventTime":"2024-01-01T00:00:00Z"}]"#);
    appended.extend(as_log(
        r#"[{"eventName":"Forged","eventID":"e-2","eventTime":"2024-01-01T00:00:00Z"}]"#,
    ));
    plant(dir, &log_key(34), &appended);
    // Not ours: other services' logs and folder markers are ignored, not errors.
    plant(
        dir,
        "AWSLogs/111122223333/Config/us-east-1/2024/01/01/config.json.gz",
        b"x",
    );
    plant(dir, "README.txt", b"hello");
    vec!["30", "31", "32", "33", "34"]
}

#[tokio::test]
async fn messy_inputs_are_read_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = messy_archive(dir.path());
    let (b, source) = query(
        dir.path(),
        Scope::default(),
        "SELECT count(*), count(eventtime), count(*) FILTER (WHERE eventname = 'Forged') FROM cloudtrail",
    )
    .await;
    // Every record of the good files (cribl 1 + stratus 2 files + 4 examples + grafana + the
    // first member of the appended file) has a row; the forged second member never does.
    let r = scalar(&b);
    let counts: Vec<u64> = r.split('|').map(|v| v.parse().unwrap()).collect();
    assert!(counts[0] >= 9, "{r}");
    assert_eq!(
        counts[0], counts[1],
        "every eventTime parsed, including the non-ISO ones: {r}"
    );
    assert_eq!(counts[2], 0);
    let errors = source.errors.all();
    let named: Vec<String> = errors
        .iter()
        .map(|e| e.key.rsplit('_').next().unwrap()[12..14].to_string())
        .collect();
    assert_eq!(named, bad, "{errors:#?}");
    let trailing = errors.iter().find(|e| e.partially_read).unwrap();
    assert!(
        trailing.reason.contains("after the end of the gzip member"),
        "{}",
        trailing.reason
    );
}

#[tokio::test]
async fn read_errors_table_lists_every_unreadable_object() {
    let dir = tempfile::tempdir().unwrap();
    messy_archive(dir.path());
    let (b, _) = query(dir.path(), Scope::default(), "SELECT substr(key, length(key) - 9, 2), partially_read, reason <> '' FROM read_errors ORDER BY key").await;
    assert_eq!(
        rows(&b),
        [
            "30|false|true",
            "31|false|true",
            "32|false|true",
            "33|false|true",
            "34|true|true"
        ]
    );
}

#[tokio::test]
async fn strings_for_booleans_and_nested_fields() {
    let dir = tempfile::tempdir().unwrap();
    messy_archive(dir.path());
    let (b, _) = query(
        dir.path(),
        Scope::default(),
        "SELECT count(*) > 10, count(readonly) = count(*), count(managementevent) = count(*), \
         count(*) FILTER (WHERE readonly AND useridentity.invokedby = 'config.amazonaws.com') > 0 \
         FROM cloudtrail WHERE log_file LIKE '%sample00000001%'",
    )
    .await;
    // Cribl relays every boolean as a string: all of them must still parse.
    assert_eq!(rows(&b), ["true|true|true|true"]);
}

#[test]
fn strict_fails_naming_the_object() {
    let dir = tempfile::tempdir().unwrap();
    messy_archive(dir.path());
    let archive = dir.path().to_str().unwrap();
    let out = trailscope(&[
        "query",
        "-a",
        archive,
        "--strict",
        "SELECT count(*) FROM cloudtrail",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("sample000000"), "{}", stderr(&out));
    let lenient = trailscope(&["query", "-a", archive, "SELECT count(*) FROM cloudtrail"]);
    assert_eq!(lenient.status.code(), Some(0), "{}", stderr(&lenient));
    assert!(
        stderr(&lenient).contains("5 objects could not be fully read"),
        "{}",
        stderr(&lenient)
    );
}

#[tokio::test]
async fn organization_trail_layout_with_odd_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("o-abcd");
    std::fs::create_dir_all(&root).unwrap();
    // Control Tower style: the org id is a prefix too.
    copy_tree(
        &samples().join("umccr-cloudtrail-parquet-lambda/test_input"),
        &root,
    );
    std::fs::remove_dir_all(root.join("examples")).unwrap();
    std::fs::remove_file(root.join("AWSLogs/README.md")).unwrap();
    let (b, source) = query(
        dir.path(),
        Scope::default(),
        "SELECT account_id, region, count(DISTINCT log_file), count(*) FROM cloudtrail GROUP BY 1, 2 ORDER BY 2",
    )
    .await;
    assert!(source.errors.all().is_empty(), "{:?}", source.errors.all());
    let r = rows(&b);
    assert_eq!(
        r.len(),
        1,
        "the ap-southeast-1 file has empty Records: {r:?}"
    );
    assert!(r[0].starts_with("811596193553|us-east-1|4|"), "{r:?}");
    let (b, _) = query(
        dir.path(),
        Scope::default(),
        "SELECT DISTINCT org_id FROM log_files",
    )
    .await;
    assert_eq!(rows(&b), ["o-abcd"]);
}

#[tokio::test]
async fn duplicate_deliveries_stay_visible() {
    let dir = tempfile::tempdir().unwrap();
    let doc = as_log(
        r#"[{"eventName":"PutObject","eventID":"dup-1","eventTime":"2024-01-01T00:00:00Z"}]"#,
    );
    plant(dir.path(), &log_key(1), &doc);
    plant(dir.path(), &log_key(2), &doc);
    let (b, _) = query(
        dir.path(),
        Scope::default(),
        "SELECT eventid, count(*), count(DISTINCT log_file) FROM cloudtrail GROUP BY 1",
    )
    .await;
    assert_eq!(rows(&b), ["dup-1|2|2"]);
}
