-- The trail bucket must have S3 server access logging on (CIS 3.4), so reads and deletions of
-- the log objects are recorded somewhere. GetBucketLogging without LoggingEnabled: fail; not
-- captured: inconclusive. Logging into the trail bucket itself works but is flagged in the
-- evidence (self_target).
WITH tb AS (
  SELECT account_id, s3_bucket_name AS bucket, array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2
),
target AS (
  SELECT account_id,
         params ->> 'Bucket' AS bucket,
         max(json_get_str(response, 'LoggingEnabled', 'TargetPrefix')) AS target_prefix
  FROM snapshot_calls
  WHERE service = 's3' AND operation = 'GetBucketLogging' AND error_code IS NULL
  GROUP BY 1, 2
)
SELECT CASE
         WHEN b.logging_enabled IS NULL THEN 'inconclusive'
         WHEN b.logging_enabled THEN 'pass'
         ELSE 'fail'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       b.logging_enabled,
       b.logging_target_bucket,
       t.target_prefix AS logging_target_prefix,
       b.logging_target_bucket = tb.bucket AS self_target,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
LEFT JOIN target t ON t.account_id = tb.account_id AND t.bucket = tb.bucket
