//! S3 faults between trailscope and a real S3 API (moto_server), injected by a proxy of our own:
//! every command gives the exact answer, or fails naming the object; a fault is never a smaller
//! answer with exit 0.

use std::process::Output;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::fault_proxy::{Fault, FaultProxy, Rule};
use crate::util::{MOTO_ENV, grycap, keys_under, moto, stderr, stdout, trailscope_with_env};

const BUCKET: &str = "faults-trail";
const RECORDS: &str = "17598";

async fn bucket() {
    static UPLOADED: OnceCell<()> = OnceCell::const_new();
    UPLOADED
        .get_or_init(|| async { moto().upload(BUCKET, &grycap(), &[]).await })
        .await;
}

/// A proxy in front of the test bucket's server, with `rules`.
async fn proxy(rules: Vec<Rule>) -> FaultProxy {
    bucket().await;
    FaultProxy::start(&moto().endpoint, rules)
}

fn query(proxy: &FaultProxy, extra: &[&str], sql: &str) -> Output {
    let archive = format!("s3://{BUCKET}");
    let mut args = vec![
        "query",
        "-q",
        "-a",
        &archive,
        "--endpoint-url",
        &proxy.endpoint,
        "--format",
        "csv",
    ];
    args.extend_from_slice(extra);
    args.push(sql);
    trailscope_with_env(&args, MOTO_ENV)
}

/// A log file of the archive (its file name is unique) and how many records it holds.
fn some_log_file() -> (String, usize) {
    let key = keys_under(&grycap())
        .into_iter()
        .find(|k| k.contains("/CloudTrail/") && k.ends_with(".json.gz"))
        .unwrap();
    let bytes = std::fs::read(grycap().join(&key)).unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut json)
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let records = doc["Records"].as_array().unwrap().len();
    let name = key.rsplit('/').next().unwrap().to_string();
    (name, records)
}

#[tokio::test]
async fn a_throttling_burst_longer_than_the_store_client_retries_gives_the_exact_count() {
    // object_store alone gives up after a few seconds; S3 throttles for longer.
    bucket().await;
    let proxy = self::proxy(vec![Rule::burst(Fault::SlowDown, Duration::from_secs(6))]).await;
    let out = query(&proxy, &[], "SELECT count(*) AS n FROM cloudtrail");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("n\n{RECORDS}\n"));
    assert!(proxy.count(Fault::SlowDown) > 10, "the burst was not met");
    // With no time to wait, the same burst is a failure, never a smaller count.
    let proxy = self::proxy(vec![Rule::burst(Fault::SlowDown, Duration::from_secs(6))]).await;
    let out = query(
        &proxy,
        &["--retry-budget", "0s"],
        "SELECT count(*) AS n FROM cloudtrail",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).is_empty());
}

#[tokio::test]
async fn resets_stalls_and_broken_bodies_and_listings_are_retried_to_the_exact_answer() {
    let proxy = proxy(vec![
        Rule::times(Fault::TruncateBody, "list-type=2", 2),
        Rule::times(Fault::Reset, "/CloudTrail/", 5),
        Rule::times(Fault::TruncateBody, "/CloudTrail/", 5),
        Rule::times(Fault::InternalError, "/CloudTrail/", 5),
        Rule::times(Fault::Stall(Duration::from_secs(1)), "/CloudTrail/", 2),
    ])
    .await;
    let sql = "SELECT count(*) AS n, count(DISTINCT log_file) AS files FROM cloudtrail";
    let out = query(&proxy, &[], sql);
    assert!(out.status.success(), "{}", stderr(&out));
    let local = crate::util::trailscope(&[
        "query",
        "-q",
        "-a",
        grycap().to_str().unwrap(),
        "--format",
        "csv",
        sql,
    ]);
    assert_eq!(stdout(&out), stdout(&local));
    for fault in [Fault::TruncateBody, Fault::Reset, Fault::InternalError] {
        assert!(proxy.count(fault) >= 5, "{fault:?} was not applied");
    }
}

