//! CloudTrail: `DescribeTrails` per region, then each trail's status and selectors.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
use aws_sdk_cloudtrail::operation::get_insight_selectors::GetInsightSelectorsOutput;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, InsightSelector,
    Trail,
};
use serde_json::{Value, json};

use super::json::Obj;
use super::{Ctx, Outcome, Recorder, TrailRef, call_error};

const SERVICE: &str = "cloudtrail";

/// Asks every region for its trails (shadow trails included, as the CLI does by default), then
/// each distinct trail, by ARN in its home region, for status, event and insight selectors.
pub(super) async fn capture(
    ctx: &Ctx,
    rec: &mut Recorder<'_>,
    regions: &[String],
) -> Vec<TrailRef> {
    // Regions are independent: ask them together, record them in the order given.
    let answers = futures::future::join_all(regions.iter().map(|region| async move {
        let client = Client::new(&ctx.in_region(region));
        describe_trails(&client).await
    }))
    .await;
    let mut trails: Vec<TrailRef> = Vec::new();
    for (region, outcome) in regions.iter().zip(answers) {
        let params = json!({"includeShadowTrails": true});
        let Some(answer) = rec.record(SERVICE, "DescribeTrails", Some(region), params, outcome)
        else {
            continue;
        };
        for t in answer["trailList"].as_array().into_iter().flatten() {
            let text = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
            let Some(arn) = text("TrailARN") else {
                continue;
            };
            if trails.iter().any(|known| known.arn == arn) {
                continue;
            }
            trails.push(TrailRef {
                home_region: text("HomeRegion").unwrap_or_else(|| region.clone()),
                arn,
                bucket: text("S3BucketName"),
                log_group_arn: text("CloudWatchLogsLogGroupArn"),
                sns_topic_arn: text("SnsTopicARN"),
                role_arn: text("CloudWatchLogsRoleArn"),
            });
        }
    }
    for trail in &trails {
        let client = Client::new(&ctx.in_region(&trail.home_region));
        let (arn, region) = (trail.arn.as_str(), Some(trail.home_region.as_str()));
        let status = get_trail_status(&client, arn).await;
        rec.record(
            SERVICE,
            "GetTrailStatus",
            region,
            json!({"Name": arn}),
            status,
        );
        let selectors = get_event_selectors(&client, arn).await;
        let params = json!({"TrailName": arn});
        rec.record(SERVICE, "GetEventSelectors", region, params, selectors);
        let insights = get_insight_selectors(&client, arn).await;
        let params = json!({"TrailName": arn});
        rec.record(SERVICE, "GetInsightSelectors", region, params, insights);
    }
    rec.report(
        SERVICE,
        &format!("{} regions, {} trails", regions.len(), trails.len()),
    );
    trails
}

async fn describe_trails(client: &Client) -> Outcome {
    let out = client
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await;
    out.map(|o| describe_trails_json(&o))
        .map_err(|e| call_error(&e))
}

async fn get_trail_status(client: &Client, arn: &str) -> Outcome {
    let out = client.get_trail_status().name(arn).send().await;
    out.map(|o| trail_status_json(&o))
        .map_err(|e| call_error(&e))
}

async fn get_event_selectors(client: &Client, arn: &str) -> Outcome {
    let out = client.get_event_selectors().trail_name(arn).send().await;
    out.map(|o| event_selectors_json(&o))
        .map_err(|e| call_error(&e))
}

async fn get_insight_selectors(client: &Client, arn: &str) -> Outcome {
    let out = client.get_insight_selectors().trail_name(arn).send().await;
    out.map(|o| insight_selectors_json(&o))
        .map_err(|e| call_error(&e))
}

pub(crate) fn describe_trails_json(o: &DescribeTrailsOutput) -> Value {
    Obj::new()
        .list("trailList", o.trail_list.as_deref(), trail_json)
        .build()
}

