//! CloudWatch Logs: each trail log group and its metric filters, in the group's region.

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::{LogGroup, MetricFilter, MetricTransformation};
use serde_json::{Value, json};

use super::json::Obj;
use super::{Ctx, Outcome, Recorder, arn_parts, call_error};

const SERVICE: &str = "logs";

/// `DescribeLogGroups` by name prefix and `DescribeMetricFilters` by name for each log group
/// ARN (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`); returns the regions asked, in order.
pub(super) async fn capture(
    ctx: &Ctx,
    rec: &mut Recorder<'_>,
    group_arns: &[String],
) -> Vec<String> {
    let mut regions: Vec<String> = Vec::new();
    for arn in group_arns {
        let Some((region, _, resource)) = arn_parts(arn) else {
            continue;
        };
        // `log-group:NAME` or `log-group:NAME:*`
        let Some(name) = resource.strip_prefix("log-group:") else {
            continue;
        };
        let name = name.strip_suffix(":*").unwrap_or(name);
        if region.is_empty() || name.is_empty() {
            continue;
        }
        if !regions.iter().any(|r| r == region) {
            regions.push(region.to_string());
        }
        let client = Client::new(&ctx.in_region(region));
        let groups = describe_log_groups(&client, name).await;
        let params = json!({"logGroupNamePrefix": name});
        rec.record(SERVICE, "DescribeLogGroups", Some(region), params, groups);
        let filters = describe_metric_filters(&client, name).await;
        let params = json!({"logGroupName": name});
        rec.record(
            SERVICE,
            "DescribeMetricFilters",
            Some(region),
            params,
            filters,
        );
    }
    rec.report(SERVICE, &format!("{} trail log groups", group_arns.len()));
    regions
}

/// All pages merged, as the CLI's automatic pagination prints them.
async fn describe_log_groups(client: &Client, prefix: &str) -> Outcome {
    let mut groups = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        groups.extend(page.log_groups().iter().map(log_group_json));
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(json!({"logGroups": groups}))
}

async fn describe_metric_filters(client: &Client, group: &str) -> Outcome {
    let mut filters = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_metric_filters()
            .log_group_name(group)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        filters.extend(page.metric_filters().iter().map(metric_filter_json));
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(json!({"metricFilters": filters}))
}

pub(crate) fn log_group_json(g: &LogGroup) -> Value {
    Obj::new()
        .str("logGroupName", g.log_group_name.as_deref())
        .int("creationTime", g.creation_time)
        .int("retentionInDays", g.retention_in_days)
        .int("metricFilterCount", g.metric_filter_count)
        .str("arn", g.arn.as_deref())
        .int("storedBytes", g.stored_bytes)
        .str("kmsKeyId", g.kms_key_id.as_deref())
        .enm("dataProtectionStatus", g.data_protection_status.as_ref())
        .enm("logGroupClass", g.log_group_class.as_ref())
        .str("logGroupArn", g.log_group_arn.as_deref())
        .bool("deletionProtectionEnabled", g.deletion_protection_enabled)
        .build()
}

pub(crate) fn metric_filter_json(f: &MetricFilter) -> Value {
    Obj::new()
        .str("filterName", f.filter_name.as_deref())
        .str("filterPattern", f.filter_pattern.as_deref())
        .list(
            "metricTransformations",
            f.metric_transformations.as_deref(),
            transformation_json,
        )
        .int("creationTime", f.creation_time)
        .str("logGroupName", f.log_group_name.as_deref())
        .bool("applyOnTransformedLogs", Some(f.apply_on_transformed_logs))
        .build()
}

fn transformation_json(m: &MetricTransformation) -> Value {
    let dimensions = m.dimensions.as_ref().map(|d| {
        let sorted: std::collections::BTreeMap<_, _> = d.iter().collect();
        json!(sorted)
    });
    Obj::new()
        .str("metricName", Some(&m.metric_name))
        .str("metricNamespace", Some(&m.metric_namespace))
        .str("metricValue", Some(&m.metric_value))
        .num("defaultValue", m.default_value)
        .val("dimensions", dimensions)
        .enm("unit", m.unit.as_ref())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_filters_in_camel_case() {
        let f = MetricFilter::builder()
            .filter_name("stop-logging")
            .filter_pattern("{ ($.eventName = StopLogging) }")
            .log_group_name("ct")
            .creation_time(1_780_000_000_000)
            .metric_transformations(
                MetricTransformation::builder()
                    .metric_name("StopLogging")
                    .metric_namespace("CIS")
                    .metric_value("1")
                    .build()
                    .unwrap(),
            )
            .build();
        assert_eq!(
            metric_filter_json(&f),
            json!({"filterName": "stop-logging", "filterPattern": "{ ($.eventName = StopLogging) }",
                "logGroupName": "ct", "creationTime": 1_780_000_000_000i64,
                "applyOnTransformedLogs": false,
                "metricTransformations": [{"metricName": "StopLogging", "metricNamespace": "CIS",
                    "metricValue": "1"}]})
        );
    }
}
