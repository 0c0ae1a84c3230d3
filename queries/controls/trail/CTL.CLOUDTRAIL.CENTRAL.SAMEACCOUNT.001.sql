-- Logs kept in the account that produces them are only as safe as that account's admins: the
-- same people (or the same stolen credentials) can delete or rewrite them. Per trail: the bucket
-- owner is known from the snapshot account's ListBuckets (owned_by_snapshot_account); the trail's
-- account is in its ARN. Same account = fail; different = pass; unknown = inconclusive.
WITH listed AS (
  -- Buckets the snapshot account's ListBuckets names (for buckets no per-bucket call touched).
  SELECT account_id, json_get_str(b, 'Name') AS bucket
  FROM (SELECT account_id, unnest(json_get_array(response, 'Buckets')) AS b
        FROM snapshot_calls
        WHERE service = 's3' AND operation = 'ListBuckets' AND error_code IS NULL)
),
list_captured AS (
  SELECT DISTINCT account_id FROM snapshot_calls
  WHERE service = 's3' AND operation = 'ListBuckets' AND error_code IS NULL
),
per_trail AS (
  SELECT t.account_id, t.trail_arn, t.home_region, t.trail_account_id, t.s3_bucket_name,
         coalesce(b.owned_by_snapshot_account,
                  CASE WHEN lc.account_id IS NOT NULL THEN l.bucket IS NOT NULL END) AS owned_by_snapshot_account
  FROM trail_facts t
  LEFT JOIN buckets b ON b.account_id = t.account_id AND b.bucket = t.s3_bucket_name
  LEFT JOIN list_captured lc ON lc.account_id = t.account_id
  LEFT JOIN listed l ON l.account_id = t.account_id AND l.bucket = t.s3_bucket_name
)
SELECT CASE
         WHEN owned_by_snapshot_account IS NULL THEN 'inconclusive'
         WHEN owned_by_snapshot_account AND trail_account_id = account_id THEN 'fail'
         WHEN owned_by_snapshot_account THEN 'pass'
         WHEN trail_account_id = account_id THEN 'pass'
         ELSE 'inconclusive'
       END AS status,
       trail_arn AS resource,
       account_id,
       home_region AS region,
       s3_bucket_name,
       trail_account_id,
       owned_by_snapshot_account AS bucket_owned_by_snapshot_account
FROM per_trail
