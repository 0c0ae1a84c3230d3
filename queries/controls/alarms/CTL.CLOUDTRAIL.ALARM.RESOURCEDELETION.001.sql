-- Bulk deletion: five destructive calls in ten minutes is how ransomware and angry insiders look.
-- (a) state: an alarmed metric filter on a delivering trail's log group matches every
--     destructive call below, and its alarm needs no more than ${bulk_delete_threshold} of them;
-- (b) events: per account across regions, sliding windows holding >= ${bulk_delete_threshold}
--     successful destructive calls within ${bulk_delete_window}, overlapping windows merged, each
--     with its calls (and log files), services and principals; the fixed bins a CloudWatch alarm
--     would have used (date_bin) are listed too, since a burst across a bin edge fools the alarm.
WITH sample(name, event) AS (
  VALUES ('DeleteDBInstance', '{"eventSource":"rds.amazonaws.com","eventName":"DeleteDBInstance"}'),
         ('TerminateInstances', '{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances"}'),
         ('DeleteFunction', '{"eventSource":"lambda.amazonaws.com","eventName":"DeleteFunction20150331"}'),
         ('DeleteTopic', '{"eventSource":"sns.amazonaws.com","eventName":"DeleteTopic"}'),
         ('DeleteQueue', '{"eventSource":"sqs.amazonaws.com","eventName":"DeleteQueue"}'),
         ('PurgeQueue', '{"eventSource":"sqs.amazonaws.com","eventName":"PurgeQueue"}'),
         ('DeleteBucket', '{"eventSource":"s3.amazonaws.com","eventName":"DeleteBucket"}'),
         ('ScheduleKeyDeletion', '{"eventSource":"kms.amazonaws.com","eventName":"ScheduleKeyDeletion"}')
),
covering AS (
  SELECT f.account_id, f.filter_name, f.alarm_name
  FROM alarmed_metric_filters f CROSS JOIN sample s
  WHERE cwl_filter_matches(f.filter_pattern, s.event) AND f.threshold <= ${bulk_delete_threshold}
  GROUP BY f.account_id, f.filter_name, f.alarm_name
  HAVING count(DISTINCT s.name) = (SELECT count(*) FROM sample)
),
covered AS (
  SELECT account_id, to_json(array_agg(filter_name || ' -> ' || alarm_name)) AS alarms
  FROM covering GROUP BY account_id
),
state AS (
  SELECT CASE
           WHEN NOT (c.trails_captured AND c.filters_captured AND c.alarms_captured) THEN 'inconclusive'
           WHEN v.account_id IS NOT NULL THEN 'pass'
           ELSE 'fail'
         END AS status,
         'account/' || c.account_id AS resource,
         c.account_id,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'alarm' AS check,
         v.alarms,
         CAST(NULL AS BIGINT) AS calls,
         CAST(NULL AS VARCHAR) AS events,
         CAST(NULL AS VARCHAR) AS alarm_bins
  FROM alarm_facts_captured c
  LEFT JOIN covered v ON v.account_id = c.account_id
),
calls AS (
  -- A record delivered twice counts once here (both copies stay visible in `cloudtrail`).
  SELECT coalesce(recipientaccountid, account_id) AS account_id, eventtime, eventid, eventname,
         eventsource, awsregion, useridentity.arn AS principal, sourceipaddress AS source_ip,
         min(log_file) AS log_file
  FROM cloudtrail
  WHERE errorcode IS NULL
    AND (eventname IN ('DeleteDBInstance', 'TerminateInstances', 'DeleteTopic', 'DeleteQueue',
                       'PurgeQueue', 'DeleteBucket', 'ScheduleKeyDeletion')
         OR eventname LIKE 'DeleteFunction%')
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
),
reach AS (
  -- From each call: how many calls, and the last one, within the window that starts there.
  SELECT account_id, eventtime AS ws,
         count(*) OVER (PARTITION BY account_id ORDER BY eventtime
                        RANGE BETWEEN CURRENT ROW AND ${bulk_delete_window} FOLLOWING) AS n,
         max(eventtime) OVER (PARTITION BY account_id ORDER BY eventtime
                        RANGE BETWEEN CURRENT ROW AND ${bulk_delete_window} FOLLOWING) AS last
  FROM calls
),
starts AS (
  SELECT account_id, ws, last,
         max(last) OVER (PARTITION BY account_id ORDER BY ws
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach_before
  FROM reach WHERE n >= ${bulk_delete_threshold}
),
islands AS (
  SELECT account_id, ws, last,
         sum(CASE WHEN reach_before IS NULL OR ws > reach_before THEN 1 ELSE 0 END)
           OVER (PARTITION BY account_id ORDER BY ws ROWS UNBOUNDED PRECEDING) AS island
  FROM starts
),
merged AS (
  SELECT account_id, island, min(ws) AS window_start, max(last) AS window_end
  FROM islands GROUP BY account_id, island
),
bins AS (
  SELECT account_id, date_bin(${bulk_delete_window}, eventtime) AS bin, count(*) AS n
  FROM calls GROUP BY account_id, date_bin(${bulk_delete_window}, eventtime)
  HAVING count(*) >= ${bulk_delete_threshold}
),
bursts AS (
  SELECT m.account_id, m.window_start, m.window_end, count(*) AS calls,
         count(DISTINCT c.eventsource) AS services, count(DISTINCT c.principal) AS principals,
         to_json(array_sort(array_agg(named_struct('eventtime', c.eventtime, 'eventname', c.eventname,
                            'region', c.awsregion, 'principal', c.principal, 'source_ip', c.source_ip,
                            'log_file', c.log_file)))) AS events
  FROM merged m
  JOIN calls c ON c.account_id = m.account_id
              AND c.eventtime BETWEEN m.window_start AND m.window_end
  GROUP BY m.account_id, m.window_start, m.window_end
),
burst_bins AS (
  -- The fixed bins a CloudWatch alarm would have counted, for each burst.
  SELECT b.account_id, b.window_start,
         to_json(array_sort(array_agg(named_struct('bin_start', x.bin, 'calls', x.n)))) AS alarm_bins
  FROM bursts b
  JOIN bins x ON x.account_id = b.account_id
             AND x.bin BETWEEN b.window_start - ${bulk_delete_window} AND b.window_end
  GROUP BY b.account_id, b.window_start
),
activity AS (
  SELECT 'fail' AS status, 'account/' || b.account_id AS resource, b.account_id,
         b.window_start, b.window_end, 'events' AS check, CAST(NULL AS VARCHAR) AS alarms,
         b.calls, b.events,
         w.alarm_bins
  FROM bursts b
  LEFT JOIN burst_bins w ON w.account_id = b.account_id AND w.window_start = b.window_start
  UNION ALL
  SELECT 'pass', 'account/' || a.account_id, a.account_id, a.first_delivery, a.last_delivery,
         'events', CAST(NULL AS VARCHAR), CAST(0 AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
  FROM archive_accounts a
  WHERE a.account_id NOT IN (SELECT account_id FROM bursts)
)
SELECT * FROM state
UNION ALL
SELECT * FROM activity
