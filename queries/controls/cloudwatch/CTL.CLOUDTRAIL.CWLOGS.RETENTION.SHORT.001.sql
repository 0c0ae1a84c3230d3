-- A trail's CloudWatch Logs group must keep events at least required_retention_days: fails when
-- the group's retentionInDays is set and shorter (NULL = never expires = pass). No log group
-- configured, or a group that no longer exists (GHOST.CWLOGS.001 reports it): nothing here
-- expires early (pass, said in the evidence). Group not captured: inconclusive.
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
SELECT CASE
         WHEN group_state = 'not captured' THEN 'inconclusive'
         WHEN group_state = 'exists' AND retention_in_days < ${required_retention_days} THEN 'fail'
         ELSE 'pass'
       END AS status,
       trail_arn AS resource,
       account_id,
       home_region AS region,
       group_arn AS log_group_arn,
       group_state AS log_group_state,
       retention_in_days,
       ${required_retention_days} AS required_retention_days
FROM lg
