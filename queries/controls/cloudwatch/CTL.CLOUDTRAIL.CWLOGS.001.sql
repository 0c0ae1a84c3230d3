-- Each trail must deliver to CloudWatch Logs, where metric filters and alarms can watch it:
-- fails when the trail has no log group, when GetTrailStatus reports a CloudWatch Logs delivery
-- error, or when its last CloudWatch Logs delivery is more than 24 hours older than the snapshot
-- (or never happened). Inconclusive when the trail status or the snapshot time is missing.
WITH captured AS (
  SELECT account_id, max(captured_at) AS captured_at FROM snapshots GROUP BY account_id
)
SELECT CASE
         WHEN t.cloud_watch_logs_log_group_arn IS NULL THEN 'fail'
         WHEN t.is_logging IS NULL THEN 'inconclusive'
         WHEN t.latest_cloud_watch_logs_delivery_error IS NOT NULL THEN 'fail'
         WHEN c.captured_at IS NULL THEN 'inconclusive'
         WHEN t.latest_cloud_watch_logs_delivery_time IS NULL THEN 'fail'
         WHEN c.captured_at - t.latest_cloud_watch_logs_delivery_time > INTERVAL '24 hours' THEN 'fail'
         ELSE 'pass'
       END AS status,
       t.trail_arn AS resource,
       t.account_id,
       t.home_region AS region,
       CASE
         WHEN t.cloud_watch_logs_log_group_arn IS NULL THEN 'no CloudWatch Logs log group on the trail'
         WHEN t.is_logging IS NULL THEN 'trail status not captured'
         WHEN t.latest_cloud_watch_logs_delivery_error IS NOT NULL THEN 'CloudWatch Logs delivery error'
         WHEN c.captured_at IS NULL THEN 'snapshot time unknown'
         WHEN t.latest_cloud_watch_logs_delivery_time IS NULL THEN 'no CloudWatch Logs delivery reported'
         WHEN c.captured_at - t.latest_cloud_watch_logs_delivery_time > INTERVAL '24 hours' THEN 'last CloudWatch Logs delivery more than 24 hours before the snapshot'
       END AS finding,
       t.cloud_watch_logs_log_group_arn,
       t.cloud_watch_logs_role_arn,
       t.is_logging,
       t.latest_cloud_watch_logs_delivery_time,
       t.latest_cloud_watch_logs_delivery_error,
       c.captured_at
FROM trail_facts t
LEFT JOIN captured c ON c.account_id = t.account_id
