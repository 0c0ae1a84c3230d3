//! The same archive from a local directory and from S3 (moto_server on 127.0.0.1) must give the
//! same answers through the same code a user runs against AWS.

use crate::util::{MOTO_ENV, grycap, moto, stderr, stdout, trailscope, trailscope_with_env};

const QUERIES: &[&str] = &[
    "SELECT eventname, count(*), count(DISTINCT log_file) FROM cloudtrail GROUP BY 1 ORDER BY 2 DESC, 1",
    "SELECT eventid, eventtime, useridentity.arn, log_file FROM cloudtrail WHERE eventtime >= '2017-06-01' AND eventtime < '2017-06-02' AND region = 'us-east-1' ORDER BY eventid",
    "SELECT key, size, delivery_time FROM log_files WHERE region = 'sa-east-1' ORDER BY key",
];

#[tokio::test]
async fn s3_and_local_give_identical_results() {
    let moto = moto();
    moto.upload("grycap-trail", &grycap(), &[]).await;
    let local = grycap().to_str().unwrap().to_string();
    for sql in QUERIES {
        let l = trailscope(&["query", "-q", "-a", &local, "--format", "csv", sql]);
        assert!(l.status.success(), "{}", stderr(&l));
        let s = trailscope_with_env(
            &[
                "query",
                "-q",
                "-a",
                "s3://grycap-trail",
                "--endpoint-url",
                &moto.endpoint,
                "--format",
                "csv",
                sql,
            ],
            MOTO_ENV,
        );
        assert!(s.status.success(), "{sql}: {}", stderr(&s));
        assert!(stdout(&l).lines().count() > 1, "{sql} returned nothing");
        assert_eq!(stdout(&l), stdout(&s), "{sql}");
    }
}

#[tokio::test]
async fn s3_prefix_and_missing_bucket() {
    let moto = moto();
    let staged = tempfile::tempdir().unwrap();
    let nested = staged.path().join("team/cloudtrail");
    std::fs::create_dir_all(&nested).unwrap();
    crate::util::copy_tree(&grycap(), &nested);
    moto.upload("prefixed-trail", staged.path(), &[]).await;
    let out = trailscope_with_env(
        &[
            "query",
            "-q",
            "-a",
            "s3://prefixed-trail/team/cloudtrail",
            "--endpoint-url",
            &moto.endpoint,
            "--format",
            "csv",
            "SELECT count(*) AS n FROM cloudtrail",
        ],
        MOTO_ENV,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "n\n17598\n");
    let missing = trailscope_with_env(
        &[
            "query",
            "-a",
            "s3://no-such-bucket",
            "--endpoint-url",
            &moto.endpoint,
            "SELECT count(*) FROM cloudtrail",
        ],
        MOTO_ENV,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no-such-bucket") || stderr(&missing).contains("NoSuchBucket"),
        "{}",
        stderr(&missing)
    );
    assert!(
        !stderr(&missing).contains("testing"),
        "credentials must never be printed"
    );
}

/// Keys an S3 bucket accepts but that cannot be object paths (`..`, `.`, `//`, a control
/// character) are named with the reason, and the rest of the listing is read.
#[tokio::test]
async fn odd_keys_on_s3_are_named_and_do_not_stop_the_listing() {
    let moto = moto();
    let bucket = "odd-keys";
    moto.upload(bucket, &grycap(), &[]).await;
    let day = "AWSLogs/974349055189/CloudTrail/sa-east-1/2018/01/30";
    let body = std::fs::read(
        crate::util::keys_under(&grycap())
            .iter()
            .find(|k| k.starts_with(day))
            .map(|k| grycap().join(k))
            .unwrap(),
    )
    .unwrap();
    let odd = [
        (
            format!("{day}/%2E%2E/x.json.gz"),
            format!("{day}/../x.json.gz"),
        ),
        (
            format!("{day}/%2E/dot.json.gz"),
            format!("{day}/./dot.json.gz"),
        ),
        (
            format!("{day}//double.json.gz"),
            format!("{day}//double.json.gz"),
        ),
        (
            format!("{day}/ctl%01.json.gz"),
            format!("{day}/ctl\u{1}.json.gz"),
        ),
    ];
    let addr = moto.endpoint.trim_start_matches("http://");
    for (path, _) in &odd {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "PUT /{bucket}/{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }
    let run = |sql: &str| {
        trailscope_with_env(
            &[
                "query",
                "-q",
                "-a",
                &format!("s3://{bucket}"),
                "--endpoint-url",
                &moto.endpoint,
                "--format",
                "json",
                sql,
            ],
            MOTO_ENV,
        )
    };
    let count = run("SELECT count(*) AS n FROM cloudtrail");
    assert_eq!(count.status.code(), Some(0), "{}", stderr(&count));
    assert_eq!(stdout(&count).trim(), r#"[{"n":17598}]"#);
    let errors = run("SELECT key, reason FROM read_errors ORDER BY key");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&errors)).unwrap();
    let named: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    let expected: std::collections::BTreeSet<&str> = odd.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(named, expected);
    assert!(
        rows.iter()
            .all(|r| r["reason"].as_str().unwrap().contains("object path"))
    );
}
