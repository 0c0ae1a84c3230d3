-- PutEventSelectors silently changes what a trail records (management events read-only, data
-- events dropped) while the trail keeps "logging", so it must raise an alarm and every change in
-- the archive is a finding. CIS 4.5's filter does not list it. Two ways:
-- (a) state: some alarmed metric filter on a logging multi-region trail's log group matches a
--     PutEventSelectors event (cwl_filter_matches);
-- (b) events: every successful PutEventSelectors, flagged "narrowing" when its requestParameters
--     reduce scope: a classic selector ReadOnly/WriteOnly, no selector with management events,
--     excluded management event sources, an advanced management selector filtered on readOnly or
--     eventSource, or data / network activity resources that the previous PutEventSelectors of
--     the same trail in the archive recorded and this one no longer does ("all of a type" covers
--     every resource of it).
WITH sample(event) AS (
  VALUES ('{"eventVersion":"1.11","eventSource":"cloudtrail.amazonaws.com","eventName":"PutEventSelectors","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"trailName":"trail"}}')
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
         CAST(NULL AS BOOLEAN) AS narrowing,
         CAST(NULL AS VARCHAR) AS events
  FROM alarm_facts_captured c
  LEFT JOIN covering v ON v.account_id = c.account_id
),
puts AS (
  SELECT eventid,
         coalesce(recipientaccountid, account_id) AS account_id,
         eventtime, awsregion, sourceipaddress, log_file,
         useridentity.arn AS principal,
         requestparameters AS rp,
         CASE WHEN json_get_str(requestparameters, 'trailName') LIKE 'arn:%'
              THEN json_get_str(requestparameters, 'trailName')
              ELSE 'arn:aws:cloudtrail:' || awsregion || ':' || coalesce(recipientaccountid, account_id)
                   || ':trail/' || json_get_str(requestparameters, 'trailName')
         END AS trail
  FROM cloudtrail
  WHERE eventname = 'PutEventSelectors' AND eventsource = 'cloudtrail.amazonaws.com' AND errorcode IS NULL
),
ordered AS (
  SELECT p.*, lag(eventid) OVER (PARTITION BY trail ORDER BY eventtime, eventid) AS previous_eventid
  FROM puts p
),
classic AS (
  SELECT eventid, unnest(json_get_array(rp, 'eventSelectors')) AS sel FROM puts
),
classic_flags AS (
  SELECT eventid,
         array_agg(DISTINCT json_get_str(sel, 'readWriteType'))
           FILTER (WHERE json_get_str(sel, 'readWriteType') IN ('ReadOnly', 'WriteOnly')) AS partial_rw,
         bool_or(coalesce(json_get_bool(sel, 'includeManagementEvents'), true)) AS management,
         bool_or(coalesce(json_length(sel, 'excludeManagementEventSources'), 0) > 0) AS excluded_sources
  FROM classic GROUP BY eventid
),
classic_resources AS (
  SELECT eventid, json_get_str(dr, 'type') AS dtype, json_as_text(unnest(json_get_array(dr, 'values'))) AS dvalue
  FROM (SELECT eventid, unnest(json_get_array(sel, 'dataResources')) AS dr FROM classic)
),
advanced AS (
  SELECT eventid, sel, unnest(json_get_array(sel, 'fieldSelectors')) AS fs
  FROM (SELECT eventid, unnest(json_get_array(rp, 'advancedEventSelectors')) AS sel FROM puts)
),
advanced_selectors AS (
  SELECT eventid, sel,
         max(CASE WHEN json_get_str(fs, 'field') = 'eventCategory' THEN json_get_str(fs, 'equals', 0) END) AS category,
         max(CASE WHEN json_get_str(fs, 'field') = 'resources.type' THEN json_get_str(fs, 'equals', 0) END) AS rtype,
         max(CASE WHEN json_get_str(fs, 'field') = 'readOnly'
                  THEN CASE json_get_str(fs, 'equals', 0) WHEN 'true' THEN 'ReadOnly' WHEN 'false' THEN 'WriteOnly' END
             END) AS read_only,
         bool_or(json_get_str(fs, 'field') = 'eventSource') AS source_filter,
         max(CASE WHEN json_get_str(fs, 'field') = 'eventSource' THEN json_get_str(fs, 'equals', 0) END) AS source,
         bool_or(json_get_str(fs, 'field') = 'resources.ARN') AS arn_filter
  FROM advanced GROUP BY eventid, sel
),
advanced_flags AS (
  SELECT eventid,
         bool_or(category = 'Management') AS management,
         array_agg(read_only) FILTER (WHERE category = 'Management' AND read_only IS NOT NULL) AS partial_rw,
         bool_or(category = 'Management' AND source_filter) AS excluded_sources
  FROM advanced_selectors GROUP BY eventid
),
advanced_resources AS (
  SELECT eventid, rtype AS dtype, '*' AS dvalue
  FROM advanced_selectors WHERE category = 'Data' AND rtype IS NOT NULL AND NOT arn_filter
  UNION ALL
  SELECT eventid, 'NetworkActivity' AS dtype, coalesce(source, '*') AS dvalue
  FROM advanced_selectors WHERE category = 'NetworkActivity'
  UNION ALL
  SELECT eventid, dtype, json_as_text(unnest(json_get_array(fs, 'equals'))) AS dvalue
  FROM (SELECT a.eventid, s.rtype AS dtype, a.fs FROM advanced a
        JOIN advanced_selectors s ON s.eventid = a.eventid AND s.sel = a.sel
        WHERE s.category = 'Data' AND s.arn_filter AND json_get_str(a.fs, 'field') = 'resources.ARN')
  UNION ALL
  SELECT eventid, dtype, json_as_text(unnest(json_get_array(fs, 'startsWith'))) AS dvalue
  FROM (SELECT a.eventid, s.rtype AS dtype, a.fs FROM advanced a
        JOIN advanced_selectors s ON s.eventid = a.eventid AND s.sel = a.sel
        WHERE s.category = 'Data' AND s.arn_filter AND json_get_str(a.fs, 'field') = 'resources.ARN')
),
data_items AS (
  -- one row per (event, resource type, value); '*' = every resource of the type
  SELECT eventid, dtype,
         CASE WHEN dvalue IN ('arn:aws:s3', 'arn:aws:s3:::', 'arn:aws:lambda', 'arn:aws:dynamodb') THEN '*'
              ELSE dvalue END AS dvalue
  FROM classic_resources
  UNION ALL
  SELECT eventid, dtype, dvalue FROM advanced_resources
),
dropped AS (
  -- data resources the previous change of the same trail recorded and this one does not
  SELECT o.eventid, array_agg(DISTINCT p.dtype || ' ' || p.dvalue) AS removed
  FROM ordered o
  JOIN data_items p ON p.eventid = o.previous_eventid
  LEFT JOIN data_items n ON n.eventid = o.eventid AND n.dtype = p.dtype AND (n.dvalue = p.dvalue OR n.dvalue = '*')
  WHERE n.eventid IS NULL
  GROUP BY o.eventid
),
judged AS (
  SELECT o.*,
         d.removed,
         concat_ws('; ',
           CASE WHEN cardinality(c.partial_rw) > 0 THEN 'readWriteType ' || array_to_string(c.partial_rw, ',') END,
           CASE WHEN c.eventid IS NOT NULL AND NOT c.management THEN 'includeManagementEvents false' END,
           CASE WHEN c.excluded_sources THEN 'excludeManagementEventSources set' END,
           CASE WHEN a.eventid IS NOT NULL AND NOT coalesce(a.management, false) THEN 'no management event selector' END,
           CASE WHEN cardinality(a.partial_rw) > 0 THEN 'management events ' || array_to_string(a.partial_rw, ',') END,
           CASE WHEN a.excluded_sources THEN 'management eventSource filter' END,
           CASE WHEN d.eventid IS NOT NULL THEN 'fewer data resources than the previous selectors' END,
           CASE WHEN c.eventid IS NULL AND a.eventid IS NULL THEN 'no selectors' END
         ) AS reasons
  FROM ordered o
  LEFT JOIN classic_flags c ON c.eventid = o.eventid
  LEFT JOIN advanced_flags a ON a.eventid = o.eventid
  LEFT JOIN dropped d ON d.eventid = o.eventid
),
changes AS (
  SELECT account_id,
         min(eventtime) AS window_start,
         max(eventtime) AS window_end,
         bool_or(reasons <> '') AS narrowing,
         array_sort(array_agg(named_struct('eventtime', eventtime, 'trail', trail,
                                           'narrowing', reasons <> '', 'reasons', string_to_array(nullif(reasons, ''), '; '),
                                           'removed_data_resources', removed,
                                           'principal', principal, 'source_ip', sourceipaddress,
                                           'region', awsregion, 'log_file', log_file))) AS events
  FROM judged
  GROUP BY account_id
),
activity AS (
  SELECT CASE WHEN c.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(c.window_start, a.first_delivery) AS window_start,
         coalesce(c.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CAST(NULL AS VARCHAR) AS alarms,
         c.narrowing,
         to_json(c.events) AS events
  FROM archive_accounts a
  LEFT JOIN changes c ON c.account_id = a.account_id
)
SELECT * FROM state
UNION ALL
SELECT * FROM activity
