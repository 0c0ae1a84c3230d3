-- A write-only management selector drops every read call (List*, Describe*, Get*): an intruder's
-- reconnaissance leaves no trace. State, per trail: fail when the management selectors record
-- writes and no reads. Drift, per trail: each successful PutEventSelectors that asked for a
-- write-only management selector (classic readWriteType=WriteOnly with management events, or an
-- advanced selector eventCategory=Management with readOnly=false).
WITH selector_calls AS (
  SELECT DISTINCT c.account_id,
         coalesce(json_extract_scalar(c.response, '$.TrailARN'), t.trail_arn) AS trail_arn
  FROM snapshot_calls c
  LEFT JOIN trails t
    ON t.account_id = c.account_id
   AND coalesce(json_extract_scalar(c.params, '$.TrailName'), json_extract_scalar(c.params, '$.Name'))
       IN (t.trail_arn, t.name)
  WHERE c.service = 'cloudtrail' AND c.operation = 'GetEventSelectors' AND c.error_code IS NULL
),
mgmt AS (
  SELECT account_id, trail_arn,
         bool_or(read_write_type IN ('All', 'ReadOnly')) AS reads,
         bool_or(read_write_type IN ('All', 'WriteOnly')) AS writes,
         array_agg(coalesce(name, kind) || ': ' || read_write_type) AS selectors
  FROM event_selectors
  WHERE include_management_events
  GROUP BY account_id, trail_arn
),
per_trail AS (
  SELECT t.account_id, t.trail_arn, t.home_region, t.has_custom_event_selectors,
         CASE WHEN sc.trail_arn IS NOT NULL THEN coalesce(m.reads, false)
              WHEN t.has_custom_event_selectors = false THEN true END AS management_reads,
         CASE WHEN sc.trail_arn IS NOT NULL THEN coalesce(m.writes, false)
              WHEN t.has_custom_event_selectors = false THEN true END AS management_writes,
         m.selectors
  FROM trail_facts t
  LEFT JOIN selector_calls sc ON sc.account_id = t.account_id AND sc.trail_arn = t.trail_arn
  LEFT JOIN mgmt m ON m.account_id = t.account_id AND m.trail_arn = t.trail_arn
),
state AS (
  SELECT CASE
           WHEN management_writes IS NULL THEN 'inconclusive'
           WHEN management_writes AND NOT management_reads THEN 'fail'
           ELSE 'pass'
         END AS status,
         trail_arn AS resource,
         account_id,
         home_region AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         management_reads,
         management_writes,
         to_json(selectors) AS management_selectors,
         CAST(NULL AS VARCHAR) AS events
  FROM per_trail
),
puts AS (
  SELECT log_file || '#' || coalesce(eventid, CAST(eventtime AS VARCHAR)) AS id,
         coalesce(recipientaccountid, account_id) AS account_id,
         CASE WHEN json_extract_scalar(requestparameters, '$.trailName') LIKE 'arn:%'
              THEN json_extract_scalar(requestparameters, '$.trailName')
              ELSE 'arn:' || coalesce(nullif(split_part(useridentity.arn, ':', 2), ''), 'aws')
                   || ':cloudtrail:' || awsregion || ':' || coalesce(recipientaccountid, account_id)
                   || ':trail/' || json_extract_scalar(requestparameters, '$.trailName')
         END AS trail_arn,
         requestparameters, eventtime, useridentity.arn AS principal, sourceipaddress, awsregion,
         log_file
  FROM cloudtrail
  WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname = 'PutEventSelectors'
    AND errorcode IS NULL
),
-- Classic selectors: includeManagementEvents defaults to true.
classic_hits AS (
  SELECT DISTINCT id
  FROM (SELECT id, unnest(json_get_array(requestparameters, 'eventSelectors')) AS sel FROM puts)
  WHERE json_get_str(sel, 'readWriteType') = 'WriteOnly'
    AND coalesce(json_get_bool(sel, 'includeManagementEvents'), true)
),
-- Advanced selectors: one row per field selector, grouped back per selector (its JSON text).
advanced_fields AS (
  SELECT id, sel, json_get_str(fs, 'field') AS field, json_get_array(fs, 'equals') AS equals
  FROM (SELECT id, sel, unnest(json_get_array(sel, 'fieldSelectors')) AS fs
        FROM (SELECT id, unnest(json_get_array(requestparameters, 'advancedEventSelectors')) AS sel
              FROM puts))
),
advanced_selectors AS (
  SELECT id, sel,
         bool_or(field = 'eventCategory' AND array_has(equals, '"Management"')) AS management,
         bool_or(field = 'readOnly' AND array_has(equals, '"false"')) AS writes,
         bool_or(field = 'readOnly' AND array_has(equals, '"true"')) AS reads
  FROM advanced_fields
  GROUP BY id, sel
),
advanced_hits AS (
  SELECT DISTINCT id FROM advanced_selectors WHERE management AND writes AND NOT reads
),
drift AS (
  SELECT p.account_id, p.trail_arn,
         min(p.eventtime) AS window_start, max(p.eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', p.eventtime, 'principal', p.principal,
                                           'source_ip', p.sourceipaddress, 'region', p.awsregion,
                                           'request', p.requestparameters, 'log_file', p.log_file))) AS events
  FROM puts p
  JOIN (SELECT id FROM classic_hits UNION SELECT id FROM advanced_hits) h ON h.id = p.id
  GROUP BY p.account_id, p.trail_arn
),
drift_rows AS (
  SELECT 'fail' AS status, trail_arn AS resource, account_id,
         split_part(trail_arn, ':', 4) AS region, window_start, window_end, 'drift' AS check,
         CAST(NULL AS BOOLEAN) AS management_reads, CAST(NULL AS BOOLEAN) AS management_writes,
         CAST(NULL AS VARCHAR) AS management_selectors, to_json(events) AS events
  FROM drift
),
quiet_rows AS (
  SELECT 'pass' AS status, 'account/' || a.account_id AS resource, a.account_id,
         CAST(NULL AS VARCHAR) AS region, a.first_delivery AS window_start,
         a.last_delivery AS window_end, 'drift' AS check,
         CAST(NULL AS BOOLEAN) AS management_reads, CAST(NULL AS BOOLEAN) AS management_writes,
         CAST(NULL AS VARCHAR) AS management_selectors, CAST(NULL AS VARCHAR) AS events
  FROM archive_accounts a
  LEFT JOIN (SELECT DISTINCT account_id FROM drift) d ON d.account_id = a.account_id
  WHERE d.account_id IS NULL
)
SELECT * FROM state
UNION ALL
SELECT * FROM drift_rows
UNION ALL
SELECT * FROM quiet_rows
