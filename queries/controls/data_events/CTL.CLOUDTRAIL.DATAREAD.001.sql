-- S3 object reads (GetObject, ...) are data events: without a selector for them nobody can tell
-- which objects were read, or by whom, after a leak (CIS 3.9). Per account: pass when a logging,
-- multi-region trail records S3 object reads for every bucket; fail when DescribeTrails answered
-- and, on known facts, none does; inconclusive when a trail's GetEventSelectors (with custom
-- selectors) or GetTrailStatus was not captured. "Every bucket" = the selector's derived
-- s3_object_prefixes holds the partition's bare `arn:aws:s3:::` (classic arn:aws:s3 / arn:aws:s3:::,
-- or an advanced AWS::S3::Object selector with no ARN or other narrowing condition).
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
s3_selectors AS (
  SELECT account_id, trail_arn,
         bool_or(read_write_type IN ('All', 'ReadOnly')
                 AND array_has(json_get_array(s3_object_prefixes),
                               '"arn:' || split_part(trail_arn, ':', 2) || ':s3:::"')) AS all_buckets,
         array_agg(named_struct('selector', coalesce(name, kind), 'read_write_type', read_write_type,
                                's3_object_prefixes', s3_object_prefixes,
                                'narrowed_by', narrowed_by)) AS selectors
  FROM event_selectors
  WHERE array_has(json_get_array(data_resource_types), '"AWS::S3::Object"')
  GROUP BY account_id, trail_arn
),
per_trail AS (
  SELECT t.account_id, t.trail_arn, t.is_logging, t.is_multi_region_trail,
         CASE WHEN sc.trail_arn IS NOT NULL THEN coalesce(s.all_buckets, false)
              WHEN t.has_custom_event_selectors = false THEN false END
           AND t.is_logging AND t.is_multi_region_trail AS records,
         s.selectors
  FROM trail_facts t
  LEFT JOIN selector_calls sc ON sc.account_id = t.account_id AND sc.trail_arn = t.trail_arn
  LEFT JOIN s3_selectors s ON s.account_id = t.account_id AND s.trail_arn = t.trail_arn
),
verdicts AS (
  SELECT account_id,
         sum(CASE WHEN records THEN 1 ELSE 0 END) AS ok,
         sum(CASE WHEN records IS NULL THEN 1 ELSE 0 END) AS unknown,
         array_agg(named_struct('trail', trail_arn, 'is_logging', is_logging,
                                'multi_region', is_multi_region_trail, 'records', records,
                                's3_selectors', selectors)) AS trails
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
       to_json(v.trails) AS trails
FROM accounts a
LEFT JOIN verdicts v ON v.account_id = a.account_id
