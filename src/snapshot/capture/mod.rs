//! Capturing a snapshot: read-only AWS API calls through the AWS SDK for Rust, each answer
//! written exactly as `aws ... --output json` (AWS CLI v2) prints it.
//!
//! A snapshot is raw evidence, so every call is recorded with its parameters, and a call that
//! fails is recorded with its error code: `NoSuchBucketPolicy` is a fact about the bucket,
//! `AccessDenied` a fact about our reach. Only failing to call `sts GetCallerIdentity` at all (no
//! usable credentials) stops a capture.
//!
//! The calls, in file order (each service's module holds its calls and their CLI JSON):
//! 1. `sts GetCallerIdentity`;
//! 2. `cloudtrail DescribeTrails {"includeShadowTrails":true}` in each region, then per trail (by
//!    ARN, in its home region) `GetTrailStatus`, `GetEventSelectors`, `GetInsightSelectors`;
//! 3. `s3 ListBuckets`, then per trail bucket `GetBucketLocation`, `HeadBucket` and the bucket's
//!    policy, lifecycle, versioning, object lock, logging, replication and tagging;
//! 4. `logs DescribeLogGroups` / `DescribeMetricFilters` per trail log group of this account;
//! 5. `cloudwatch DescribeAlarms` in each region holding such a log group;
//! 6. `sns GetTopicAttributes` / `ListSubscriptionsByTopic` per trail topic;
//! 7. `iam GetAccountAuthorizationDetails` and `GetRole` per CloudWatch Logs role of a trail;
//! 8. `organizations DescribeOrganization`, then `ListParents` up to the root,
//!    `ListPoliciesForTarget` (service control policies) and `DescribePolicy`.

mod cloudtrail;
mod cloudwatch;
mod iam;
mod json;
mod logs;
mod organizations;
mod s3;
mod sns;

use std::path::Path;

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::FORMAT;
use crate::archive::S3Options;
use crate::error::{Error, Result, causes};

/// The regions `--regions all` means: the commercial regions every account has enabled by
/// default. Opt-in regions (af-south-1, ap-east-1, me-south-1, eu-south-1, ...) are asked only
/// when named, since a region the account has not enabled can only answer with an error.
pub const STANDARD_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// `all` (the [`STANDARD_REGIONS`]) or a comma-separated list such as `us-east-1,eu-west-1`.
pub fn parse_regions(s: &str) -> Result<Vec<String>> {
    if s.trim() == "all" {
        return Ok(STANDARD_REGIONS.iter().map(|r| r.to_string()).collect());
    }
    let mut regions: Vec<String> = Vec::new();
    for r in s.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let parts: Vec<&str> = r.split('-').collect();
        let looks_right = parts.len() >= 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
            && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
            && r.chars().all(|c| !c.is_ascii_uppercase());
        if !looks_right {
            return Err(Error::input(
                crate::Input::Regions,
                format!("{r:?}"),
                "not a region name (expected e.g. us-east-1,eu-west-1 or all)",
            ));
        }
        if !regions.iter().any(|x| x == r) {
            regions.push(r.to_string());
        }
    }
    if regions.is_empty() {
        return Err(Error::input(
            crate::Input::Regions,
            "\"\"",
            "no region given (use all or e.g. us-east-1,eu-west-1)",
        ));
    }
    Ok(regions)
}

/// What to capture and with which credentials.
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// Profile and endpoint (the region field is ignored: each call names its region).
    pub aws: S3Options,
    /// Regions asked for trails ([`parse_regions`]).
    pub regions: Vec<String>,
}

/// A captured snapshot, serialized in the `trailscope.snapshot/1` format.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotDoc {
    pub format: &'static str,
    pub captured_at: String,
    pub account_id: String,
    pub profile: Map<String, Value>,
    pub calls: Vec<Recorded>,
}

impl SnapshotDoc {
    pub fn errors(&self) -> usize {
        self.calls.iter().filter(|c| c.error.is_some()).count()
    }

