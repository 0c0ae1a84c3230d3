-- Object reads and writes of the buckets the user calls sensitive must be recorded, or a leak or
-- tampering leaves no trace of who touched which object. Per (account, sensitive bucket): covered
-- when a logging trail that sees the bucket's region (multi-region, or home region = the bucket's
-- HeadBucket region) has selectors whose derived s3_object_prefixes (classic values, advanced
-- resources.ARN StartsWith, all-buckets `arn:aws:s3:::`) prefix `arn:aws:s3:::BUCKET/`, for
-- reads and for writes. Unknown facts (selectors, status, region) make it inconclusive, never pass.
WITH accounts AS (
  SELECT a.account_id, coalesce(bool_or(c.operation IS NOT NULL), false) AS trails_captured
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN snapshot_calls c
    ON c.account_id = a.account_id AND c.operation = 'DescribeTrails' AND c.error_code IS NULL
  GROUP BY a.account_id
),
wanted AS (
  SELECT DISTINCT trim(b) AS bucket
  FROM unnest(string_to_array(${sensitive_buckets}, ',')) AS u(b)
  WHERE trim(b) <> ''
),
-- Which snapshot account owns each bucket (ListBuckets); unknown owner = every account.
listed AS (
  SELECT account_id, json_get_str(b, 'Name') AS bucket
  FROM (SELECT account_id, unnest(json_get_array(response, 'Buckets')) AS b
        FROM snapshot_calls
        WHERE service = 's3' AND operation = 'ListBuckets' AND error_code IS NULL)
),
targets AS (
  SELECT a.account_id, w.bucket, a.trails_captured
  FROM accounts a CROSS JOIN wanted w
  LEFT JOIN (SELECT DISTINCT bucket FROM listed) o ON o.bucket = w.bucket
  LEFT JOIN listed l ON l.bucket = w.bucket AND l.account_id = a.account_id
  WHERE o.bucket IS NULL OR l.bucket IS NOT NULL
),
bucket_regions AS (
  SELECT account_id, json_extract_scalar(params, '$.Bucket') AS bucket,
         max(json_extract_scalar(response, '$.BucketRegion')) AS bucket_region
  FROM snapshot_calls
  WHERE service = 's3' AND operation = 'HeadBucket' AND error_code IS NULL
  GROUP BY account_id, json_extract_scalar(params, '$.Bucket')
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
prefixes AS (
  SELECT account_id, trail_arn, coalesce(name, kind) AS selector, read_write_type,
         json_as_text(p) AS prefix
  FROM (SELECT account_id, trail_arn, name, kind, read_write_type,
               unnest(json_get_array(s3_object_prefixes)) AS p
        FROM event_selectors)
),
-- Per (account, bucket, trail): does a selector record the bucket's object reads / writes?
matches AS (
  SELECT g.account_id, g.bucket, p.trail_arn,
         bool_or(p.read_write_type IN ('All', 'ReadOnly')) AS reads,
         bool_or(p.read_write_type IN ('All', 'WriteOnly')) AS writes,
         array_agg(p.selector || ' ' || p.read_write_type || ' ' || p.prefix) AS selectors
  FROM targets g
  JOIN prefixes p
    ON p.account_id = g.account_id
   AND starts_with('arn:' || split_part(p.trail_arn, ':', 2) || ':s3:::' || g.bucket || '/', p.prefix)
  GROUP BY g.account_id, g.bucket, p.trail_arn
),
per_trail AS (
  SELECT g.account_id, g.bucket, t.trail_arn, t.is_logging, t.is_multi_region_trail,
         t.home_region, r.bucket_region,
         CASE WHEN sc.trail_arn IS NOT NULL THEN coalesce(m.reads, false)
              WHEN t.has_custom_event_selectors = false THEN false END
           AND t.is_logging
           AND (t.is_multi_region_trail OR t.home_region = r.bucket_region) AS reads,
         CASE WHEN sc.trail_arn IS NOT NULL THEN coalesce(m.writes, false)
              WHEN t.has_custom_event_selectors = false THEN false END
           AND t.is_logging
           AND (t.is_multi_region_trail OR t.home_region = r.bucket_region) AS writes,
         m.selectors
  FROM targets g
  JOIN trail_facts t ON t.account_id = g.account_id
  LEFT JOIN selector_calls sc ON sc.account_id = t.account_id AND sc.trail_arn = t.trail_arn
  LEFT JOIN matches m ON m.account_id = g.account_id AND m.bucket = g.bucket AND m.trail_arn = t.trail_arn
  LEFT JOIN bucket_regions r ON r.account_id = g.account_id AND r.bucket = g.bucket
),
verdicts AS (
  SELECT account_id, bucket,
         sum(CASE WHEN reads THEN 1 ELSE 0 END) AS reads_on,
         sum(CASE WHEN reads IS NULL THEN 1 ELSE 0 END) AS reads_unknown,
         sum(CASE WHEN writes THEN 1 ELSE 0 END) AS writes_on,
         sum(CASE WHEN writes IS NULL THEN 1 ELSE 0 END) AS writes_unknown,
         array_agg(named_struct('trail', trail_arn, 'is_logging', is_logging,
                                'multi_region', is_multi_region_trail, 'home_region', home_region,
                                'bucket_region', bucket_region, 'reads', reads, 'writes', writes,
                                'selectors', selectors)) AS trails
  FROM per_trail
  GROUP BY account_id, bucket
),
bucket_rows AS (
  SELECT CASE
           WHEN NOT g.trails_captured THEN 'inconclusive'
           WHEN coalesce(v.reads_on, 0) > 0 AND coalesce(v.writes_on, 0) > 0 THEN 'pass'
           WHEN (coalesce(v.reads_on, 0) = 0 AND coalesce(v.reads_unknown, 0) = 0)
             OR (coalesce(v.writes_on, 0) = 0 AND coalesce(v.writes_unknown, 0) = 0) THEN 'fail'
           ELSE 'inconclusive'
         END AS status,
         g.bucket AS resource,
         g.account_id,
         CASE WHEN coalesce(v.reads_on, 0) > 0 THEN true
              WHEN coalesce(v.reads_unknown, 0) = 0 THEN false END AS reads_recorded,
         CASE WHEN coalesce(v.writes_on, 0) > 0 THEN true
              WHEN coalesce(v.writes_unknown, 0) = 0 THEN false END AS writes_recorded,
         to_json(v.trails) AS trails
  FROM targets g
  LEFT JOIN verdicts v ON v.account_id = g.account_id AND v.bucket = g.bucket
),
-- sensitive_buckets set to an empty list: nothing to check, said once per account.
nothing_rows AS (
  SELECT 'pass' AS status, 'account/' || a.account_id AS resource, a.account_id,
         CAST(NULL AS BOOLEAN) AS reads_recorded, CAST(NULL AS BOOLEAN) AS writes_recorded,
         '"sensitive_buckets is empty: no bucket to check"' AS trails
  FROM accounts a
  WHERE NOT EXISTS (SELECT 1 FROM wanted)
)
SELECT * FROM bucket_rows
UNION ALL
SELECT * FROM nothing_rows
