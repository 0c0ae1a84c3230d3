//! From raw API calls to the rows of the snapshot tables.
//!
//! Each table is a list of typed columns and rows keyed by column name. The one rule that
//! matters for controls: **NULL means "not captured"**, never "off". A fact known to be absent
//! gets an explicit value (`has_policy = false` from `NoSuchBucketPolicy`, `lifecycle_rules = []`
//! from `NoSuchLifecycleConfiguration`), so a control can tell "no policy" from "we did not look"
//! and answer inconclusive for the latter.
//!
//! Adding a table: a `FactTable` built here from the calls, pushed in [`fact_tables`], and a line
//! in the snapshot table list of queries/controls/README.md.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Call, Snapshot};

/// How a column is typed in Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Text,
    /// JSON text (objects, arrays): query it with `json_extract_scalar`, `->>`, ...
    Json,
    Bool,
    Int,
    Float,
    /// A UTC timestamp; the AWS CLI prints ISO 8601 (v2) or epoch seconds (v1).
    Time,
}

/// One snapshot table: columns in order, rows keyed by column name (absent key = NULL).
#[derive(Debug, Clone)]
pub struct FactTable {
    pub name: &'static str,
    pub columns: Vec<(&'static str, ColType)>,
    pub rows: Vec<Map<String, Value>>,
}

impl FactTable {
    pub(super) fn new(name: &'static str, columns: &[(&'static str, ColType)]) -> Self {
        FactTable {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, row: Value) {
        if let Value::Object(map) = row {
            self.rows.push(map);
        }
    }
}

use ColType::*;

/// Every snapshot table, built from all the snapshots given.
pub fn fact_tables(snapshots: &[Snapshot]) -> Vec<FactTable> {
    let mut snaps = FactTable::new(
        "snapshots",
        &[
            ("source", Text),
            ("account_id", Text),
            ("captured_at", Time),
            ("profile", Json),
            ("calls", Int),
        ],
    );
    let mut calls = FactTable::new(
        "snapshot_calls",
        &[
            ("source", Text),
            ("account_id", Text),
            ("service", Text),
            ("operation", Text),
            ("region", Text),
            ("params", Json),
            ("response", Json),
            ("error_code", Text),
            ("error_message", Text),
        ],
    );
    for s in snapshots {
        snaps.push(json!({"source": s.source, "account_id": s.account_id,
            "captured_at": s.captured_at, "profile": s.profile, "calls": s.calls.len()}));
        for c in &s.calls {
            calls.push(json!({"source": s.source, "account_id": s.account_id,
                "service": c.service, "operation": c.operation, "region": c.region,
                "params": c.params, "response": c.response,
                "error_code": c.error.as_ref().map(|e| &e.code),
                "error_message": c.error.as_ref().map(|e| &e.message)}));
        }
    }
    let mut tables = vec![snaps, calls, trails(snapshots)];
    tables.push(trail_status(snapshots));
    tables.push(event_selectors(snapshots));
    tables.push(insight_selectors(snapshots));
    tables.push(buckets(snapshots));
    tables.push(log_groups(snapshots));
    tables.push(metric_filters(snapshots));
    tables.push(alarms(snapshots));
    tables.extend(super::access::tables(snapshots));
    tables
}

