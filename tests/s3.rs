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
