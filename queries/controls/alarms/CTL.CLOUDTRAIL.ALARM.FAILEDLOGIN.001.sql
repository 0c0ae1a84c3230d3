-- Failed console logins: a burst is password guessing or credential stuffing.
-- (a) state: an alarmed metric filter on a delivering trail's log group counts failed
--     ConsoleLogin events (CIS 4.6);
-- (b) events: per account, sliding windows holding >= ${failed_login_threshold} failed
--     ConsoleLogin within ${failed_login_window}, overlapping windows merged (the same machinery
--     as ALARM.RESOURCEDELETION), with the attempts per source IP and per user, the fixed alarm bins,
--     and each attempt with its log file.
WITH sample(event) AS (
  VALUES ('{"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"userIdentity":{"type":"IAMUser"}}')
),
covered AS (
  SELECT f.account_id, to_json(array_agg(f.filter_name || ' -> ' || f.alarm_name)) AS alarms
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
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'alarm' AS check,
         v.alarms,
         CAST(NULL AS BIGINT) AS attempts,
         CAST(NULL AS VARCHAR) AS by_source_ip,
         CAST(NULL AS VARCHAR) AS by_user,
         CAST(NULL AS VARCHAR) AS events,
         CAST(NULL AS VARCHAR) AS alarm_bins
  FROM alarm_facts_captured c
  LEFT JOIN covered v ON v.account_id = c.account_id
),
calls AS (
  -- A record delivered twice counts once here (both copies stay visible in `cloudtrail`).
  SELECT coalesce(recipientaccountid, account_id) AS account_id, eventtime, eventid,
         coalesce(useridentity.arn, useridentity.username,
                  json_extract_scalar(additionaleventdata, '$.UserName'), 'unknown') AS principal,
         sourceipaddress AS source_ip, min(log_file) AS log_file
  FROM cloudtrail
  WHERE eventname = 'ConsoleLogin'
    AND (errormessage = 'Failed authentication'
         OR json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure')
  GROUP BY 1, 2, 3, 4, 5
),
reach AS (
  SELECT account_id, eventtime AS ws,
         count(*) OVER (PARTITION BY account_id ORDER BY eventtime
                        RANGE BETWEEN CURRENT ROW AND ${failed_login_window} FOLLOWING) AS n,
         max(eventtime) OVER (PARTITION BY account_id ORDER BY eventtime
                        RANGE BETWEEN CURRENT ROW AND ${failed_login_window} FOLLOWING) AS last
  FROM calls
),
starts AS (
  SELECT account_id, ws, last,
         max(last) OVER (PARTITION BY account_id ORDER BY ws
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach_before
  FROM reach WHERE n >= ${failed_login_threshold}
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
in_window AS (
  SELECT m.account_id, m.window_start, m.window_end, c.*
  FROM merged m
  JOIN calls c ON c.account_id = m.account_id
              AND c.eventtime BETWEEN m.window_start AND m.window_end
),
per_ip AS (
  SELECT account_id, window_start, to_json(array_agg(named_struct('source_ip', source_ip, 'attempts', n))) AS by_source_ip
  FROM (SELECT account_id, window_start, source_ip, count(*) AS n FROM in_window GROUP BY account_id, window_start, source_ip)
  GROUP BY account_id, window_start
),
per_user AS (
  SELECT account_id, window_start, to_json(array_agg(named_struct('principal', principal, 'attempts', n))) AS by_user
  FROM (SELECT account_id, window_start, principal, count(*) AS n FROM in_window GROUP BY account_id, window_start, principal)
  GROUP BY account_id, window_start
),
bins AS (
  SELECT account_id, date_bin(${failed_login_window}, eventtime) AS bin, count(*) AS n
  FROM calls GROUP BY account_id, date_bin(${failed_login_window}, eventtime)
  HAVING count(*) >= ${failed_login_threshold}
),
bursts AS (
  SELECT account_id, window_start, window_end, count(*) AS attempts,
         to_json(array_sort(array_agg(named_struct('eventtime', eventtime, 'principal', principal,
                            'source_ip', source_ip, 'log_file', log_file)))) AS events
  FROM in_window
  GROUP BY account_id, window_start, window_end
),
burst_bins AS (
  -- The fixed bins a CloudWatch alarm would have counted, for each burst.
  SELECT b.account_id, b.window_start,
         to_json(array_sort(array_agg(named_struct('bin_start', x.bin, 'attempts', x.n)))) AS alarm_bins
  FROM bursts b
  JOIN bins x ON x.account_id = b.account_id
             AND x.bin BETWEEN b.window_start - ${failed_login_window} AND b.window_end
  GROUP BY b.account_id, b.window_start
),
activity AS (
  SELECT 'fail' AS status, 'account/' || b.account_id AS resource, b.account_id,
         b.window_start, b.window_end, 'events' AS check, CAST(NULL AS VARCHAR) AS alarms,
         b.attempts, i.by_source_ip, u.by_user, b.events,
         w.alarm_bins
  FROM bursts b
  LEFT JOIN burst_bins w ON w.account_id = b.account_id AND w.window_start = b.window_start
  JOIN per_ip i ON i.account_id = b.account_id AND i.window_start = b.window_start
  JOIN per_user u ON u.account_id = b.account_id AND u.window_start = b.window_start
  UNION ALL
  SELECT 'pass', 'account/' || a.account_id, a.account_id, a.first_delivery, a.last_delivery,
         'events', CAST(NULL AS VARCHAR), CAST(0 AS BIGINT), CAST(NULL AS VARCHAR),
         CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
  FROM archive_accounts a
  WHERE a.account_id NOT IN (SELECT account_id FROM bursts)
)
SELECT * FROM state
UNION ALL
SELECT * FROM activity