// SnsTopicName is deprecated in the model but still sent, and printed by the CLI.
#[allow(deprecated)]
fn trail_json(t: &Trail) -> Value {
    Obj::new()
        .str("Name", t.name.as_deref())
        .str("S3BucketName", t.s3_bucket_name.as_deref())
        .str("S3KeyPrefix", t.s3_key_prefix.as_deref())
        .str("SnsTopicName", t.sns_topic_name.as_deref())
        .str("SnsTopicARN", t.sns_topic_arn.as_deref())
        .bool(
            "IncludeGlobalServiceEvents",
            t.include_global_service_events,
        )
        .bool("IsMultiRegionTrail", t.is_multi_region_trail)
        .str("HomeRegion", t.home_region.as_deref())
        .str("TrailARN", t.trail_arn.as_deref())
        .bool("LogFileValidationEnabled", t.log_file_validation_enabled)
        .str(
            "CloudWatchLogsLogGroupArn",
            t.cloud_watch_logs_log_group_arn.as_deref(),
        )
        .str(
            "CloudWatchLogsRoleArn",
            t.cloud_watch_logs_role_arn.as_deref(),
        )
        .str("KmsKeyId", t.kms_key_id.as_deref())
        .bool("HasCustomEventSelectors", t.has_custom_event_selectors)
        .bool("HasInsightSelectors", t.has_insight_selectors)
        .bool("IsOrganizationTrail", t.is_organization_trail)
        .build()
}

pub(crate) fn trail_status_json(o: &GetTrailStatusOutput) -> Value {
    Obj::new()
        .bool("IsLogging", o.is_logging)
        .str("LatestDeliveryError", o.latest_delivery_error.as_deref())
        .str(
            "LatestNotificationError",
            o.latest_notification_error.as_deref(),
        )
        .time("LatestDeliveryTime", o.latest_delivery_time.as_ref())
        .time(
            "LatestNotificationTime",
            o.latest_notification_time.as_ref(),
        )
        .time("StartLoggingTime", o.start_logging_time.as_ref())
        .time("StopLoggingTime", o.stop_logging_time.as_ref())
        .str(
            "LatestCloudWatchLogsDeliveryError",
            o.latest_cloud_watch_logs_delivery_error.as_deref(),
        )
        .time(
            "LatestCloudWatchLogsDeliveryTime",
            o.latest_cloud_watch_logs_delivery_time.as_ref(),
        )
        .time(
            "LatestDigestDeliveryTime",
            o.latest_digest_delivery_time.as_ref(),
        )
        .str(
            "LatestDigestDeliveryError",
            o.latest_digest_delivery_error.as_deref(),
        )
        .str(
            "LatestDeliveryAttemptTime",
            o.latest_delivery_attempt_time.as_deref(),
        )
        .str(
            "LatestNotificationAttemptTime",
            o.latest_notification_attempt_time.as_deref(),
        )
        .str(
            "LatestNotificationAttemptSucceeded",
            o.latest_notification_attempt_succeeded.as_deref(),
        )
        .str(
            "LatestDeliveryAttemptSucceeded",
            o.latest_delivery_attempt_succeeded.as_deref(),
        )
        .str("TimeLoggingStarted", o.time_logging_started.as_deref())
        .str("TimeLoggingStopped", o.time_logging_stopped.as_deref())
        .build()
}

pub(crate) fn event_selectors_json(o: &GetEventSelectorsOutput) -> Value {
    Obj::new()
        .str("TrailARN", o.trail_arn.as_deref())
        .list(
            "EventSelectors",
            o.event_selectors.as_deref(),
            event_selector_json,
        )
        .list(
            "AdvancedEventSelectors",
            o.advanced_event_selectors.as_deref(),
            advanced_selector_json,
        )
        .build()
}

fn event_selector_json(s: &EventSelector) -> Value {
    Obj::new()
        .enm("ReadWriteType", s.read_write_type.as_ref())
        .bool("IncludeManagementEvents", s.include_management_events)
        .list(
            "DataResources",
            s.data_resources.as_deref(),
            data_resource_json,
        )
        .strs(
            "ExcludeManagementEventSources",
            s.exclude_management_event_sources.as_deref(),
        )
        .build()
}

