//! The trail tables: trails, their status, event selectors and insight selectors.

use super::*;

pub(super) fn trails(snapshots: &[Snapshot]) -> FactTable {
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

pub(super) fn trail_status(snapshots: &[Snapshot]) -> FactTable {
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

pub(super) fn event_selectors(snapshots: &[Snapshot]) -> FactTable {
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

pub(super) fn insight_selectors(snapshots: &[Snapshot]) -> FactTable {
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
