-- Global service events (IAM, STS, CloudFront, ...) reach only trails with
-- IncludeGlobalServiceEvents: without one that is also logging, changes to identities go
-- unrecorded. State, per account: pass when a logging trail includes them; fail when DescribeTrails
-- answered and none does on known facts; inconclusive when status was not captured.
-- Drift, per trail: each successful UpdateTrail that set includeGlobalServiceEvents=false.
WITH accounts AS (
  SELECT a.account_id, coalesce(bool_or(c.operation IS NOT NULL), false) AS trails_captured
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN snapshot_calls c
    ON c.account_id = a.account_id AND c.operation = 'DescribeTrails' AND c.error_code IS NULL
  GROUP BY a.account_id
),
verdicts AS (
  SELECT account_id,
         sum(CASE WHEN include_global_service_events AND is_logging THEN 1 ELSE 0 END) AS ok,
         sum(CASE WHEN (include_global_service_events AND is_logging) IS NULL THEN 1 ELSE 0 END) AS unknown,
         array_agg(named_struct('trail', trail_arn,
                                'include_global_service_events', include_global_service_events,
                                'is_logging', is_logging, 'multi_region', is_multi_region_trail)) AS trails
  FROM trail_facts
  GROUP BY account_id
),
state AS (
  SELECT CASE
           WHEN NOT a.trails_captured THEN 'inconclusive'
           WHEN coalesce(v.ok, 0) > 0 THEN 'pass'
           WHEN coalesce(v.unknown, 0) > 0 THEN 'inconclusive'
           ELSE 'fail'
         END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         a.trails_captured,
         to_json(v.trails) AS trails,
         CAST(NULL AS VARCHAR) AS events
  FROM accounts a
  LEFT JOIN verdicts v ON v.account_id = a.account_id
),
-- UpdateTrail calls that set the flag, their trail named by ARN (a bare name is resolved with the
-- call's region and account, as CloudTrail does).
updates AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         CASE WHEN json_extract_scalar(requestparameters, '$.name') LIKE 'arn:%'
              THEN json_extract_scalar(requestparameters, '$.name')
              ELSE 'arn:' || coalesce(nullif(split_part(useridentity.arn, ':', 2), ''), 'aws')
                   || ':cloudtrail:' || awsregion || ':' || coalesce(recipientaccountid, account_id)
                   || ':trail/' || json_extract_scalar(requestparameters, '$.name')
         END AS trail_arn,
         json_extract_scalar(requestparameters, '$.includeGlobalServiceEvents') AS include_global,
         eventtime, useridentity.arn AS principal, sourceipaddress, awsregion, log_file
  FROM cloudtrail
  WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname = 'UpdateTrail' AND errorcode IS NULL
    AND json_extract_scalar(requestparameters, '$.includeGlobalServiceEvents') IS NOT NULL
),
restored AS (
  SELECT account_id, trail_arn, max(eventtime) AS last_on
  FROM updates WHERE include_global = 'true'
  GROUP BY account_id, trail_arn
),
drift AS (
  SELECT u.account_id, u.trail_arn,
         min(u.eventtime) AS window_start, max(u.eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', u.eventtime, 'principal', u.principal,
                                           'source_ip', u.sourceipaddress, 'region', u.awsregion,
                                           'restored_later', coalesce(r.last_on > u.eventtime, false),
                                           'log_file', u.log_file))) AS events
  FROM updates u
  LEFT JOIN restored r ON r.account_id = u.account_id AND r.trail_arn = u.trail_arn
  WHERE u.include_global = 'false'
  GROUP BY u.account_id, u.trail_arn
),
drift_rows AS (
  SELECT 'fail' AS status, d.trail_arn AS resource, d.account_id,
         split_part(d.trail_arn, ':', 4) AS region,
         d.window_start, d.window_end, 'drift' AS check,
         CAST(NULL AS BOOLEAN) AS trails_captured,
         CAST(NULL AS VARCHAR) AS trails, to_json(d.events) AS events
  FROM drift d
),
quiet_rows AS (
  SELECT 'pass' AS status, 'account/' || a.account_id AS resource, a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         a.first_delivery AS window_start, a.last_delivery AS window_end, 'drift' AS check,
         CAST(NULL AS BOOLEAN) AS trails_captured,
         CAST(NULL AS VARCHAR) AS trails, CAST(NULL AS VARCHAR) AS events
  FROM archive_accounts a
  LEFT JOIN (SELECT DISTINCT account_id FROM drift) d ON d.account_id = a.account_id
  WHERE d.account_id IS NULL
)
SELECT * FROM state
UNION ALL
SELECT * FROM drift_rows
UNION ALL
SELECT * FROM quiet_rows
