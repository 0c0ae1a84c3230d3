//! `trailscope snapshot` against moto_server: real resources made with the AWS SDK for Rust,
//! captured by the real binary, read back through the snapshot loader and its fact tables.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde_json::{Map, Value, json};
use trailscope::snapshot::Snapshot;
use trailscope::snapshot::facts::{FactTable, fact_tables};

use crate::util::{MOTO_ENV, moto, stderr, trailscope_with_env};

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "snapshot-trail-logs";
const LOG_GROUP: &str = "snapshot-ct-events";
const TOPIC: &str = "snapshot-ct-alerts";
const ROLE: &str = "snapshot-ct-cloudwatch";
const TRAIL: &str = "snapshot-trail";
const ALARM: &str = "snapshot-stop-logging";
const STOP_PATTERN: &str = "{ ($.eventName = StopLogging) }";

async fn sdk(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// The trail and everything it points at, as a CIS-minded account would have them.
async fn create_resources(endpoint: &str) {
    let sdk = sdk(endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "CloudTrailWrite",
        "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{BUCKET}/AWSLogs/*")}]});
    s3.put_bucket_policy()
        .bucket(BUCKET)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    logs.create_log_group()
        .log_group_name(LOG_GROUP)
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(LOG_GROUP)
        .retention_in_days(365)
        .send()
        .await
        .unwrap();
    logs.put_metric_filter()
        .log_group_name(LOG_GROUP)
        .filter_name("stop-logging")
        .filter_pattern(STOP_PATTERN)
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_name("StopLoggingCount")
                .metric_namespace("CISBenchmark")
                .metric_value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let group_arn = logs
        .describe_log_groups()
        .log_group_name_prefix(LOG_GROUP)
        .send()
        .await
        .unwrap()
        .log_groups()[0]
        .arn()
        .unwrap()
        .to_string();

    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic_arn = sns
        .create_topic()
        .name(TOPIC)
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    put_metric_alarm(endpoint, &topic_arn);

    let iam = aws_sdk_iam::Client::new(&sdk);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role_arn = iam
        .create_role()
        .role_name(ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();

    let cloudtrail = aws_sdk_cloudtrail::Client::new(&sdk);
    cloudtrail
        .create_trail()
        .name(TRAIL)
        .s3_bucket_name(BUCKET)
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .sns_topic_name(TOPIC)
        .cloud_watch_logs_log_group_arn(group_arn)
        .cloud_watch_logs_role_arn(role_arn)
        .send()
        .await
        .unwrap();
    cloudtrail.start_logging().name(TRAIL).send().await.unwrap();
}

/// PutMetricAlarm through CloudWatch's Query protocol. The AWS SDK for Rust speaks only Smithy
/// RPC v2 CBOR to CloudWatch, which moto_server 5.2 does not serve; moto accepts unsigned
/// Query requests, routed by the credential scope.
fn put_metric_alarm(endpoint: &str, topic_arn: &str) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let topic: String = url::form_urlencoded::byte_serialize(topic_arn.as_bytes()).collect();
    let body = format!(
        "Action=PutMetricAlarm&Version=2010-08-01&AlarmName={ALARM}&MetricName=StopLoggingCount\
         &Namespace=CISBenchmark&Statistic=Sum&Period=300&EvaluationPeriods=1&Threshold=1\
         &ComparisonOperator=GreaterThanOrEqualToThreshold&AlarmActions.member.1={topic}"
    );
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "PutMetricAlarm: {response}"
    );
}

fn table<'a>(tables: &'a [FactTable], name: &str) -> &'a [Map<String, Value>] {
    &tables.iter().find(|t| t.name == name).unwrap().rows
}

/// The one row whose `key` column is `value`.
fn row<'a>(tables: &'a [FactTable], name: &str, key: &str, value: &str) -> &'a Map<String, Value> {
    let rows: Vec<_> = table(tables, name)
        .iter()
        .filter(|r| r.get(key) == Some(&json!(value)))
        .collect();
    assert_eq!(rows.len(), 1, "{name} rows with {key} = {value}: {rows:?}");
    rows[0]
}