/// Successful answers of one operation, with the snapshot they came from.
pub(super) fn answers<'a>(
    snapshots: &'a [Snapshot],
    service: &'a str,
    operation: &'a str,
) -> impl Iterator<Item = (&'a Snapshot, &'a Call, &'a Value)> + 'a {
    snapshots.iter().flat_map(move |s| {
        s.calls
            .iter()
            .filter(move |c| c.is(service, operation))
            .filter_map(move |c| c.response.as_ref().map(|r| (s, c, r)))
    })
}

pub(super) fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The account in an ARN (`arn:partition:service:region:account:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// `arn:aws:logs:us-east-1:111122223333:log-group:NAME:*` → `NAME`.
fn log_group_name(arn: &str) -> Option<&str> {
    arn.split(':').nth(6)
}

fn trails(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "trails",
        &[
            ("account_id", Text),
            ("trail_arn", Text),
            ("name", Text),
            ("home_region", Text),
            ("trail_account_id", Text),
            ("s3_bucket_name", Text),
            ("s3_key_prefix", Text),
            ("sns_topic_arn", Text),
            ("include_global_service_events", Bool),
            ("is_multi_region_trail", Bool),
            ("is_organization_trail", Bool),
            ("log_file_validation_enabled", Bool),
            ("cloud_watch_logs_log_group_arn", Text),
            ("cloud_watch_logs_log_group_name", Text),
            ("cloud_watch_logs_role_arn", Text),
            ("kms_key_id", Text),
            ("has_custom_event_selectors", Bool),
            ("has_insight_selectors", Bool),
        ],
    );
    // DescribeTrails in each region repeats multi-region trails ("shadow trails"): one row each.
    let mut seen = std::collections::BTreeSet::new();
    for (s, _, r) in answers(snapshots, "cloudtrail", "DescribeTrails") {
        for trail in list(r, "trailList") {
            let arn = trail.get("TrailARN").and_then(Value::as_str).unwrap_or("");
            if arn.is_empty() || !seen.insert((s.account_id.clone(), arn.to_string())) {
                continue;
            }
            let g = |k: &str| trail.get(k).cloned().unwrap_or(Value::Null);
            let group = trail
                .get("CloudWatchLogsLogGroupArn")
                .and_then(Value::as_str);
            t.push(json!({
                "account_id": s.account_id, "trail_arn": arn, "name": g("Name"),
                "home_region": g("HomeRegion"), "trail_account_id": arn_account(arn),
                "s3_bucket_name": g("S3BucketName"), "s3_key_prefix": g("S3KeyPrefix"),
                "sns_topic_arn": g("SnsTopicARN"),
                "include_global_service_events": g("IncludeGlobalServiceEvents"),
                "is_multi_region_trail": g("IsMultiRegionTrail"),
                "is_organization_trail": g("IsOrganizationTrail"),
                "log_file_validation_enabled": g("LogFileValidationEnabled"),
                "cloud_watch_logs_log_group_arn": group,
                "cloud_watch_logs_log_group_name": group.and_then(log_group_name),
                "cloud_watch_logs_role_arn": g("CloudWatchLogsRoleArn"),
                "kms_key_id": g("KmsKeyId"),
                "has_custom_event_selectors": g("HasCustomEventSelectors"),
                "has_insight_selectors": g("HasInsightSelectors"),
            }));
        }
    }
    t
}

/// A trail named in a call's `Name`/`TrailName` parameter, as its ARN: an ARN is kept, a bare
/// name is looked up among the snapshot's trails, else built from the call's region.
fn trail_arn_of(s: &Snapshot, call: &Call) -> Option<String> {
    let name = call.param("Name").or_else(|| call.param("TrailName"))?;
    if name.starts_with("arn:") {
        return Some(name.to_string());
    }
    for (_, _, r) in answers(std::slice::from_ref(s), "cloudtrail", "DescribeTrails") {
        for trail in list(r, "trailList") {
            if trail.get("Name").and_then(Value::as_str) == Some(name)
                && let Some(arn) = trail.get("TrailARN").and_then(Value::as_str)
            {
                return Some(arn.to_string());
            }
        }
    }
    let region = call.region.as_deref()?;
    Some(format!(
        "arn:aws:cloudtrail:{region}:{}:trail/{name}",
        s.account_id
    ))
}

fn trail_status(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "trail_status",
        &[
            ("account_id", Text),
            ("trail_arn", Text),
            ("is_logging", Bool),
            ("latest_delivery_time", Time),
            ("latest_delivery_error", Text),
            ("latest_digest_delivery_time", Time),
            ("latest_digest_delivery_error", Text),
            ("latest_cloud_watch_logs_delivery_time", Time),
            ("latest_cloud_watch_logs_delivery_error", Text),
            ("latest_notification_error", Text),
            ("start_logging_time", Time),
            ("stop_logging_time", Time),
        ],
    );
    for (s, c, r) in answers(snapshots, "cloudtrail", "GetTrailStatus") {
        let g = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
        t.push(json!({
            "account_id": s.account_id, "trail_arn": trail_arn_of(s, c),
            "is_logging": g("IsLogging"),
            "latest_delivery_time": g("LatestDeliveryTime"),
            "latest_delivery_error": g("LatestDeliveryError"),
            "latest_digest_delivery_time": g("LatestDigestDeliveryTime"),
            "latest_digest_delivery_error": g("LatestDigestDeliveryError"),
            "latest_cloud_watch_logs_delivery_time": g("LatestCloudWatchLogsDeliveryTime"),
            "latest_cloud_watch_logs_delivery_error": g("LatestCloudWatchLogsDeliveryError"),
            "latest_notification_error": g("LatestNotificationError"),
            "start_logging_time": g("StartLoggingTime"),
            "stop_logging_time": g("StopLoggingTime"),
        }));
    }
    t
}

/// The first `Equals` value of an advanced selector's field (`eventCategory`, `resources.type`).
fn field_equals(selector: &Value, field: &str) -> Option<String> {
    list(selector, "FieldSelectors")
        .iter()
        .find(|f| f.get("Field").and_then(Value::as_str) == Some(field))
        .and_then(|f| list(f, "Equals").first())
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The data resource types a classic selector records (`DataResources[].Type`).
fn classic_types(sel: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in list(sel, "DataResources")
        .iter()
        .filter_map(|d| d.get("Type").and_then(Value::as_str))
    {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Object-ARN prefixes whose S3 object events a classic selector records: its
/// `AWS::S3::Object` values, `arn:aws:s3` (all buckets) spelled `arn:aws:s3:::`.
fn classic_s3_prefixes(sel: &Value) -> Vec<String> {
    list(sel, "DataResources")
        .iter()
        .filter(|d| d.get("Type").and_then(Value::as_str) == Some("AWS::S3::Object"))
        .flat_map(|d| list(d, "Values"))
        .filter_map(Value::as_str)
        .map(|v| {
            if v.split(':').count() == 3 && v.ends_with(":s3") {
                format!("{v}:::")
            } else {
                v.to_string()
            }
        })
        .collect()
}

/// The values of one operator (`Equals`, `StartsWith`, ...) on one field of an advanced selector.
fn field_values<'a>(sel: &'a Value, field: &str, op: &str) -> Vec<&'a str> {
    list(sel, "FieldSelectors")
        .iter()
        .filter(|f| f.get("Field").and_then(Value::as_str) == Some(field))
        .flat_map(|f| list(f, op))
        .filter_map(Value::as_str)
        .collect()
}

/// The data resource types an advanced selector records (`resources.type` of a Data selector).
fn advanced_types(sel: &Value) -> Vec<&str> {
    if field_values(sel, "eventCategory", "Equals").contains(&"Data") {
        field_values(sel, "resources.type", "Equals")
    } else {
        Vec::new()
    }
}

/// The conditions of an advanced selector that make it record only part of its category and
/// resource type, as `field Operator`: everything but `eventCategory`/`resources.type`/`readOnly`
/// equality and `resources.ARN StartsWith` (which scopes by prefix, see `s3_object_prefixes`).
fn narrowed_by(sel: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for f in list(sel, "FieldSelectors") {
        let field = f.get("Field").and_then(Value::as_str).unwrap_or("");
        let Some(ops) = f.as_object() else { continue };
        for (op, values) in ops {
            if op == "Field" || values.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            let scoping = matches!(
                (field, op.as_str()),
                ("eventCategory" | "resources.type" | "readOnly", "Equals")
                    | ("resources.ARN", "StartsWith")
            );
            if !scoping {
                out.push(format!("{field} {op}"));
            }
        }
    }
    out
}

/// Object-ARN prefixes whose S3 object events an advanced selector records in full: its
/// `resources.ARN StartsWith` values, or the partition's `arn:aws:s3:::` (all buckets) when the
/// ARN is unrestricted; none when another condition narrows the selector.
fn advanced_s3_prefixes(sel: &Value, trail_arn: Option<&str>) -> Vec<String> {
    if !advanced_types(sel).contains(&"AWS::S3::Object") || !narrowed_by(sel).is_empty() {
        return Vec::new();
    }
    let starts = field_values(sel, "resources.ARN", "StartsWith");
    if starts.is_empty() {
        let partition = trail_arn
            .and_then(|a| a.split(':').nth(1))
            .filter(|p| !p.is_empty())
            .unwrap_or("aws");
        vec![format!("arn:{partition}:s3:::")]
    } else {
        starts.into_iter().map(str::to_string).collect()
    }
}

fn event_selectors(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "event_selectors",
        &[
            ("account_id", Text),
            ("trail_arn", Text),
            ("kind", Text),
            ("name", Text),
            ("read_write_type", Text),
            ("include_management_events", Bool),
            ("exclude_management_event_sources", Json),
            ("data_resources", Json),
            ("event_category", Text),
            ("resource_type", Text),
            ("field_selectors", Json),
            ("data_resource_types", Json),
            ("s3_object_prefixes", Json),
            ("narrowed_by", Json),
        ],
    );
    for (s, c, r) in answers(snapshots, "cloudtrail", "GetEventSelectors") {
        let arn = r
            .get("TrailARN")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| trail_arn_of(s, c));
        for sel in list(r, "EventSelectors") {
            let g = |k: &str| sel.get(k).cloned().unwrap_or(Value::Null);
            t.push(json!({
                "account_id": s.account_id, "trail_arn": arn, "kind": "classic",
                "read_write_type": g("ReadWriteType"),
                "include_management_events": g("IncludeManagementEvents"),
                "exclude_management_event_sources": g("ExcludeManagementEventSources"),
                "data_resources": g("DataResources"),
                "event_category": if g("IncludeManagementEvents") == Value::Bool(true) {
                    Some("Management") } else { None },
                "data_resource_types": classic_types(sel),
                "s3_object_prefixes": classic_s3_prefixes(sel),
                "narrowed_by": if list(sel, "ExcludeManagementEventSources").is_empty() {
                    json!([]) } else { json!(["ExcludeManagementEventSources"]) },
            }));
        }
        for sel in list(r, "AdvancedEventSelectors") {
            let category = field_equals(sel, "eventCategory");
            let read_only = field_equals(sel, "readOnly");
            // An advanced selector without a readOnly field records reads and writes.
            let rw = match read_only.as_deref() {
                Some("true") => "ReadOnly",
                Some("false") => "WriteOnly",
                _ => "All",
            };
            t.push(json!({
                "account_id": s.account_id, "trail_arn": arn, "kind": "advanced",
                "name": sel.get("Name"), "read_write_type": rw,
                "include_management_events": category.as_deref() == Some("Management"),
                "event_category": category,
                "resource_type": field_equals(sel, "resources.type"),
                "field_selectors": sel.get("FieldSelectors"),
                "data_resource_types": advanced_types(sel),
                "s3_object_prefixes": advanced_s3_prefixes(sel, arn.as_deref()),
                "narrowed_by": narrowed_by(sel),
            }));
        }
    }
    t
}

fn insight_selectors(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "insight_selectors",
        &[
            ("account_id", Text),
            ("trail_arn", Text),
            ("insight_types", Json),
            ("api_call_rate", Bool),
            ("api_error_rate", Bool),
        ],
    );
    for s in snapshots {
        for c in s
            .calls
            .iter()
            .filter(|c| c.is("cloudtrail", "GetInsightSelectors"))
        {
            // InsightNotEnabledException is the answer "none", not a missing fact.
            let types: Vec<String> = match (&c.response, c.error_code()) {
                (Some(r), _) => list(r, "InsightSelectors")
                    .iter()
                    .filter_map(|i| i.get("InsightType").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect(),
                (None, Some("InsightNotEnabledException")) => Vec::new(),
                _ => continue,
            };
            let arn = c
                .response
                .as_ref()
                .and_then(|r| r.get("TrailARN"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| trail_arn_of(s, c));
            t.push(json!({
                "account_id": s.account_id, "trail_arn": arn,
                "api_call_rate": types.iter().any(|t| t == "ApiCallRateInsight"),
                "api_error_rate": types.iter().any(|t| t == "ApiErrorRateInsight"),
                "insight_types": types,
            }));
        }
    }
    t
}

/// Error codes that answer "this configuration is absent" rather than "we could not look".
const ABSENT: &[&str] = &[
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "ObjectLockConfigurationNotFoundError",
    "ReplicationConfigurationNotFoundError",
];

fn buckets(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "buckets",
        &[
            ("account_id", Text),
            ("bucket", Text),
            ("head_status", Text),
            ("has_policy", Bool),
            ("policy", Json),
            ("lifecycle_rules", Json),
            ("versioning_status", Text),
            ("mfa_delete", Text),
            ("object_lock_enabled", Bool),
            ("logging_enabled", Bool),
            ("logging_target_bucket", Text),
            ("replication_rules", Json),
            ("owned_by_snapshot_account", Bool),
            ("errors", Json),
        ],
    );
    for s in snapshots {
        // ListBuckets names the buckets this account owns: absent from it means another owner.
        let owned: Option<Vec<&str>> = s
            .calls
            .iter()
            .filter(|c| c.is("s3", "ListBuckets"))
            .find_map(|c| c.response.as_ref())
            .map(|r| {
                list(r, "Buckets")
                    .iter()
                    .filter_map(|b| b.get("Name").and_then(Value::as_str))
                    .collect()
            });
        let mut rows: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
        for c in s.calls.iter().filter(|c| c.service == "s3") {
            let Some(bucket) = c.param("Bucket") else {
                continue;
            };
            let row = rows.entry(bucket).or_insert_with(|| {
                let mut m = Map::new();
                m.insert("account_id".into(), json!(s.account_id));
                m.insert("bucket".into(), json!(bucket));
                m.insert("errors".into(), json!([]));
                if let Some(owned) = &owned {
                    m.insert(
                        "owned_by_snapshot_account".into(),
                        json!(owned.contains(&bucket)),
                    );
                }
                m
            });
            let mut set = |k: &str, v: Value| {
                row.insert(k.to_string(), v);
            };
            match (c.response.as_ref(), c.error_code()) {
                (_, Some("NoSuchBucket" | "404" | "NotFound")) => {
                    set("head_status", json!("missing"))
                }
                (None, Some(code)) if c.operation == "HeadBucket" => {
                    if matches!(code, "403" | "Forbidden" | "AccessDenied") {
                        // Someone else owns the name: the takeover case of GHOST.S3BUCKET.
                        set("head_status", json!("forbidden"));
                    }
                }
                (None, Some(code)) if ABSENT.contains(&code) => match code {
                    "NoSuchBucketPolicy" => set("has_policy", json!(false)),
                    "NoSuchLifecycleConfiguration" => set("lifecycle_rules", json!([])),
                    "ObjectLockConfigurationNotFoundError" => {
                        set("object_lock_enabled", json!(false))
                    }
                    _ => set("replication_rules", json!([])),
                },
                (None, Some(_)) => {}
                (Some(r), _) => match c.operation.as_str() {
                    "HeadBucket" => set("head_status", json!("exists")),
                    "GetBucketPolicy" => {
                        // The CLI prints the policy as a JSON string inside the answer.
                        let text = r.get("Policy").and_then(Value::as_str).unwrap_or("");
                        let policy = serde_json::from_str::<Value>(text).unwrap_or(json!(text));
                        set("has_policy", json!(true));
                        set("policy", policy);
                    }
                    "GetBucketLifecycleConfiguration" => {
                        set("lifecycle_rules", json!(list(r, "Rules")))
                    }
                    "GetBucketVersioning" => {
                        set(
                            "versioning_status",
                            r.get("Status").cloned().unwrap_or(json!("Disabled")),
                        );
                        set(
                            "mfa_delete",
                            r.get("MFADelete").cloned().unwrap_or(json!("Disabled")),
                        );
                    }
                    "GetObjectLockConfiguration" => {
                        let enabled = r.pointer("/ObjectLockConfiguration/ObjectLockEnabled");
                        set(
                            "object_lock_enabled",
                            json!(enabled == Some(&json!("Enabled"))),
                        );
                    }
                    "GetBucketLogging" => {
                        let target = r.pointer("/LoggingEnabled/TargetBucket").cloned();
                        set("logging_enabled", json!(target.is_some()));
                        set("logging_target_bucket", target.unwrap_or(Value::Null));
                    }
                    "GetBucketReplication" => set(
                        "replication_rules",
                        json!(list(
                            r.get("ReplicationConfiguration").unwrap_or(&Value::Null),
                            "Rules"
                        )),
                    ),
                    _ => {}
                },
                (None, None) => {}
            }
            if let Some(e) = &c.error
                && !ABSENT.contains(&e.code.as_str())
                && let Some(Value::Array(errors)) = row.get_mut("errors")
            {
                errors
                    .push(json!({"operation": c.operation, "code": e.code, "message": e.message}));
            }
            // A bucket that answered anything exists, even without a HeadBucket call.
            if c.response.is_some() && !row.contains_key("head_status") {
                row.insert("head_status".into(), json!("exists"));
            }
        }
        t.rows.extend(rows.into_values());
    }
    t
}

fn log_groups(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "log_groups",
        &[
            ("account_id", Text),
            ("region", Text),
            ("log_group_name", Text),
            ("arn", Text),
            ("retention_in_days", Int),
            ("kms_key_id", Text),
        ],
    );
    for (s, c, r) in answers(snapshots, "logs", "DescribeLogGroups") {
        for g in list(r, "logGroups") {
            t.push(json!({"account_id": s.account_id, "region": c.region,
                "log_group_name": g.get("logGroupName"), "arn": g.get("arn"),
                "retention_in_days": g.get("retentionInDays"), "kms_key_id": g.get("kmsKeyId")}));
        }
    }
    t
}

fn metric_filters(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "metric_filters",
        &[
            ("account_id", Text),
            ("region", Text),
            ("log_group_name", Text),
            ("filter_name", Text),
            ("filter_pattern", Text),
            ("metric_name", Text),
            ("metric_namespace", Text),
        ],
    );
    for (s, c, r) in answers(snapshots, "logs", "DescribeMetricFilters") {
        for f in list(r, "metricFilters") {
            for m in list(f, "metricTransformations") {
                t.push(json!({"account_id": s.account_id, "region": c.region,
                    "log_group_name": f.get("logGroupName"), "filter_name": f.get("filterName"),
                    "filter_pattern": f.get("filterPattern"), "metric_name": m.get("metricName"),
                    "metric_namespace": m.get("metricNamespace")}));
            }
        }
    }
    t
}

fn alarms(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "alarms",
        &[
            ("account_id", Text),
            ("region", Text),
            ("alarm_name", Text),
            ("metric_name", Text),
            ("namespace", Text),
            ("statistic", Text),
            ("period", Int),
            ("evaluation_periods", Int),
            ("threshold", Float),
            ("comparison_operator", Text),
            ("actions_enabled", Bool),
            ("alarm_actions", Json),
        ],
    );
    for (s, c, r) in answers(snapshots, "cloudwatch", "DescribeAlarms") {
        for a in list(r, "MetricAlarms") {
            let g = |k: &str| a.get(k).cloned().unwrap_or(Value::Null);
            t.push(json!({"account_id": s.account_id, "region": c.region,
                "alarm_name": g("AlarmName"), "metric_name": g("MetricName"),
                "namespace": g("Namespace"), "statistic": g("Statistic"), "period": g("Period"),
                "evaluation_periods": g("EvaluationPeriods"), "threshold": g("Threshold"),
                "comparison_operator": g("ComparisonOperator"),
                "actions_enabled": g("ActionsEnabled"), "alarm_actions": g("AlarmActions")}));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(calls: Value) -> Snapshot {
        let doc =
            json!({"format": super::super::FORMAT, "account_id": "111122223333", "calls": calls});
        Snapshot::parse(&doc.to_string(), "t.json").unwrap()
    }

    fn table<'a>(tables: &'a [FactTable], name: &str) -> &'a FactTable {
        tables.iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn absent_is_a_fact_and_not_captured_is_null() {
        let s = snap(json!([
            {"service":"s3","operation":"GetBucketPolicy","params":{"Bucket":"a"},
             "error":{"code":"NoSuchBucketPolicy","message":"none"}},
            {"service":"s3","operation":"GetBucketVersioning","params":{"Bucket":"a"},"response":{}},
            {"service":"s3","operation":"HeadBucket","params":{"Bucket":"b"},"error":{"code":"404"}},
            {"service":"s3","operation":"GetBucketLogging","params":{"Bucket":"c"},
             "error":{"code":"AccessDenied","message":"no"}},
        ]));
        let tables = fact_tables(&[s]);
        let b = &table(&tables, "buckets").rows;
        assert_eq!(b[0]["has_policy"], json!(false));
        assert_eq!(b[0]["versioning_status"], json!("Disabled"));
        assert!(b[0].get("object_lock_enabled").is_none());
        assert_eq!(b[1]["head_status"], json!("missing"));
        assert!(b[2].get("logging_enabled").is_none());
        assert_eq!(b[2]["errors"][0]["code"], json!("AccessDenied"));
    }

    #[test]
    fn selector_scope_is_derived() {
        let arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main";
        let s = snap(json!([
            {"service":"cloudtrail","operation":"GetEventSelectors","region":"us-east-1",
             "params":{"TrailName":"main"},
             "response":{"TrailARN":arn,"EventSelectors":[
                {"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[
                    {"Type":"AWS::S3::Object","Values":["arn:aws:s3","arn:aws:s3:::b/"]},
                    {"Type":"AWS::Lambda::Function","Values":["arn:aws:lambda"]}],
                 "ExcludeManagementEventSources":["kms.amazonaws.com"]}]}},
            {"service":"cloudtrail","operation":"GetEventSelectors","region":"us-east-1",
             "params":{"TrailName":"other"},
             "response":{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/other",
              "AdvancedEventSelectors":[
                {"Name":"all","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                    {"Field":"resources.type","Equals":["AWS::S3::Object"]}]},
                {"Name":"one","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                    {"Field":"resources.type","Equals":["AWS::S3::Object"]},
                    {"Field":"readOnly","Equals":["true"]},
                    {"Field":"resources.ARN","StartsWith":["arn:aws:s3:::secret/"]}]},
                {"Name":"some","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                    {"Field":"resources.type","Equals":["AWS::S3::Object"]},
                    {"Field":"eventName","Equals":["GetObject"]}]}]}},
        ]));
        let tables = fact_tables(&[s]);
        let rows = &table(&tables, "event_selectors").rows;
        assert_eq!(
            rows[0]["data_resource_types"],
            json!(["AWS::S3::Object", "AWS::Lambda::Function"])
        );
        assert_eq!(
            rows[0]["s3_object_prefixes"],
            json!(["arn:aws:s3:::", "arn:aws:s3:::b/"])
        );
        assert_eq!(
            rows[0]["narrowed_by"],
            json!(["ExcludeManagementEventSources"])
        );
        assert_eq!(rows[1]["s3_object_prefixes"], json!(["arn:aws:s3:::"]));
        assert_eq!(rows[1]["data_resource_types"], json!(["AWS::S3::Object"]));
        assert_eq!(
            rows[2]["s3_object_prefixes"],
            json!(["arn:aws:s3:::secret/"])
        );
        assert_eq!(rows[2]["read_write_type"], json!("ReadOnly"));
        assert_eq!(rows[3]["s3_object_prefixes"], json!([]));
        assert_eq!(rows[3]["narrowed_by"], json!(["eventName Equals"]));
    }

    #[test]
    fn shadow_trails_once_and_status_by_name() {
        let trail = json!({"Name":"main","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
            "IsMultiRegionTrail":true,"HomeRegion":"us-east-1",
            "CloudWatchLogsLogGroupArn":"arn:aws:logs:us-east-1:111122223333:log-group:ct:*"});
        let s = snap(json!([
            {"service":"cloudtrail","operation":"DescribeTrails","region":"us-east-1","response":{"trailList":[trail]}},
            {"service":"cloudtrail","operation":"DescribeTrails","region":"eu-west-1","response":{"trailList":[trail]}},
            {"service":"cloudtrail","operation":"GetTrailStatus","region":"us-east-1","params":{"Name":"main"},
             "response":{"IsLogging":false}},
        ]));
        let tables = fact_tables(&[s]);
        let trails = &table(&tables, "trails").rows;
        assert_eq!(trails.len(), 1);
        assert_eq!(trails[0]["cloud_watch_logs_log_group_name"], json!("ct"));
        let status = &table(&tables, "trail_status").rows;
        assert_eq!(status[0]["trail_arn"], trail["TrailARN"]);
    }
}
