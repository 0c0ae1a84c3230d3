-- Who can read the trail's log objects? log_readers lists, per trail bucket, the bucket policy's
-- grants of s3:GetObject on AWSLogs/ and the IAM principals allowed it (for the account's own
-- buckets, or any bucket whose policy grants the account as a whole). Principals matching
-- allowed_log_readers ('*' wildcards) are not counted; readers in this account are dropped
-- when an unconditional SCP Deny of s3:GetObject on every bucket binds it (member, not the
-- management account). Fails when the counted readers exceed max_log_readers, or when the
-- policy grants Principal "*" with no organization/account condition (public read).
-- Inconclusive when the bucket policy, the trails or (where IAM grants matter) IAM were not
-- captured, or principals have attached policies the snapshot lacks.
WITH allowed AS (
  SELECT pattern FROM (SELECT trim(unnest(string_to_array(${allowed_log_readers}, ','))) AS pattern)
  WHERE pattern <> ''
),
captured AS (
  SELECT account_id,
         bool_or(service = 'cloudtrail' AND operation = 'DescribeTrails') AS trails,
         bool_or(service = 'iam' AND operation = 'GetAccountAuthorizationDetails') AS iam
  FROM snapshot_calls WHERE error_code IS NULL
  GROUP BY account_id
),
scp_read_denial AS (
  SELECT s.account_id
  FROM scps s JOIN organization o ON o.account_id = s.account_id
  WHERE s.denied_action = 's3:GetObject' AND s.blanket AND o.is_member AND o.management_account_id <> s.account_id
  GROUP BY s.account_id
),
trail_buckets AS (
  SELECT DISTINCT account_id, s3_bucket_name AS bucket FROM trails WHERE s3_bucket_name IS NOT NULL
),
readers AS (
  SELECT r.account_id, r.bucket, r.principal, r.source, r.conditional, r.restricted_to_org_or_account,
         a.allowed_by,
         d.account_id IS NOT NULL AND split_part(r.principal, ':', 5) = r.account_id AS scp_denied
  FROM log_readers r
  LEFT JOIN (SELECT principal, min(pattern) AS allowed_by
             FROM (SELECT DISTINCT principal FROM log_readers) x
             JOIN allowed ON x.principal LIKE replace(allowed.pattern, '*', '%')
             GROUP BY principal) a ON a.principal = r.principal
  LEFT JOIN scp_read_denial d ON d.account_id = r.account_id
),
per_bucket AS (
  SELECT account_id, bucket,
         count(DISTINCT principal) FILTER (WHERE allowed_by IS NULL AND NOT scp_denied) AS counted,
         bool_or(principal = '*' AND NOT coalesce(restricted_to_org_or_account, false)) AS public_read,
         bool_or(principal = 'arn:aws:iam::' || account_id || ':root' OR principal = account_id) AS account_grant,
         array_agg(named_struct('principal', principal, 'source', source, 'conditional', conditional,
                                'restricted_to_org_or_account', restricted_to_org_or_account,
                                'allowed_by', allowed_by, 'scp_denied', scp_denied)
                   ORDER BY principal, source) AS readers
  FROM readers
  GROUP BY account_id, bucket
),
unresolved AS (
  SELECT account_id, array_agg(principal_arn) AS principals
  FROM iam_principals WHERE json_length(unresolved_policies) > 0
  GROUP BY account_id
),
judged AS (
  SELECT t.account_id, t.bucket,
         b.has_policy,
         b.owned_by_snapshot_account,
         coalesce(p.counted, 0) AS counted,
         coalesce(p.public_read, false) AS public_read,
         -- do this account's IAM grants reach the bucket?
         coalesce(b.owned_by_snapshot_account, true) OR coalesce(p.account_grant, false) AS iam_matters,
         coalesce(c.iam, false) AS iam_captured,
         u.principals AS unresolved_principals,
         p.readers
  FROM trail_buckets t
  LEFT JOIN buckets b ON b.account_id = t.account_id AND b.bucket = t.bucket
  LEFT JOIN per_bucket p ON p.account_id = t.account_id AND p.bucket = t.bucket
  LEFT JOIN captured c ON c.account_id = t.account_id
  LEFT JOIN unresolved u ON u.account_id = t.account_id
),
buckets_judged AS (
  SELECT CASE
           WHEN public_read THEN 'fail'
           WHEN counted > ${max_log_readers} THEN 'fail'
           WHEN has_policy IS NULL THEN 'inconclusive'
           WHEN iam_matters AND NOT iam_captured THEN 'inconclusive'
           WHEN iam_matters AND unresolved_principals IS NOT NULL THEN 'inconclusive'
           ELSE 'pass'
         END AS status,
         bucket AS resource,
         account_id,
         CAST(NULL AS VARCHAR) AS region,
         counted AS counted_readers,
         ${max_log_readers} AS max_log_readers,
         public_read,
         has_policy,
         iam_matters AS iam_grants_apply,
         to_json(unresolved_principals) AS unresolved_principals,
         CASE WHEN has_policy IS NULL THEN 'GetBucketPolicy was not captured'
              WHEN iam_matters AND NOT iam_captured THEN 'GetAccountAuthorizationDetails was not captured'
         END AS note,
         to_json(readers) AS readers
  FROM judged
),
no_buckets AS (
  SELECT CASE WHEN coalesce(c.trails, false) THEN 'pass' ELSE 'inconclusive' END AS status,
         'account/' || s.account_id AS resource,
         s.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS BIGINT) AS counted_readers,
         ${max_log_readers} AS max_log_readers,
         CAST(NULL AS BOOLEAN) AS public_read,
         CAST(NULL AS BOOLEAN) AS has_policy,
         CAST(NULL AS BOOLEAN) AS iam_grants_apply,
         CAST(NULL AS VARCHAR) AS unresolved_principals,
         CASE WHEN coalesce(c.trails, false) THEN 'no trail: no log bucket to read'
              ELSE 'DescribeTrails was not captured' END AS note,
         CAST(NULL AS VARCHAR) AS readers
  FROM (SELECT DISTINCT account_id FROM snapshots) s
  LEFT JOIN captured c ON c.account_id = s.account_id
  LEFT JOIN (SELECT DISTINCT account_id FROM trail_buckets) t ON t.account_id = s.account_id
  WHERE t.account_id IS NULL
)
SELECT * FROM buckets_judged
UNION ALL
SELECT * FROM no_buckets