#[tokio::test]
async fn snapshot_of_a_moto_account_gives_the_facts() {
    let moto = moto();
    create_resources(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    let out = trailscope_with_env(
        &[
            "snapshot",
            "-o",
            file.to_str().unwrap(),
            "--endpoint-url",
            &moto.endpoint,
            "--regions",
            "us-east-1,eu-west-1",
        ],
        MOTO_ENV,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    assert!(summary.contains("cloudtrail: 2 regions"), "{summary}");
    assert!(summary.contains("written to"), "{summary}");

    let text = std::fs::read_to_string(&file).unwrap();
    for (name, value) in MOTO_ENV {
        if name.contains("KEY") {
            assert!(!text.contains(value), "{name} leaked into the snapshot");
            assert!(!summary.contains(value), "{name} leaked onto stderr");
        }
    }
    let snap = Snapshot::load(&file).unwrap();
    assert_eq!(snap.account_id, ACCOUNT);
    let order: Vec<_> = snap
        .calls
        .iter()
        .take(3)
        .map(|c| {
            (
                c.service.as_str(),
                c.operation.as_str(),
                c.region.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("sts", "GetCallerIdentity", Some("us-east-1")),
            ("cloudtrail", "DescribeTrails", Some("us-east-1")),
            ("cloudtrail", "DescribeTrails", Some("eu-west-1")),
        ]
    );
    let call = |service: &str, operation: &str| {
        snap.calls
            .iter()
            .find(|c| c.is(service, operation))
            .unwrap_or_else(|| panic!("no {service} {operation} call"))
    };
    let tables = fact_tables(std::slice::from_ref(&snap));

    let trail_arn = format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{TRAIL}");
    let trail = row(&tables, "trails", "trail_arn", &trail_arn);
    assert_eq!(trail["is_multi_region_trail"], json!(true));
    assert_eq!(trail["log_file_validation_enabled"], json!(true));
    assert_eq!(trail["cloud_watch_logs_log_group_name"], json!(LOG_GROUP));
    assert_eq!(trail["s3_bucket_name"], json!(BUCKET));
    let status = row(&tables, "trail_status", "trail_arn", &trail_arn);
    assert_eq!(status["is_logging"], json!(true));
    assert_eq!(
        call("cloudtrail", "GetEventSelectors").param("TrailName"),
        Some(trail_arn.as_str())
    );

    let bucket = row(&tables, "buckets", "bucket", BUCKET);
    assert_eq!(bucket["head_status"], json!("exists"));
    assert_eq!(bucket["has_policy"], json!(true));
    assert_eq!(
        bucket["policy"]["Statement"][0]["Sid"],
        json!("CloudTrailWrite")
    );
    // moto 5.2 answers GetBucketVersioning under a <GetBucketVersioningResponse> root where S3
    // sends <VersioningConfiguration>; the SDK rejects it, and the snapshot says so.
    let versioning = call("s3", "GetBucketVersioning");
    match &versioning.error {
        None => assert_eq!(bucket["versioning_status"], json!("Enabled")),
        Some(e) => {
            assert_eq!(e.code, "ResponseError");
            assert!(e.message.contains("VersioningConfiguration"), "{e:?}");
            assert!(bucket.get("versioning_status").is_none(), "not captured");
        }
    }
    let lifecycle = call("s3", "GetBucketLifecycleConfiguration");
    assert_eq!(lifecycle.param("Bucket"), Some(BUCKET));
    assert_eq!(lifecycle.error_code(), Some("NoSuchLifecycleConfiguration"));
    assert_eq!(bucket["lifecycle_rules"], json!([]));

    let group = row(&tables, "log_groups", "log_group_name", LOG_GROUP);
    assert_eq!(group["retention_in_days"], json!(365));
    assert_eq!(group["region"], json!("us-east-1"));
    let filter = row(&tables, "metric_filters", "log_group_name", LOG_GROUP);
    assert_eq!(filter["filter_pattern"], json!(STOP_PATTERN));
    assert_eq!(filter["metric_name"], json!("StopLoggingCount"));

    // CloudWatch through the Rust SDK is RPC v2 CBOR, which moto 5.2 answers with a bare 404:
    // recorded as an error call, and the capture goes on.
    let alarms = call("cloudwatch", "DescribeAlarms");
    assert_eq!(alarms.region.as_deref(), Some("us-east-1"));
    match &alarms.error {
        None => {
            let alarm = row(&tables, "alarms", "alarm_name", ALARM);
            assert_eq!(alarm["metric_name"], json!("StopLoggingCount"));
        }
        Some(e) => {
            assert_eq!(e.code, "404", "{e:?}");
            assert!(table(&tables, "alarms").is_empty());
        }
    }

    let topic_arn = format!("arn:aws:sns:us-east-1:{ACCOUNT}:{TOPIC}");
    assert_eq!(
        call("sns", "GetTopicAttributes").param("TopicArn"),
        Some(topic_arn.as_str())
    );
    let role = call("iam", "GetRole");
    assert_eq!(role.param("RoleName"), Some(ROLE));
    assert_eq!(role.region, None);
    let trust = &role.response.as_ref().unwrap()["Role"]["AssumeRolePolicyDocument"];
    assert_eq!(trust["Statement"][0]["Action"], json!("sts:AssumeRole"));
    let details = call("iam", "GetAccountAuthorizationDetails");
    let roles = details.response.as_ref().unwrap()["RoleDetailList"]
        .as_array()
        .unwrap();
    assert!(roles.iter().any(|r| r["RoleName"] == json!(ROLE)));
    assert_eq!(
        call("organizations", "DescribeOrganization").error_code(),
        Some("AWSOrganizationsNotInUseException")
    );
    assert!(
        !snap
            .calls
            .iter()
            .any(|c| c.is("organizations", "ListParents"))
    );

    // `check` on the captured snapshot: the verdicts this account's configuration calls for.
    let archive = tempfile::tempdir().unwrap();
    let out = trailscope_with_env(
        &[
            "check",
            "-q",
            "-a",
            archive.path().to_str().unwrap(),
            "-s",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
        MOTO_ENV,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let findings: Vec<Value> = crate::util::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verdict = |id: &str| -> &'static str {
        let mine: Vec<&Value> = findings
            .iter()
            .filter(|f| f["control_id"] == format!("CTL.CLOUDTRAIL.{id}"))
            .collect();
        assert!(!mine.is_empty(), "{id}: no finding");
        if mine.iter().any(|f| f["status"] == "fail") {
            "fail"
        } else if mine.iter().any(|f| f["status"] == "inconclusive") {
            "inconclusive"
        } else {
            "pass"
        }
    };
    let expected = [
        // validation on, multi-region, logging: as created
        ("VALIDATION.001", "pass"),
        ("LOG.VALIDATION.001", "pass"),
        // no KMS key on the trail, no lifecycle rule, no SourceArn on the CloudTrail grant
        ("ENCRYPT.001", "fail"),
        ("S3.LIFECYCLE.001", "fail"),
        ("S3.SOURCEARN.001", "fail"),
        // the log group (365 days), the role and the topic exist
        ("CWLOGS.RETENTION.SHORT.001", "pass"),
        ("GHOST.CWROLE.001", "pass"),
        ("GHOST.SNSTOPIC.001", "pass"),
        ("GHOST.CWLOGS.001", "pass"),
        // not an organization member: no organization trail needed
        ("ORG.001", "pass"),
        // moto cannot answer DescribeAlarms to this SDK: not captured, so never a pass
        ("ALARM.STOPLOGGING.001", "inconclusive"),
    ];
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(id, want)| verdict(id) != *want)
        .map(|(id, want)| format!("{id}: expected {want}, got {}", verdict(id)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn snapshot_without_credentials_is_a_clear_runtime_error() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("snap.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args([
            "snapshot",
            "-o",
            file.to_str().unwrap(),
            "--regions",
            "us-east-1",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("GetCallerIdentity"), "{message}");
    assert!(
        message.contains("--profile") && message.contains("AWS_PROFILE"),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(!file.exists());
}
