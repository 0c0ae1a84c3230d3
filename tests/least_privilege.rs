//! Least privilege: every command works with only the permissions `docs/policies/` grants.
//!
//! moto_server can enforce IAM itself, but its signature check rejects any request with an
//! encoded `/` in the query string (every `prefix=a/b` listing), so the policy is enforced here
//! instead: a proxy of our own in front of moto maps each request to the IAM action and resource
//! AWS would authorize it as, evaluates the documented policy, and answers `403 AccessDenied`
//! to anything it does not allow, as S3 would.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::fault_proxy::{FaultProxy, Gate, Request};
use crate::util::{MOTO_ENV, moto, stderr, stdout, testdata, trailscope_with_env};

const BUCKET: &str = "least-privilege-trail";

/// The documented policy's Allow statements, for one bucket: (action patterns, resource patterns).
struct Policy(Vec<(Vec<String>, Vec<String>)>);

impl Policy {
    fn load(file: &str, bucket: &str) -> Policy {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/policies")
            .join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("my-cloudtrail-bucket", bucket);
        let doc: Value = serde_json::from_str(&text).unwrap();
        let list = |v: &Value| -> Vec<String> {
            match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
                _ => panic!("{file}: Action and Resource are strings or lists"),
            }
        };
        let statements = doc["Statement"].as_array().unwrap();
        Policy(
            statements
                .iter()
                .filter(|s| s["Effect"] == "Allow")
                .map(|s| (list(&s["Action"]), list(&s["Resource"])))
                .collect(),
        )
    }

    fn allows(&self, action: &str, resource: &str) -> bool {
        self.0.iter().any(|(actions, resources)| {
            actions
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && resources.iter().any(|r| glob(r, resource))
        })
    }

    fn gate(self) -> Gate {
        Arc::new(move |request: &Request| {
            let (action, resource) = authorized_as(request);
            if self.allows(&action, &resource) {
                Ok(())
            } else {
                Err(format!("{action} on {resource} ({})", request.line))
            }
        })
    }
}

/// IAM's wildcard match: `*` is any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|skip| glob(rest, &text[head.len() + skip..]))
        }
    }
}

