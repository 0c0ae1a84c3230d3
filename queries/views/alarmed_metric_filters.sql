-- Metric filters that would raise an alarm: on the CloudWatch Logs group of a trail that is
-- logging and multi-region, with an alarm on the filter's metric (same name and namespace, same
-- region). Alarm controls test `cwl_filter_matches(filter_pattern, <sample event>)` against these.
SELECT t.account_id,
       t.trail_arn,
       mf.region,
       mf.log_group_name,
       mf.filter_name,
       mf.filter_pattern,
       mf.metric_name,
       mf.metric_namespace,
       a.alarm_name,
       a.threshold,
       a.period,
       a.evaluation_periods,
       a.comparison_operator,
       a.actions_enabled,
       a.alarm_actions
FROM trail_facts t
JOIN metric_filters mf
  ON mf.account_id = t.account_id
 AND mf.log_group_name = t.cloud_watch_logs_log_group_name
 AND mf.region = split_part(t.cloud_watch_logs_log_group_arn, ':', 4)
JOIN alarms a
  ON a.account_id = mf.account_id
 AND a.region = mf.region
 AND a.metric_name = mf.metric_name
 AND a.namespace = mf.metric_namespace
WHERE t.is_logging AND t.is_multi_region_trail