#[tokio::test]
async fn an_object_that_cannot_be_fetched_fails_the_command_or_is_named_unfetched() {
    let (name, records) = some_log_file();
    let proxy = proxy(vec![Rule::always(Fault::InternalError, &name)]).await;
    let budget = ["--retry-budget", "2s"];
    let out = query(&proxy, &budget, "SELECT count(*) AS n FROM cloudtrail");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).is_empty(),
        "no partial answer: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&name) && err.contains("could not be fetched"),
        "{err}"
    );
    assert!(err.contains("--allow-partial"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let partial = [budget[0], budget[1], "--allow-partial"];
    let out = query(&proxy, &partial, "SELECT count(*) AS n FROM cloudtrail");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let expected = RECORDS.parse::<usize>().unwrap() - records;
    assert_eq!(stdout(&out), format!("n\n{expected}\n"));
    let out = query(
        &proxy,
        &partial,
        "SELECT class, reason LIKE 'could not be fetched%' AS fetch_failed, key FROM read_errors",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{}", stdout(&out));
    assert!(
        rows[0].starts_with("unfetched,true,") && rows[0].ends_with(&name),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_server_that_says_retry_after_is_not_asked_again_sooner() {
    let (name, _) = some_log_file();
    let proxy = proxy(vec![Rule::times(Fault::SlowDownRetryAfter(3), &name, 1)]).await;
    let out = query(&proxy, &[], "SELECT count(*) AS n FROM cloudtrail");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("n\n{RECORDS}\n"));
    assert_eq!(proxy.count(Fault::SlowDownRetryAfter(3)), 1);
    let asked: Vec<_> = proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, line)| line.starts_with("GET") && line.contains(&name))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(asked.len(), 2, "one throttled GET, then one that succeeded");
    // A lower bound only: a slow machine waits longer, never less.
    assert!(
        asked[1] - asked[0] >= Duration::from_secs(3),
        "asked again after {:?}",
        asked[1] - asked[0]
    );
}

/// A lake on S3 read while S3 throttles its Parquet files for longer than object_store's own
/// retries last: the lake's reads are retried like the archive's, to the exact answer; with no
/// time to wait, the query fails (exit 2) instead of answering short.
#[tokio::test]
async fn a_lake_read_through_a_throttling_burst_gives_the_exact_answer() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    crate::lake::generated(&archive);
    moto.upload("faults-lake-source", &archive, &[]).await;
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    moto.upload("faults-lake", &empty, &[]).await;
    let (a, l) = ("s3://faults-lake-source", "s3://faults-lake/lake");
    let direct = ["--endpoint-url", moto.endpoint.as_str()];
    let out = trailscope_with_env(
        &[&["convert", "-q", "-a", a, "--lake", l][..], &direct].concat(),
        MOTO_ENV,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sql =
        "SELECT account_id, eventname, count(*) AS n FROM cloudtrail GROUP BY 1, 2 ORDER BY 1, 2";
    let ask = |endpoint: &str, extra: &[&str]| {
        let args = [
            &[
                "query",
                "-q",
                "-a",
                a,
                "--lake",
                l,
                "--format",
                "csv",
                "--endpoint-url",
                endpoint,
            ][..],
            extra,
            &[sql],
        ]
        .concat();
        trailscope_with_env(&args, MOTO_ENV)
    };
    let expected = stdout(&ask(&moto.endpoint, &[]));
    assert!(expected.lines().count() > 10);

    let burst = || Rule {
        until: Some(std::time::Instant::now() + Duration::from_secs(4)),
        ..Rule::always(Fault::SlowDown, ".parquet")
    };
    let proxy = FaultProxy::start(&moto.endpoint, vec![burst()]);
    let out = ask(&proxy.endpoint, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), expected);
    assert!(proxy.count(Fault::SlowDown) > 3, "the burst was not met");

    let proxy = FaultProxy::start(&moto.endpoint, vec![burst()]);
    let out = ask(&proxy.endpoint, &["--retry-budget", "0s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).is_empty(),
        "no partial answer: {}",
        stdout(&out)
    );
    let message = stderr(&out);
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert!(
        message.contains("SlowDown") && message.contains(".parquet"),
        "{message}"
    );
}
