-- A trail that is not logging records nothing; a single-region trail misses every other region.
-- State, per trail: fail on IsLogging=false or IsMultiRegionTrail=false, inconclusive when either
-- fact was not captured. Archive, per trail: a successful StopLogging/DeleteTrail not followed by a
-- successful StartLogging of the same trail before the archive ends is a stop still open.
WITH state AS (
  SELECT CASE
           WHEN is_logging = false OR is_multi_region_trail = false THEN 'fail'
           WHEN is_logging IS NULL OR is_multi_region_trail IS NULL THEN 'inconclusive'
           ELSE 'pass'
         END AS status,
         trail_arn AS resource,
         account_id,
         home_region AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         is_logging,
         is_multi_region_trail,
         stop_logging_time,
         CAST(NULL AS VARCHAR) AS events,
         CAST(NULL AS BIGINT) AS restarted_stops
  FROM trail_facts
),
-- State-changing calls, each trail named by ARN.
changes AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         CASE WHEN json_extract_scalar(requestparameters, '$.name') LIKE 'arn:%'
              THEN json_extract_scalar(requestparameters, '$.name')
              ELSE 'arn:' || coalesce(nullif(split_part(useridentity.arn, ':', 2), ''), 'aws')
                   || ':cloudtrail:' || awsregion || ':' || coalesce(recipientaccountid, account_id)
                   || ':trail/' || json_extract_scalar(requestparameters, '$.name')
         END AS trail_arn,
         eventname, eventname = 'StartLogging' AS is_on,
         eventtime, useridentity.arn AS principal, sourceipaddress, awsregion, log_file
  FROM cloudtrail
  WHERE eventsource = 'cloudtrail.amazonaws.com'
    AND eventname IN ('StopLogging', 'DeleteTrail', 'StartLogging')
    AND errorcode IS NULL
    AND json_extract_scalar(requestparameters, '$.name') IS NOT NULL
),
last_start AS (
  SELECT account_id, trail_arn, max(eventtime) AS started_at
  FROM changes WHERE is_on
  GROUP BY account_id, trail_arn
),
-- Off calls after the trail's last StartLogging (all of them when it never restarted).
open_stops AS (
  SELECT c.account_id, c.trail_arn,
         min(c.eventtime) AS stopped_at,
         max(c.eventtime) AS last_off,
         max(l.started_at) AS last_start,
         array_sort(array_agg(named_struct('eventtime', c.eventtime, 'event', c.eventname,
                                           'principal', c.principal, 'source_ip', c.sourceipaddress,
                                           'region', c.awsregion, 'log_file', c.log_file))) AS events
  FROM changes c
  LEFT JOIN last_start l ON l.account_id = c.account_id AND l.trail_arn = c.trail_arn
  WHERE NOT c.is_on AND (l.started_at IS NULL OR c.eventtime > l.started_at)
  GROUP BY c.account_id, c.trail_arn
),
-- Stops that a later StartLogging closed, counted for the pass rows.
restarted AS (
  SELECT c.account_id, count(*) AS n
  FROM changes c
  JOIN last_start l ON l.account_id = c.account_id AND l.trail_arn = c.trail_arn
  WHERE NOT c.is_on AND c.eventtime <= l.started_at
  GROUP BY c.account_id
),
open_rows AS (
  SELECT 'fail' AS status, o.trail_arn AS resource, o.account_id,
         split_part(o.trail_arn, ':', 4) AS region,
         o.stopped_at AS window_start,
         greatest(a.last_delivery, o.last_off) AS window_end,
         'archive' AS check,
         CAST(NULL AS BOOLEAN) AS is_logging,
         CAST(NULL AS BOOLEAN) AS is_multi_region_trail,
         CAST(NULL AS TIMESTAMP) AS stop_logging_time,
         to_json(o.events) AS events,
         CAST(NULL AS BIGINT) AS restarted_stops
  FROM open_stops o
  LEFT JOIN archive_accounts a ON a.account_id = o.account_id
),
quiet_rows AS (
  SELECT 'pass' AS status, 'account/' || a.account_id AS resource, a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         a.first_delivery AS window_start, a.last_delivery AS window_end,
         'archive' AS check,
         CAST(NULL AS BOOLEAN) AS is_logging,
         CAST(NULL AS BOOLEAN) AS is_multi_region_trail,
         CAST(NULL AS TIMESTAMP) AS stop_logging_time,
         CAST(NULL AS VARCHAR) AS events,
         coalesce(r.n, 0) AS restarted_stops
  FROM archive_accounts a
  LEFT JOIN (SELECT DISTINCT account_id FROM open_stops) o ON o.account_id = a.account_id
  LEFT JOIN restarted r ON r.account_id = a.account_id
  WHERE o.account_id IS NULL
)
SELECT * FROM state
UNION ALL
SELECT * FROM open_rows
UNION ALL
SELECT * FROM quiet_rows
