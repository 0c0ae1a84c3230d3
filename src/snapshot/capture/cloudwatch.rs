//! CloudWatch: the alarms of each region that holds a trail log group.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, MetricAlarm, MetricDataQuery};
use serde_json::{Value, json};

use super::json::Obj;
use super::{Ctx, Outcome, Recorder, call_error};

const SERVICE: &str = "cloudwatch";

/// `DescribeAlarms {}` per region, all pages merged.
pub(super) async fn capture(ctx: &Ctx, rec: &mut Recorder<'_>, regions: &[String]) {
    for region in regions {
        let client = Client::new(&ctx.in_region(region));
        let alarms = describe_alarms(&client).await;
        rec.record(SERVICE, "DescribeAlarms", Some(region), json!({}), alarms);
    }
    rec.report(SERVICE, &format!("{} regions", regions.len()));
}

async fn describe_alarms(client: &Client) -> Outcome {
    let mut alarms = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_alarms()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        alarms.extend(page.metric_alarms().iter().map(metric_alarm_json));
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(json!({"MetricAlarms": alarms}))
}

pub(crate) fn metric_alarm_json(a: &MetricAlarm) -> Value {
    Obj::new()
        .str("AlarmName", a.alarm_name.as_deref())
        .str("AlarmArn", a.alarm_arn.as_deref())
        .str("AlarmDescription", a.alarm_description.as_deref())
        .time(
            "AlarmConfigurationUpdatedTimestamp",
            a.alarm_configuration_updated_timestamp.as_ref(),
        )
        .bool("ActionsEnabled", a.actions_enabled)
        .strs("OKActions", a.ok_actions.as_deref())
        .strs("AlarmActions", a.alarm_actions.as_deref())
        .strs(
            "InsufficientDataActions",
            a.insufficient_data_actions.as_deref(),
        )
        .enm("StateValue", a.state_value.as_ref())
        .str("StateReason", a.state_reason.as_deref())
        .str("StateReasonData", a.state_reason_data.as_deref())
        .time("StateUpdatedTimestamp", a.state_updated_timestamp.as_ref())
        .str("MetricName", a.metric_name.as_deref())
        .str("Namespace", a.namespace.as_deref())
        .enm("Statistic", a.statistic.as_ref())
        .str("ExtendedStatistic", a.extended_statistic.as_deref())
        .list("Dimensions", a.dimensions.as_deref(), dimension_json)
        .int("Period", a.period)
        .enm("Unit", a.unit.as_ref())
        .int("EvaluationPeriods", a.evaluation_periods)
        .int("DatapointsToAlarm", a.datapoints_to_alarm)
        .num("Threshold", a.threshold)
        .enm("ComparisonOperator", a.comparison_operator.as_ref())
        .str("TreatMissingData", a.treat_missing_data.as_deref())
        .str(
            "EvaluateLowSampleCountPercentile",
            a.evaluate_low_sample_count_percentile.as_deref(),
        )
        .list("Metrics", a.metrics.as_deref(), metric_query_json)
        .str("ThresholdMetricId", a.threshold_metric_id.as_deref())
        .enm("EvaluationState", a.evaluation_state.as_ref())
        .time(
            "StateTransitionedTimestamp",
            a.state_transitioned_timestamp.as_ref(),
        )
        .build()
}

fn dimension_json(d: &Dimension) -> Value {
    Obj::new()
        .str("Name", d.name.as_deref())
        .str("Value", d.value.as_deref())
        .build()
}

fn metric_query_json(q: &MetricDataQuery) -> Value {
    let stat = q.metric_stat.as_ref().map(|s| {
        let metric = s.metric.as_ref().map(|m| {
            Obj::new()
                .str("Namespace", m.namespace.as_deref())
                .str("MetricName", m.metric_name.as_deref())
                .list("Dimensions", m.dimensions.as_deref(), dimension_json)
                .build()
        });
        Obj::new()
            .val("Metric", metric)
            .int("Period", s.period)
            .str("Stat", s.stat.as_deref())
            .enm("Unit", s.unit.as_ref())
            .build()
    });
    Obj::new()
        .str("Id", q.id.as_deref())
        .val("MetricStat", stat)
        .str("Expression", q.expression.as_deref())
        .str("Label", q.label.as_deref())
        .bool("ReturnData", q.return_data)
        .int("Period", q.period)
        .str("AccountId", q.account_id.as_deref())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};

    #[test]
    fn alarms_keep_numbers_and_enums() {
        let alarm = MetricAlarm::builder()
            .alarm_name("stop-logging")
            .metric_name("StopLogging")
            .namespace("CIS")
            .statistic(Statistic::Sum)
            .period(300)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .actions_enabled(true)
            .alarm_actions("arn:aws:sns:us-east-1:111122223333:alerts")
            .build();
        assert_eq!(
            metric_alarm_json(&alarm),
            json!({"AlarmName": "stop-logging", "MetricName": "StopLogging", "Namespace": "CIS",
                "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1.0,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", "ActionsEnabled": true,
                "AlarmActions": ["arn:aws:sns:us-east-1:111122223333:alerts"]})
        );
    }
}