    /// Pretty-printed JSON; calls in capture order, members of each answer in sorted order.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the snapshot to `path` atomically (a temporary file beside it, then a rename), so
    /// a reader never sees half a snapshot.
    pub fn write(&self, path: &Path) -> Result<()> {
        let name = path
            .file_name()
            .ok_or_else(|| Error::usage(format!("-o {}: not a file name", path.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        std::fs::write(&tmp, self.to_json()).map_err(|e| Error::io(tmp.display(), e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path.display(), e)
        })
    }
}

/// One call as written to the file.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub service: &'static str,
    pub operation: &'static str,
    /// The region the call was sent to; `null` for the global services (IAM, Organizations).
    pub region: Option<String>,
    pub params: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordedError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedError {
    pub code: String,
    pub message: String,
}

/// A call's answer as CLI JSON, or its error.
pub(crate) type Outcome = std::result::Result<Value, RecordedError>;

/// The service's error code and message (`NoSuchBucketPolicy`, `AccessDenied`, ...); without a
/// code (an empty HEAD body), the HTTP status, as the AWS CLI shows it. An answer the SDK could
/// not parse is `ResponseError`; failures that never reached the service are named by kind
/// (`DispatchFailure`, `TimeoutError`, ...).
pub(crate) fn call_error<E>(e: &SdkError<E>) -> RecordedError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    match e {
        SdkError::ServiceError(_) => match e.code() {
            Some(code) => RecordedError {
                code: code.to_string(),
                message: e.message().unwrap_or_default().to_string(),
            },
            None if status.is_some_and(|s| !(200..300).contains(&s)) => status_error(e, status),
            None => unreadable(e, status),
        },
        SdkError::ResponseError(_) => unreadable(e, status),
        SdkError::TimeoutError(_) => other_error("TimeoutError", e),
        SdkError::DispatchFailure(_) => other_error("DispatchFailure", e),
        SdkError::ConstructionFailure(_) => other_error("ConstructionFailure", e),
        _ => other_error("SdkError", e),
    }
}

/// An answer the SDK could not read (not in the API's shape): `ResponseError`, with the status
/// and the parser's complaint.
fn unreadable<E>(e: &SdkError<E>, status: Option<u16>) -> RecordedError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    RecordedError {
        code: "ResponseError".to_string(),
        message: match status {
            Some(status) => format!("HTTP {status}: {}", causes(e)),
            None => causes(e),
        },
    }
}

/// The HTTP status as the code (`404`, `403`, `301`): how the CLI reports S3 HEAD errors, which
/// have no body to carry a code.
pub(crate) fn status_error<E>(e: &SdkError<E>, status: Option<u16>) -> RecordedError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let Some(status) = status else {
        return other_error("SdkError", e);
    };
    let reason = match status {
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    };
    RecordedError {
        code: status.to_string(),
        message: e.message().unwrap_or(reason).to_string(),
    }
}

fn other_error<E>(kind: &str, e: &SdkError<E>) -> RecordedError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    RecordedError {
        code: kind.to_string(),
        message: causes(e),
    }
}

/// The shared SDK configuration and what every service module needs from it.
pub(crate) struct Ctx {
    sdk: aws_config::SdkConfig,
    /// S3 against `--endpoint-url` uses path-style requests.
    path_style: bool,
    pub account_id: String,
}

/// Where global services (IAM, Organizations) are called in the `aws` partition.
const GLOBAL_REGION: &str = "us-east-1";

impl Ctx {
    /// The configuration for calls in `region`.
    pub fn in_region(&self, region: &str) -> aws_config::SdkConfig {
        self.sdk
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build()
    }

    pub fn global(&self) -> aws_config::SdkConfig {
        self.in_region(GLOBAL_REGION)
    }
}

/// Collects the calls in order and tells progress per service.
pub(crate) struct Recorder<'a> {
    calls: Vec<Recorded>,
    progress: &'a mut dyn FnMut(&str),
}

impl Recorder<'_> {
    /// Records one call; returns the answer when there is one.
    pub fn record(
        &mut self,
        service: &'static str,
        operation: &'static str,
        region: Option<&str>,
        params: Value,
        outcome: Outcome,
    ) -> Option<Value> {
        let (response, error) = match outcome {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        let answer = response.clone();
        self.calls.push(Recorded {
            service,
            operation,
            region: region.map(str::to_string),
            params,
            response,
            error,
        });
        answer
    }

    /// One progress line: the service's calls and errors so far, and what they covered.
    pub fn report(&mut self, service: &str, covered: &str) {
        let of_service = self.calls.iter().filter(|c| c.service == service);
        let calls = of_service.clone().count();
        let errors = of_service.filter(|c| c.error.is_some()).count();
        let sep = if covered.is_empty() { "" } else { ", " };
        (self.progress)(&format!(
            "{service}: {covered}{sep}{calls} calls, {errors} errors"
        ));
    }
}

/// One trail as the later calls need it, read from the recorded DescribeTrails answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrailRef {
    pub arn: String,
    pub home_region: String,
    pub bucket: Option<String>,
    pub log_group_arn: Option<String>,
    pub sns_topic_arn: Option<String>,
    pub role_arn: Option<String>,
}