/// The IAM action and resource AWS authorizes a request as. The service comes from the
/// signature's credential scope; S3 requests are path-style (`/bucket/key?query`), the other
/// services name their operation in `X-Amz-Target`, an `Action=` form body, or a Smithy
/// RPC v2 path (`/service/S/operation/Op`).
fn authorized_as(request: &Request) -> (String, String) {
    let mut parts = request.line.split(' ');
    let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
    let service = request
        .header("authorization")
        .and_then(|a| a.split_once("Credential="))
        .and_then(|(_, c)| c.split('/').nth(3))
        .unwrap_or("unsigned")
        .to_string();
    if service != "s3" {
        let operation = request
            .header("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .map(str::to_string)
            .or_else(|| {
                String::from_utf8_lossy(&request.body)
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
            })
            .or_else(|| {
                target
                    .split_once("/operation/")
                    .map(|(_, op)| op.to_string())
            })
            .unwrap_or_else(|| format!("unknown request {method} {target}"));
        let prefix = if service == "monitoring" {
            "cloudwatch"
        } else {
            &service
        };
        return (format!("{prefix}:{operation}"), "*".into());
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let sub = query.split('&').map(|kv| kv.split('=').next().unwrap());
    let action = match (method, bucket.is_empty(), key.is_empty()) {
        ("GET" | "HEAD", true, _) => "ListAllMyBuckets".to_string(),
        ("GET" | "HEAD", false, false) => "GetObject".to_string(),
        ("HEAD", false, true) => "ListBucket".to_string(),
        ("GET", false, true) => {
            let named = sub.into_iter().find_map(|s| {
                Some(match s {
                    "location" => "GetBucketLocation",
                    "policy" => "GetBucketPolicy",
                    "lifecycle" => "GetLifecycleConfiguration",
                    "versioning" => "GetBucketVersioning",
                    "object-lock" => "GetBucketObjectLockConfiguration",
                    "logging" => "GetBucketLogging",
                    "replication" => "GetReplicationConfiguration",
                    "tagging" => "GetBucketTagging",
                    "acl" => "GetBucketAcl",
                    _ => return None,
                })
            });
            named.unwrap_or("ListBucket").to_string()
        }
        ("PUT" | "POST", _, false) => "PutObject".to_string(),
        ("DELETE", _, false) => "DeleteObject".to_string(),
        (m, _, _) => format!("{m}Bucket"),
    };
    let resource = match (bucket.is_empty(), key.is_empty()) {
        (true, _) => "*".to_string(),
        (false, true) => format!("arn:aws:s3:::{bucket}"),
        (false, false) => format!("arn:aws:s3:::{bucket}/{key}"),
    };
    (format!("s3:{action}"), resource)
}

fn path_arg(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

#[test]
fn requests_are_authorized_as_aws_would() {
    let request = |line: &str, headers: &[(&str, &str)], body: &str| Request {
        line: line.to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    };
    let s3 = [(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AK/20261202/us-east-1/s3/aws4_request, Signature=x",
    )];
    let cases = [
        (
            request("GET /b?list-type=2&prefix=AWSLogs%2F HTTP/1.1", &s3, ""),
            ("s3:ListBucket", "arn:aws:s3:::b"),
        ),
        (
            request("HEAD /b/AWSLogs/1/x.json.gz HTTP/1.1", &s3, ""),
            ("s3:GetObject", "arn:aws:s3:::b/AWSLogs/1/x.json.gz"),
        ),
        (
            request("GET /b?versioning HTTP/1.1", &s3, ""),
            ("s3:GetBucketVersioning", "arn:aws:s3:::b"),
        ),
        (
            request("PUT /b/k HTTP/1.1", &s3, ""),
            ("s3:PutObject", "arn:aws:s3:::b/k"),
        ),
        (
            request(
                "POST / HTTP/1.1",
                &[
                    (
                        "authorization",
                        "AWS4-HMAC-SHA256 Credential=AK/20261202/us-east-1/iam/aws4_request",
                    ),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                "Action=GetRole&RoleName=r&Version=2010-05-08",
            ),
            ("iam:GetRole", "*"),
        ),
        (
            request(
                "POST / HTTP/1.1",
                &[
                    (
                        "Authorization",
                        "AWS4-HMAC-SHA256 Credential=AK/20261202/eu-west-1/cloudtrail/aws4_request",
                    ),
                    (
                        "X-Amz-Target",
                        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails",
                    ),
                ],
                "{}",
            ),
            ("cloudtrail:DescribeTrails", "*"),
        ),
    ];
    let policy = Policy::load("archive-read.json", "b");
    for (request, (action, resource)) in cases {
        assert_eq!(
            authorized_as(&request),
            (action.to_string(), resource.to_string())
        );
    }
    assert!(policy.allows("s3:ListBucket", "arn:aws:s3:::b"));
    assert!(policy.allows("s3:GetObject", "arn:aws:s3:::b/AWSLogs/1/x.json.gz"));
    assert!(!policy.allows("s3:GetObject", "arn:aws:s3:::other/AWSLogs/1/x.json.gz"));
    assert!(!policy.allows("s3:PutObject", "arn:aws:s3:::b/k"));
    assert!(!policy.allows("s3:ListBucket", "arn:aws:s3:::b/k"));
}

#[tokio::test]
async fn every_archive_command_works_with_only_list_bucket_and_get_object() {
    let archive_dir = testdata().join("archive");
    moto().upload(BUCKET, &archive_dir, &[]).await;
    let proxy = FaultProxy::start_gated(
        &moto().endpoint,
        vec![],
        Some(Policy::load("archive-read.json", BUCKET).gate()),
    );
    let out_dir = tempfile::tempdir().unwrap();
    let keys = path_arg(&archive_dir.join("_trailscope/public-keys.json"));
    let signatures = path_arg(&archive_dir.join("_trailscope/digest-signatures.json"));
    let (report, lake) = (
        path_arg(&out_dir.path().join("report.html")),
        path_arg(&out_dir.path().join("lake")),
    );
    let count = "SELECT count(*) AS n, count(DISTINCT log_file) AS files FROM cloudtrail";
    let commands: Vec<Vec<&str>> = vec![
        vec!["query", "--format", "csv", count],
        vec!["check", "--format", "csv"],
        vec![
            "verify",
            "--public-keys",
            &keys,
            "--signatures",
            &signatures,
            "--format",
            "jsonl",
        ],
        vec!["gaps", "--format", "jsonl"],
        vec![
            "report",
            "--public-keys",
            &keys,
            "--signatures",
            &signatures,
            "-o",
            &report,
        ],
        vec!["convert", "--lake", &lake],
        vec!["query", "--lake", &lake, "--format", "csv", count],
    ];
    let s3 = format!("s3://{BUCKET}");
    let local = path_arg(&archive_dir);
    for args in commands {
        let run = |archive: &str, endpoint: Option<&str>| {
            let mut full = vec![args[0], "-q", "-a", archive];
            if let Some(endpoint) = endpoint {
                full.extend(["--endpoint-url", endpoint]);
            }
            full.extend_from_slice(&args[1..]);
            trailscope_with_env(&full, MOTO_ENV)
        };
        let over_s3 = run(&s3, Some(&proxy.endpoint));
        let denied = proxy.denied.lock().unwrap().clone();
        assert!(denied.is_empty(), "{args:?} needed more: {denied:?}");
        if args[0] == "convert" || args.contains(&"--lake") {
            // The lake is made from S3 once; the local run would make another.
            assert_eq!(over_s3.status.code(), Some(0), "{}", stderr(&over_s3));
            continue;
        }
        let here = run(&local, None);
        assert_eq!(
            (over_s3.status.code(), stdout(&over_s3)),
            (here.status.code(), stdout(&here)),
            "{args:?} over S3 with least privilege answered differently: {}",
            stderr(&over_s3)
        );
    }
    let seen = proxy.seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|(_, l)| l.contains("list-type=2")),
        "no listing"
    );
    assert!(
        seen.iter().any(|(_, l)| l.contains("/CloudTrail-Digest/")),
        "no digest read"
    );

    // The gate is real: without s3:GetObject the same query is refused, naming the cause.
    let list_only = Policy(vec![(
        vec!["s3:ListBucket".into()],
        vec![format!("arn:aws:s3:::{BUCKET}")],
    )]);
    let proxy = FaultProxy::start_gated(&moto().endpoint, vec![], Some(list_only.gate()));
    let out = trailscope_with_env(
        &[
            "query",
            "-q",
            "-a",
            &s3,
            "--endpoint-url",
            &proxy.endpoint,
            count,
        ],
        MOTO_ENV,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("AccessDenied"), "{}", stderr(&out));
}

#[tokio::test]
async fn snapshot_makes_only_the_documented_read_only_calls() {
    let moto = moto();
    let proxy = FaultProxy::start_gated(
        &moto.endpoint,
        vec![],
        Some(Policy::load("snapshot-read.json", "*").gate()),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    let out = trailscope_with_env(
        &[
            "snapshot",
            "-q",
            "-o",
            file.to_str().unwrap(),
            "--endpoint-url",
            &proxy.endpoint,
            "--regions",
            "us-east-1,eu-west-1",
        ],
        MOTO_ENV,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let denied = proxy.denied.lock().unwrap().clone();
    assert!(denied.is_empty(), "snapshot needed more: {denied:?}");
    let seen = proxy.seen.lock().unwrap().len();
    assert!(seen >= 5, "only {seen} calls reached the proxy");
    // Nothing the snapshot recorded is an AccessDenied the policy caused.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("AccessDenied"), "{text}");
}
