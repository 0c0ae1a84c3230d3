-- CIS 3.1: each account needs one trail that is multi-region, logging, and records management
-- events both read and write. Per account: pass when such a trail exists; fail when DescribeTrails
-- answered and no trail qualifies on known facts; inconclusive when a trail might qualify but its
-- GetTrailStatus or GetEventSelectors was not captured (NULL in the three-valued AND below).
-- A trail with HasCustomEventSelectors=false uses the default selector: all management events.
WITH accounts AS (
  SELECT a.account_id, coalesce(bool_or(c.operation IS NOT NULL), false) AS trails_captured
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN snapshot_calls c
    ON c.account_id = a.account_id AND c.operation = 'DescribeTrails' AND c.error_code IS NULL
  GROUP BY a.account_id
),
-- GetEventSelectors answered for a trail (zero selectors is an answer too).
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
mgmt AS (
  SELECT account_id, trail_arn,
         bool_or(read_write_type IN ('All', 'ReadOnly')) AS reads,
         bool_or(read_write_type IN ('All', 'WriteOnly')) AS writes,
         array_agg(named_struct('selector', coalesce(name, kind), 'read_write_type', read_write_type,
                             'narrowed_by', narrowed_by)) AS selectors
  FROM event_selectors
  WHERE include_management_events
  GROUP BY account_id, trail_arn
),
per_trail AS (
  SELECT t.account_id, t.trail_arn, t.is_multi_region_trail, t.is_logging,
         t.has_custom_event_selectors,
         CASE
           WHEN sc.trail_arn IS NOT NULL THEN coalesce(m.reads AND m.writes, false)
           WHEN t.has_custom_event_selectors = false THEN true
         END AS management_all,
         m.selectors AS management_selectors
  FROM trail_facts t
  LEFT JOIN selector_calls sc ON sc.account_id = t.account_id AND sc.trail_arn = t.trail_arn
  LEFT JOIN mgmt m ON m.account_id = t.account_id AND m.trail_arn = t.trail_arn
),
verdicts AS (
  SELECT account_id,
         sum(CASE WHEN is_multi_region_trail AND is_logging AND management_all THEN 1 ELSE 0 END) AS ok,
         sum(CASE WHEN (is_multi_region_trail AND is_logging AND management_all) IS NULL THEN 1 ELSE 0 END) AS unknown,
         array_agg(named_struct('trail', trail_arn, 'multi_region', is_multi_region_trail,
                                'is_logging', is_logging, 'management_read_write_all', management_all,
                                'management_selectors', management_selectors)) AS trails
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
       a.trails_captured,
       to_json(v.trails) AS trails
FROM accounts a
LEFT JOIN verdicts v ON v.account_id = a.account_id