/// `arn:partition:service:region:account:resource` → (region, account, resource).
pub(crate) fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    let (_partition, _service) = (parts.next()?, parts.next()?);
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// Captures a snapshot. `progress` gets one line per service (the CLI prints them on stderr).
pub async fn capture(
    options: &CaptureOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<SnapshotDoc> {
    let aws = S3Options {
        region: None,
        ..options.aws.clone()
    };
    let loaded = crate::archive::location::load_sdk_config(&aws).await;
    // Throttling is expected when asking many regions: standard retries, with more attempts.
    let sdk = loaded
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(8))
        .build();
    let home = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| GLOBAL_REGION.to_string());
    let mut rec = Recorder {
        calls: Vec::new(),
        progress,
    };
    let captured_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();

    let account_id = caller_identity(&sdk, &home, &aws, &mut rec).await?;
    rec.report("sts", &format!("account {account_id}"));
    let ctx = Ctx {
        sdk,
        path_style: aws.endpoint_url.is_some(),
        account_id: account_id.clone(),
    };

    let trails = cloudtrail::capture(&ctx, &mut rec, &options.regions).await;
    let buckets = distinct(trails.iter().filter_map(|t| t.bucket.clone()));
    s3::capture(&ctx, &mut rec, &buckets).await;
    // Log groups and roles of trails owned elsewhere (an organization trail seen from a member
    // account) live in the other account: asking ours would wrongly say they do not exist.
    let ours = |arn: &String| arn_parts(arn).is_some_and(|(_, acct, _)| acct == account_id);
    let log_groups = distinct(
        trails
            .iter()
            .filter_map(|t| t.log_group_arn.clone())
            .filter(ours),
    );
    let log_regions = logs::capture(&ctx, &mut rec, &log_groups).await;
    cloudwatch::capture(&ctx, &mut rec, &log_regions).await;
    let topics = distinct(trails.iter().filter_map(|t| t.sns_topic_arn.clone()));
    sns::capture(&ctx, &mut rec, &topics).await;
    let roles = distinct(
        trails
            .iter()
            .filter_map(|t| t.role_arn.clone())
            .filter(ours),
    );
    iam::capture(&ctx, &mut rec, &roles).await;
    organizations::capture(&ctx, &mut rec).await;

    Ok(SnapshotDoc {
        format: FORMAT,
        captured_at,
        account_id,
        profile: Map::new(),
        calls: rec.calls,
    })
}

/// `sts GetCallerIdentity`: the account, and the proof that the credentials work at all.
async fn caller_identity(
    sdk: &aws_config::SdkConfig,
    region: &str,
    aws: &S3Options,
    rec: &mut Recorder<'_>,
) -> Result<String> {
    let config = aws_sdk_sts::config::Builder::from(sdk)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let client = aws_sdk_sts::Client::from_conf(config);
    let answer = client.get_caller_identity().send().await.map_err(|e| {
        let profile = match &aws.profile {
            Some(p) => format!("{p:?}"),
            None => "(the default credential chain)".to_string(),
        };
        Error::input(
            crate::Input::Profile,
            profile,
            format!(
                "cannot call sts GetCallerIdentity: {}; choose another profile or set AWS_PROFILE \
             (run `aws sso login` first for SSO profiles), or export \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                // The SDK lists the providers it tried, one per line: keep the message on one line.
                call_error(&e)
                    .message
                    .lines()
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        )
    })?;
    let account = answer.account.clone().unwrap_or_default();
    if !crate::archive::layout::is_account_id(&account) {
        return Err(Error::usage(format!(
            "sts GetCallerIdentity returned {account:?}, not a 12-digit account id"
        )));
    }
    let response = json::Obj::new()
        .str("UserId", answer.user_id.as_deref())
        .str("Account", answer.account.as_deref())
        .str("Arn", answer.arn.as_deref())
        .build();
    rec.record(
        "sts",
        "GetCallerIdentity",
        Some(region),
        json!({}),
        Ok(response),
    );
    Ok(account)
}

/// Values in first-seen order, once each.
fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_all_or_a_checked_list() {
        assert_eq!(parse_regions("all").unwrap().len(), STANDARD_REGIONS.len());
        assert_eq!(
            parse_regions("us-east-1, eu-west-1,us-east-1").unwrap(),
            ["us-east-1", "eu-west-1"]
        );
        assert!(parse_regions("us-east-1,Ireland").is_err());
        assert!(parse_regions(",").is_err());
    }

    #[test]
    fn arns_split_into_region_account_resource() {
        assert_eq!(
            arn_parts("arn:aws:logs:eu-west-1:111122223333:log-group:ct:*"),
            Some(("eu-west-1", "111122223333", "log-group:ct:*"))
        );
        assert_eq!(
            arn_parts("arn:aws:iam::111122223333:role/a/b"),
            Some(("", "111122223333", "role/a/b"))
        );
        assert_eq!(arn_parts("bucket"), None);
    }
}
