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

mod trails;
use trails::{event_selectors, insight_selectors, trail_status, trails};

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
mod tests;
