-- A trail pointing at a CloudWatch Logs group that no longer exists delivers nothing there, and
-- every metric filter and alarm on it is blind. Two ways, each its own rows (column check):
-- state: per trail with a log group ARN, a complete DescribeLogGroups answer for the group's
--   account and region that does not list it: fail; listed: pass; not captured (or the group
--   is in another account): inconclusive. Trails without a log group pass (CWLOGS.001 reports).
-- events: per archive account, every successful DeleteLogGroup of a trail's log group (named by
--   a snapshot trail, or by CreateTrail/UpdateTrail in the archive), with its log file.
-- An account with no DescribeTrails answer (no snapshot, or trails not captured) gets an
-- inconclusive state row: its events alone cannot clear it.
WITH t AS (
  SELECT account_id, trail_arn, home_region,
         cloud_watch_logs_log_group_arn AS group_arn,
         cloud_watch_logs_log_group_name AS group_name,
         split_part(cloud_watch_logs_log_group_arn, ':', 4) AS group_region,
         split_part(cloud_watch_logs_log_group_arn, ':', 5) AS group_account
  FROM trails
),
-- Successful DescribeLogGroups answers that would have listed the trail's group (its account
-- and region, a name prefix/pattern that admits it, no further page).
looked AS (
  SELECT t.account_id, t.trail_arn
  FROM t
  JOIN snapshot_calls c
    ON c.account_id = t.account_id AND c.region = t.group_region
   AND c.service = 'logs' AND c.operation = 'DescribeLogGroups' AND c.error_code IS NULL
  WHERE t.group_account = t.account_id
    AND (json_get_str(c.params, 'logGroupNamePrefix') IS NULL
         OR starts_with(t.group_name, json_get_str(c.params, 'logGroupNamePrefix')))
    AND (json_get_str(c.params, 'logGroupNamePattern') IS NULL
         OR strpos(lower(t.group_name), lower(json_get_str(c.params, 'logGroupNamePattern'))) > 0)
    AND json_get_str(c.response, 'nextToken') IS NULL
  GROUP BY 1, 2
),
groups AS (
  SELECT t.account_id, t.trail_arn,
         max(g.arn) AS found_arn,
         max(g.retention_in_days) AS retention_in_days,
         max(g.kms_key_id) AS kms_key_id
  FROM t
  JOIN log_groups g ON g.account_id = t.account_id AND g.region = t.group_region AND g.log_group_name = t.group_name
  GROUP BY 1, 2
),
lg AS (
  SELECT t.*,
         CASE
           WHEN t.group_arn IS NULL THEN 'none'
           WHEN g.trail_arn IS NOT NULL THEN 'exists'
           WHEN l.trail_arn IS NOT NULL THEN 'missing'
           ELSE 'not captured'
         END AS group_state,
         g.retention_in_days,
         g.kms_key_id
  FROM t
  LEFT JOIN groups g ON g.account_id = t.account_id AND g.trail_arn = t.trail_arn
  LEFT JOIN looked l ON l.account_id = t.account_id AND l.trail_arn = t.trail_arn
)
,
state AS (
  SELECT CASE group_state WHEN 'missing' THEN 'fail' WHEN 'not captured' THEN 'inconclusive' ELSE 'pass' END AS status,
         trail_arn AS resource,
         account_id,
         home_region AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         group_arn AS log_group_arn,
         group_state AS log_group_state,
         CAST(NULL AS VARCHAR) AS events
  FROM lg
),
-- Trail log groups the evidence names, as (account, region, name).
named AS (
  SELECT DISTINCT split_part(arn, ':', 5) AS account_id, split_part(arn, ':', 4) AS region,
                  split_part(arn, ':', 7) AS group_name
  FROM (
    SELECT cloud_watch_logs_log_group_arn AS arn FROM trails WHERE cloud_watch_logs_log_group_arn IS NOT NULL
    UNION ALL
    SELECT json_extract_scalar(requestparameters, '$.cloudWatchLogsLogGroupArn')
    FROM cloudtrail
    WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('CreateTrail', 'UpdateTrail')
      AND errorcode IS NULL AND json_extract_scalar(requestparameters, '$.cloudWatchLogsLogGroupArn') IS NOT NULL
  )
),
deleted AS (
  SELECT coalesce(c.recipientaccountid, c.account_id) AS account_id,
         min(c.eventtime) AS window_start,
         max(c.eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', c.eventtime,
                                           'log_group', json_extract_scalar(c.requestparameters, '$.logGroupName'),
                                           'principal', c.useridentity.arn, 'source_ip', c.sourceipaddress,
                                           'region', c.awsregion, 'log_file', c.log_file))) AS events
  FROM cloudtrail c
  JOIN named n
    ON n.group_name = json_extract_scalar(c.requestparameters, '$.logGroupName')
   AND n.account_id = coalesce(c.recipientaccountid, c.account_id)
   AND n.region = c.awsregion
  WHERE c.eventsource = 'logs.amazonaws.com' AND c.eventname = 'DeleteLogGroup' AND c.errorcode IS NULL
  GROUP BY 1
),
events AS (
  SELECT CASE WHEN d.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(d.window_start, a.first_delivery) AS window_start,
         coalesce(d.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CAST(NULL AS VARCHAR) AS log_group_arn,
         CAST(NULL AS VARCHAR) AS log_group_state,
         to_json(d.events) AS events
  FROM archive_accounts a
  LEFT JOIN deleted d ON d.account_id = a.account_id
),
uncaptured AS (
  -- Accounts of the snapshots or the archive with no DescribeTrails answer: the state part
  -- could not be evaluated there, whatever the events say.
  SELECT 'inconclusive' AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         CAST(NULL AS VARCHAR) AS log_group_arn,
         'trails not captured (no DescribeTrails answer)' AS log_group_state,
         CAST(NULL AS VARCHAR) AS events
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN (SELECT DISTINCT account_id FROM snapshot_calls
             WHERE service = 'cloudtrail' AND operation = 'DescribeTrails' AND error_code IS NULL) d
    ON d.account_id = a.account_id
  WHERE d.account_id IS NULL
)
SELECT * FROM state
UNION ALL
SELECT * FROM events
UNION ALL
SELECT * FROM uncaptured
