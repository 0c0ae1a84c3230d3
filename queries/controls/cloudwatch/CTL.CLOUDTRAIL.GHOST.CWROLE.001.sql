-- A trail whose CloudWatch Logs role no longer exists cannot deliver to CloudWatch Logs, and
-- whoever re-creates the role name decides what it may do. Two ways (column check):
-- state: per trail with a CloudWatchLogsRoleArn, GetRole NoSuchEntity, or a complete
--   GetAccountAuthorizationDetails (not truncated, roles included) that does not list the role:
--   fail; GetRole answered or the role is listed: pass; neither captured, or the role is in
--   another account: inconclusive. Trails without a role pass (CWLOGS.001 reports them).
-- events: per archive account, every successful DeleteRole of a trail's CloudWatch Logs role
--   (named by a snapshot trail, or by CreateTrail/UpdateTrail in the archive), with its log file.
-- An account with no DescribeTrails answer (no snapshot, or trails not captured) gets an
-- inconclusive state row: its events alone cannot clear it.
WITH t AS (
  SELECT account_id, trail_arn, home_region,
         cloud_watch_logs_role_arn AS role_arn,
         split_part(cloud_watch_logs_role_arn, ':', 5) AS role_account,
         regexp_replace(cloud_watch_logs_role_arn, '^.*/', '') AS role_name
  FROM trails
),
roles AS (
  SELECT account_id, role_name, bool_or("exists") AS role_exists
  FROM iam_roles
  GROUP BY 1, 2
),
listed AS (
  SELECT account_id
  FROM snapshot_calls
  WHERE service = 'iam' AND operation = 'GetAccountAuthorizationDetails' AND error_code IS NULL
    AND NOT coalesce(json_get_bool(response, 'IsTruncated'), false)
    AND (json_get_json(params, 'Filter') IS NULL OR json_get_json(params, 'Filter') LIKE '%"Role"%')
  GROUP BY 1
),
state AS (
  SELECT CASE
           WHEN t.role_arn IS NULL THEN 'pass'
           WHEN t.role_account <> t.account_id THEN 'inconclusive'
           WHEN r.role_exists THEN 'pass'
           WHEN NOT r.role_exists THEN 'fail'
           WHEN l.account_id IS NOT NULL THEN 'fail'
           ELSE 'inconclusive'
         END AS status,
         t.trail_arn AS resource,
         t.account_id,
         t.home_region AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         t.role_arn AS cloud_watch_logs_role_arn,
         CASE
           WHEN t.role_arn IS NULL THEN 'none'
           WHEN t.role_account <> t.account_id THEN 'in another account: not checked'
           WHEN r.role_exists THEN 'exists'
           WHEN NOT r.role_exists THEN 'missing (GetRole: NoSuchEntity)'
           WHEN l.account_id IS NOT NULL THEN 'missing (not in GetAccountAuthorizationDetails)'
           ELSE 'not captured'
         END AS role_state,
         CAST(NULL AS VARCHAR) AS events
  FROM t
  LEFT JOIN roles r ON r.account_id = t.account_id AND r.role_name = t.role_name
  LEFT JOIN listed l ON l.account_id = t.account_id
),
-- Trail roles the evidence names, as (account, name).
named AS (
  SELECT DISTINCT split_part(arn, ':', 5) AS account_id, regexp_replace(arn, '^.*/', '') AS role_name
  FROM (
    SELECT cloud_watch_logs_role_arn AS arn FROM trails WHERE cloud_watch_logs_role_arn IS NOT NULL
    UNION ALL
    SELECT json_extract_scalar(requestparameters, '$.cloudWatchLogsRoleArn')
    FROM cloudtrail
    WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('CreateTrail', 'UpdateTrail')
      AND errorcode IS NULL AND json_extract_scalar(requestparameters, '$.cloudWatchLogsRoleArn') IS NOT NULL
  )
),
deleted AS (
  SELECT coalesce(c.recipientaccountid, c.account_id) AS account_id,
         min(c.eventtime) AS window_start,
         max(c.eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', c.eventtime,
                                           'role', json_extract_scalar(c.requestparameters, '$.roleName'),
                                           'principal', c.useridentity.arn, 'source_ip', c.sourceipaddress,
                                           'log_file', c.log_file))) AS events
  FROM cloudtrail c
  JOIN named n
    ON n.role_name = json_extract_scalar(c.requestparameters, '$.roleName')
   AND n.account_id = coalesce(c.recipientaccountid, c.account_id)
  WHERE c.eventsource = 'iam.amazonaws.com' AND c.eventname = 'DeleteRole' AND c.errorcode IS NULL
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
         CAST(NULL AS VARCHAR) AS cloud_watch_logs_role_arn,
         CAST(NULL AS VARCHAR) AS role_state,
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
         CAST(NULL AS VARCHAR) AS cloud_watch_logs_role_arn,
         'trails not captured (no DescribeTrails answer)' AS role_state,
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
