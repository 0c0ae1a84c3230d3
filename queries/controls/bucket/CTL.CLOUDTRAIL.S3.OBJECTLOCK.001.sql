-- The trail bucket must have S3 Object Lock enabled, so delivered logs can be made immutable
-- (WORM). ObjectLockConfigurationNotFoundError is the fact "not enabled" (fail); a configuration
-- that was not captured is inconclusive. The default retention (mode, days or years) is shown as
-- evidence: Object Lock without a default retention protects only objects locked one by one.
WITH tb AS (
  SELECT account_id, s3_bucket_name AS bucket, array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2
),
lock_config AS (
  SELECT account_id,
         params ->> 'Bucket' AS bucket,
         max(json_get_str(response, 'ObjectLockConfiguration', 'Rule', 'DefaultRetention', 'Mode')) AS default_mode,
         max(json_get_int(response, 'ObjectLockConfiguration', 'Rule', 'DefaultRetention', 'Days')) AS default_days,
         max(json_get_int(response, 'ObjectLockConfiguration', 'Rule', 'DefaultRetention', 'Years')) AS default_years
  FROM snapshot_calls
  WHERE service = 's3' AND operation = 'GetObjectLockConfiguration' AND error_code IS NULL
  GROUP BY 1, 2
)
SELECT CASE
         WHEN b.object_lock_enabled IS NULL THEN 'inconclusive'
         WHEN b.object_lock_enabled THEN 'pass'
         ELSE 'fail'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       b.object_lock_enabled,
       l.default_mode AS default_retention_mode,
       l.default_days AS default_retention_days,
       l.default_years AS default_retention_years,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
LEFT JOIN lock_config l ON l.account_id = tb.account_id AND l.bucket = tb.bucket
