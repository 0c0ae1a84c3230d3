-- Stop/restart recurrence: logging switched off and on again and again is how an intruder hides
-- work in the holes while keeping the trail looking healthy in a once-a-day state check.
--
-- Per trail (requestParameters.name is a name or an ARN: normalised to the ARN with the event's
-- region and account). Off = successful StopLogging or DeleteTrail; on = successful StartLogging
-- (CreateTrail does not start logging). Repeated offs collapse into one. A cycle = an "on" whose
-- previous state event was an "off". Fails when some window of ${recurrence_window} holds
-- ${recurrence_min_cycles} or more whole cycles. Failed calls (errorcode set) never count: they are
-- listed as attempts. Open stops (no restart by the archive's end) are reported with the trail.
WITH calls AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         eventtime, eventid, eventname, errorcode, awsregion, log_file,
         useridentity.arn AS principal, sourceipaddress AS source_ip,
         json_extract_scalar(requestparameters, '$.name') AS name_param
  FROM cloudtrail
  WHERE eventsource = 'cloudtrail.amazonaws.com'
    AND eventname IN ('StopLogging', 'StartLogging', 'DeleteTrail')
),
first_copies AS (
  -- A record delivered twice counts once here (both copies stay visible in `cloudtrail`).
  SELECT account_id, eventtime, eventid, eventname, errorcode, awsregion, principal, source_ip,
         name_param, min(log_file) AS log_file
  FROM calls
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
),
named AS (
  SELECT *,
         CASE WHEN name_param LIKE 'arn:%' THEN name_param
              ELSE 'arn:aws:cloudtrail:' || awsregion || ':' || account_id || ':trail/' || name_param
         END AS trail_arn,
         CASE WHEN eventname = 'StartLogging' THEN 'on' ELSE 'off' END AS state
  FROM first_copies
  WHERE name_param IS NOT NULL
),
ordered AS (
  SELECT *, lag(state) OVER (PARTITION BY trail_arn ORDER BY eventtime, eventid) AS previous_state
  FROM named
  WHERE errorcode IS NULL
),
transitions AS (
  SELECT *,
         lead(eventtime) OVER (PARTITION BY trail_arn ORDER BY eventtime, eventid) AS next_time,
         lead(principal) OVER (PARTITION BY trail_arn ORDER BY eventtime, eventid) AS next_principal,
         lead(log_file) OVER (PARTITION BY trail_arn ORDER BY eventtime, eventid) AS next_log_file
  FROM ordered
  WHERE previous_state IS DISTINCT FROM state
),
cycles AS (
  SELECT trail_arn, account_id, eventname AS stopped_by_call,
         eventtime AS stopped_at, next_time AS restarted_at,
         principal AS stopped_by, source_ip, log_file AS stop_log_file,
         next_principal AS restarted_by, next_log_file AS restart_log_file
  FROM transitions
  WHERE state = 'off' AND next_time IS NOT NULL
),
open_stops AS (
  SELECT trail_arn,
         to_json(array_agg(named_struct('stopped_at', eventtime, 'call', eventname,
                 'principal', principal, 'source_ip', source_ip, 'log_file', log_file))) AS open_stops
  FROM transitions
  WHERE state = 'off' AND next_time IS NULL
  GROUP BY trail_arn
),
attempts AS (
  SELECT trail_arn,
         count(*) AS failed_attempts,
         to_json(array_sort(array_agg(named_struct('eventtime', eventtime, 'call', eventname,
                            'errorcode', errorcode, 'principal', principal, 'source_ip', source_ip,
                            'log_file', log_file)))) AS attempts
  FROM named
  WHERE errorcode IS NOT NULL
  GROUP BY trail_arn
),
windows AS (
  SELECT c1.trail_arn, c1.stopped_at AS window_start, max(c2.restarted_at) AS window_end,
         count(*) AS cycles_in_window
  FROM cycles c1
  JOIN cycles c2
    ON c2.trail_arn = c1.trail_arn
   AND c2.stopped_at >= c1.stopped_at
   AND c2.restarted_at <= c1.stopped_at + ${recurrence_window}
  GROUP BY c1.trail_arn, c1.stopped_at
  HAVING count(*) >= ${recurrence_min_cycles}
),
recurring AS (
  SELECT trail_arn, min(window_start) AS window_start, max(window_end) AS window_end,
         max(cycles_in_window) AS most_cycles_in_one_window
  FROM windows
  GROUP BY trail_arn
),
per_trail AS (
  SELECT trail_arn, min(account_id) AS account_id, count(*) AS cycles,
         to_json(array_sort(array_agg(named_struct('stopped_at', stopped_at, 'restarted_at', restarted_at,
                            'off_for_seconds', date_part('epoch', restarted_at) - date_part('epoch', stopped_at),
                            'stopped_by_call', stopped_by_call, 'stopped_by', stopped_by, 'source_ip', source_ip,
                            'restarted_by', restarted_by, 'stop_log_file', stop_log_file,
                            'restart_log_file', restart_log_file)))) AS cycle_list
  FROM cycles
  GROUP BY trail_arn
),
trails_seen AS (
  SELECT trail_arn, min(account_id) AS account_id, min(split_part(trail_arn, ':', 4)) AS region
  FROM named
  GROUP BY trail_arn
)
SELECT CASE WHEN r.trail_arn IS NOT NULL THEN 'fail' ELSE 'pass' END AS status,
       t.trail_arn AS resource,
       t.account_id,
       t.region,
       r.window_start,
       r.window_end,
       coalesce(p.cycles, 0) AS completed_cycles,
       r.most_cycles_in_one_window,
       p.cycle_list AS cycles,
       o.open_stops,
       coalesce(a.failed_attempts, 0) AS failed_attempts,
       a.attempts
FROM trails_seen t
LEFT JOIN recurring r ON r.trail_arn = t.trail_arn
LEFT JOIN per_trail p ON p.trail_arn = t.trail_arn
LEFT JOIN open_stops o ON o.trail_arn = t.trail_arn
LEFT JOIN attempts a ON a.trail_arn = t.trail_arn
UNION ALL
SELECT 'pass', 'account/' || a.account_id, a.account_id, CAST(NULL AS VARCHAR),
       a.first_delivery, a.last_delivery, 0, CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), 0, CAST(NULL AS VARCHAR)
FROM archive_accounts a
WHERE a.account_id NOT IN (SELECT account_id FROM trails_seen)
