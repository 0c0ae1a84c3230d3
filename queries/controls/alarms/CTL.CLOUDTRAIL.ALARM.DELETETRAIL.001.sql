-- DeleteTrail ends logging for good (and takes the trail's configuration with it), so it must
-- raise an alarm, and any successful DeleteTrail in the archive is a finding. Two ways:
-- (a) state: some alarmed metric filter on a logging multi-region trail's log group matches a
--     DeleteTrail event (tested with cwl_filter_matches, so any spelling or superset counts);
-- (b) events: every successful DeleteTrail in the archive, with the log file it came from.
WITH sample(event) AS (
  VALUES ('{"eventVersion":"1.11","eventSource":"cloudtrail.amazonaws.com","eventName":"DeleteTrail","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"name":"trail"}}')
),
covering AS (
  SELECT f.account_id, array_agg(f.filter_name || ' -> ' || f.alarm_name) AS alarms
  FROM alarmed_metric_filters f CROSS JOIN sample s
  WHERE cwl_filter_matches(f.filter_pattern, s.event)
  GROUP BY f.account_id
),
state AS (
  SELECT CASE
           WHEN NOT (c.trails_captured AND c.filters_captured AND c.alarms_captured) THEN 'inconclusive'
           WHEN v.account_id IS NOT NULL THEN 'pass'
           ELSE 'fail'
         END AS status,
         'account/' || c.account_id AS resource,
         c.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'alarm' AS check,
         to_json(v.alarms) AS alarms,
         CAST(NULL AS VARCHAR) AS events
  FROM alarm_facts_captured c
  LEFT JOIN covering v ON v.account_id = c.account_id
),
deletions AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         min(eventtime) AS window_start,
         max(eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', eventtime, 'trail', json_extract_scalar(requestparameters, '$.name'),
                                           'principal', useridentity.arn, 'source_ip', sourceipaddress,
                                           'region', awsregion, 'log_file', log_file))) AS events
  FROM cloudtrail
  WHERE eventname = 'DeleteTrail' AND eventsource = 'cloudtrail.amazonaws.com' AND errorcode IS NULL
  GROUP BY coalesce(recipientaccountid, account_id)
),
activity AS (
  SELECT CASE WHEN d.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(d.window_start, a.first_delivery) AS window_start,
         coalesce(d.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CAST(NULL AS VARCHAR) AS alarms,
         to_json(d.events) AS events
  FROM archive_accounts a
  LEFT JOIN deletions d ON d.account_id = a.account_id
)
SELECT * FROM state
UNION ALL
SELECT * FROM activity
