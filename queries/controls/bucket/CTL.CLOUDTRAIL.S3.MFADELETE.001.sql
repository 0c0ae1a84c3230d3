-- The trail bucket must require MFA to delete object versions or change versioning: MFA Delete
-- Enabled (GetBucketVersioning MFADelete). MFA Delete exists only on a versioned bucket, so a
-- bucket whose versioning is Suspended or was never enabled has no MFA Delete either and fails
-- too (the evidence gives the versioning status). Versioning not captured: inconclusive.
WITH tb AS (
  SELECT account_id, s3_bucket_name AS bucket, array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2
)
SELECT CASE
         WHEN b.mfa_delete IS NULL THEN 'inconclusive'
         WHEN b.mfa_delete = 'Enabled' AND b.versioning_status = 'Enabled' THEN 'pass'
         ELSE 'fail'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       b.versioning_status,
       b.mfa_delete,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
