-- Lambda Invoke calls (who ran which function, with what identity) are data events: no trail
-- records them unless a selector asks for AWS::Lambda::Function.
-- Per account: pass when a logging trail has such a selector; fail when DescribeTrails answered
-- and, on known facts, none does; inconclusive when a trail's GetEventSelectors (with custom
-- selectors) or GetTrailStatus was not captured. HasCustomEventSelectors=false = default
-- selector = no data events.
WITH accounts AS (
  SELECT a.account_id, coalesce(bool_or(c.operation IS NOT NULL), false) AS trails_captured
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN snapshot_calls c
    ON c.account_id = a.account_id AND c.operation = 'DescribeTrails' AND c.error_code IS NULL
  GROUP BY a.account_id
),
selector_calls AS (
  SELECT DISTINCT c.account_id,
         coalesce(json_extract_scalar(c.response, '$.TrailARN'), t.trail_arn) AS trail_arn
  FROM snapshot_calls c
  LEFT JOIN trails t
    ON t.account_id = c.account_id
   AND coalesce(json_extract_scalar(c.params, '$.TrailName'), json_extract_scalar(c.params, '$.Name'))
       IN (t.trail_arn, t.name)
  WHERE c.service = 'cloudtrail' AND c.operation = 'GetEventSelectors' AND c.error_code IS NULL
),
typed AS (
  SELECT account_id, trail_arn,
         array_agg(named_struct('selector', coalesce(name, kind), 'read_write_type', read_write_type,
                             'narrowed_by', narrowed_by)) AS selectors
  FROM event_selectors
  WHERE array_has(json_get_array(data_resource_types), '"AWS::Lambda::Function"')
  GROUP BY account_id, trail_arn
),
per_trail AS (
  SELECT t.account_id, t.trail_arn, t.is_logging,
         CASE WHEN sc.trail_arn IS NOT NULL THEN y.trail_arn IS NOT NULL
              WHEN t.has_custom_event_selectors = false THEN false END AND t.is_logging AS records,
         y.selectors
  FROM trail_facts t
  LEFT JOIN selector_calls sc ON sc.account_id = t.account_id AND sc.trail_arn = t.trail_arn
  LEFT JOIN typed y ON y.account_id = t.account_id AND y.trail_arn = t.trail_arn
),
verdicts AS (
  SELECT account_id,
         sum(CASE WHEN records THEN 1 ELSE 0 END) AS ok,
         sum(CASE WHEN records IS NULL THEN 1 ELSE 0 END) AS unknown,
         array_agg(named_struct('trail', trail_arn, 'is_logging', is_logging,
                                'records', records, 'selectors', selectors)) AS trails
  FROM per_trail
  GROUP BY account_id
)
SELECT CASE
         WHEN NOT a.trails_captured THEN 'inconclusive'
         WHEN coalesce(v.ok, 0) > 0 THEN 'pass'
         WHEN coalesce(v.unknown, 0) > 0 THEN 'inconclusive'
         ELSE 'fail'
       END AS status,
       'account/' || a.account_id AS resource,
       a.account_id,
       'AWS::Lambda::Function' AS resource_type,
       to_json(v.trails) AS trails
FROM accounts a
LEFT JOIN verdicts v ON v.account_id = a.account_id