fn data_resource_json(d: &DataResource) -> Value {
    Obj::new()
        .str("Type", d.r#type.as_deref())
        .strs("Values", d.values.as_deref())
        .build()
}

fn advanced_selector_json(s: &AdvancedEventSelector) -> Value {
    Obj::new()
        .str("Name", s.name.as_deref())
        .list(
            "FieldSelectors",
            Some(&s.field_selectors),
            field_selector_json,
        )
        .build()
}

fn field_selector_json(f: &AdvancedFieldSelector) -> Value {
    Obj::new()
        .str("Field", Some(&f.field))
        .strs("Equals", f.equals.as_deref())
        .strs("StartsWith", f.starts_with.as_deref())
        .strs("EndsWith", f.ends_with.as_deref())
        .strs("NotEquals", f.not_equals.as_deref())
        .strs("NotStartsWith", f.not_starts_with.as_deref())
        .strs("NotEndsWith", f.not_ends_with.as_deref())
        .build()
}

pub(crate) fn insight_selectors_json(o: &GetInsightSelectorsOutput) -> Value {
    Obj::new()
        .str("TrailARN", o.trail_arn.as_deref())
        .list(
            "InsightSelectors",
            o.insight_selectors.as_deref(),
            insight_selector_json,
        )
        .str("EventDataStoreArn", o.event_data_store_arn.as_deref())
        .str("InsightsDestination", o.insights_destination.as_deref())
        .build()
}

fn insight_selector_json(s: &InsightSelector) -> Value {
    let categories = s
        .event_categories
        .as_ref()
        .map(|c| c.iter().map(|c| json!(c.as_str())).collect());
    Obj::new()
        .enm("InsightType", s.insight_type.as_ref())
        .val("EventCategories", categories.map(Value::Array))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::types::ReadWriteType;

    const ARN: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main";

    #[test]
    fn describe_trails_as_the_cli_prints_it() {
        let trail = Trail::builder()
            .name("main")
            .s3_bucket_name("ct-logs")
            .is_multi_region_trail(true)
            .include_global_service_events(true)
            .home_region("us-east-1")
            .trail_arn(ARN)
            .log_file_validation_enabled(true)
            .cloud_watch_logs_log_group_arn("arn:aws:logs:us-east-1:111122223333:log-group:ct:*")
            .has_custom_event_selectors(false)
            .is_organization_trail(false)
            .build();
        let out = DescribeTrailsOutput::builder().trail_list(trail).build();
        assert_eq!(
            describe_trails_json(&out),
            json!({"trailList": [{
                "Name": "main", "S3BucketName": "ct-logs", "IsMultiRegionTrail": true,
                "IncludeGlobalServiceEvents": true, "HomeRegion": "us-east-1", "TrailARN": ARN,
                "LogFileValidationEnabled": true,
                "CloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:111122223333:log-group:ct:*",
                "HasCustomEventSelectors": false, "IsOrganizationTrail": false}]})
        );
        // No trails at all: the CLI prints an empty list.
        let none = DescribeTrailsOutput::builder()
            .set_trail_list(Some(vec![]))
            .build();
        assert_eq!(describe_trails_json(&none), json!({"trailList": []}));
    }

    #[test]
    fn event_selectors_classic_and_advanced() {
        let classic = EventSelector::builder()
            .read_write_type(ReadWriteType::All)
            .include_management_events(true)
            .set_data_resources(Some(vec![
                DataResource::builder()
                    .r#type("AWS::S3::Object")
                    .values("arn:aws:s3")
                    .build(),
            ]))
            .set_exclude_management_event_sources(Some(vec![]))
            .build();
        let advanced = AdvancedEventSelector::builder()
            .name("Log all S3 writes except one bucket")
            .field_selectors(
                AdvancedFieldSelector::builder()
                    .field("eventCategory")
                    .equals("Data")
                    .build()
                    .unwrap(),
            )
            .field_selectors(
                AdvancedFieldSelector::builder()
                    .field("resources.ARN")
                    .not_starts_with("arn:aws:s3:::ct-logs/")
                    .ends_with(".gz")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let out = GetEventSelectorsOutput::builder()
            .trail_arn(ARN)
            .event_selectors(classic)
            .advanced_event_selectors(advanced)
            .build();
        assert_eq!(
            event_selectors_json(&out),
            json!({"TrailARN": ARN,
                "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true,
                    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
                    "ExcludeManagementEventSources": []}],
                "AdvancedEventSelectors": [{"Name": "Log all S3 writes except one bucket",
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Data"]},
                        {"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::ct-logs/"],
                         "EndsWith": [".gz"]}]}]})
        );
    }

    #[test]
    fn trail_status_times_are_iso() {
        use aws_sdk_cloudtrail::primitives::DateTime;
        let out = GetTrailStatusOutput::builder()
            .is_logging(false)
            .stop_logging_time(DateTime::from_secs(1_780_000_000))
            .build();
        assert_eq!(
            trail_status_json(&out),
            json!({"IsLogging": false, "StopLoggingTime": "2026-05-28T20:26:40+00:00"})
        );
    }
}
