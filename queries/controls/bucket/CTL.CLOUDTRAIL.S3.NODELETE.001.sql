-- The trail bucket's policy must refuse log deletion to everyone: a Deny statement whose actions
-- cover s3:DeleteObject (Action wildcards such as s3:Delete* or s3:*, or a NotAction that leaves
-- it out), for every principal (Principal "*" or {"AWS": "*"}, or a NotPrincipal exception list),
-- on a Resource that covers every log object (the pattern matches "arn:aws:s3:::BUCKET/
-- <S3KeyPrefix>/AWSLogs/*" as written, so a Deny on one account's folder alone is not enough).
-- A Deny with conditions or NotPrincipal still counts (exceptions such as a break-glass role are
-- normal) and the evidence names them. NoSuchBucketPolicy is the fact "no policy": fail. Policy
-- not captured, or unreadable: inconclusive. s3:DeleteObjectVersion is reported, not required.
WITH tb AS (
  SELECT account_id,
         s3_bucket_name AS bucket,
         coalesce(nullif(s3_key_prefix, '') || '/', '') || 'AWSLogs/' AS log_prefix,
         array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2, 3
),
-- One row per statement ("Statement" may be one object or a list); n is a stable key, the
-- CTE being evaluated once per use.
stmts AS (
  SELECT account_id, bucket, st, row_number() OVER (ORDER BY account_id, bucket, st) AS n
  FROM (
    SELECT account_id, bucket,
           unnest(json_get_array(CASE WHEN left(ltrim(json_get_json(policy, 'Statement')), 1) = '['
                                      THEN json_get_json(policy, 'Statement')
                                      ELSE '[' || json_get_json(policy, 'Statement') || ']' END)) AS st
    FROM buckets
    WHERE has_policy
  )
  WHERE json_get_str(st, 'Effect') = 'Deny'
),
-- A field that may be one string or a list of strings, one row per value, as a regex.
patterns AS (
  SELECT n, field,
         '^' || replace(replace(regexp_replace(lower(json_get_str(v)), '([.+^$()|\[\]{}\\])', '\\\1', 'g'),
                                '*', '.*'), '?', '.') || '$' AS re
  FROM (
    SELECT n, field,
           unnest(json_get_array(CASE WHEN left(ltrim(raw), 1) = '[' THEN raw ELSE '[' || raw || ']' END)) AS v
    FROM (
      SELECT n, 'Action' AS field, json_get_json(st, 'Action') AS raw FROM stmts
      UNION ALL SELECT n, 'NotAction', json_get_json(st, 'NotAction') FROM stmts
      UNION ALL SELECT n, 'Resource', json_get_json(st, 'Resource') FROM stmts
      UNION ALL SELECT n, 'NotResource', json_get_json(st, 'NotResource') FROM stmts
      UNION ALL SELECT n, 'AWS', coalesce(json_get_json(st, 'Principal', 'AWS'),
                                         CASE WHEN json_get_str(st, 'Principal') IS NOT NULL
                                              THEN json_get_json(st, 'Principal') END) FROM stmts
    )
    WHERE raw IS NOT NULL
  )
),
verdicts AS (
  SELECT s.account_id, s.bucket, tb.log_prefix, s.n,
         json_get_str(s.st, 'Sid') AS sid,
         json_get_json(s.st, 'Condition') AS condition,
         json_get_json(s.st, 'NotPrincipal') AS not_principal,
         bool_or(p.field = 'Action' AND regexp_like('s3:deleteobject', p.re)) AS del_action,
         bool_or(p.field = 'NotAction') AS has_not_action,
         bool_or(p.field = 'NotAction' AND regexp_like('s3:deleteobject', p.re)) AS del_not_action,
         bool_or(p.field = 'Action' AND regexp_like('s3:deleteobjectversion', p.re)) AS ver_action,
         bool_or(p.field = 'NotAction' AND regexp_like('s3:deleteobjectversion', p.re)) AS ver_not_action,
         bool_or(p.field = 'Resource' AND regexp_like(lower('arn:aws:s3:::' || s.bucket || '/' || tb.log_prefix || '*'), p.re)) AS res,
         bool_or(p.field = 'NotResource') AS has_not_resource,
         bool_or(p.field = 'NotResource' AND regexp_like(lower('arn:aws:s3:::' || s.bucket || '/' || tb.log_prefix || 'x'), p.re)) AS not_res,
         bool_or(p.field = 'AWS' AND p.re = '^.*$') AS everyone
  FROM stmts s
  JOIN tb ON tb.account_id = s.account_id AND tb.bucket = s.bucket
  LEFT JOIN patterns p ON p.n = s.n
  GROUP BY 1, 2, 3, 4, 5, 6, 7
),
flagged AS (
  SELECT account_id, bucket, log_prefix, n, sid, condition, not_principal,
         coalesce(del_action, false) OR (has_not_action AND NOT coalesce(del_not_action, false)) AS denies_delete_object,
         coalesce(ver_action, false) OR (has_not_action AND NOT coalesce(ver_not_action, false)) AS denies_delete_object_version,
         coalesce(res, false) OR (has_not_resource AND NOT coalesce(not_res, false)) AS covers_all_logs,
         coalesce(everyone, false) OR not_principal IS NOT NULL AS all_principals
  FROM verdicts
),
covering AS (
  SELECT account_id, bucket, log_prefix,
         bool_or(denies_delete_object AND covers_all_logs AND all_principals) AS covered,
         to_json(array_agg(named_struct('sid', sid, 'denies_delete_object', denies_delete_object,
                                        'covers_all_logs', covers_all_logs, 'all_principals', all_principals,
                                        'denies_delete_object_version', denies_delete_object_version,
                                        'condition', condition, 'not_principal', not_principal)
                           ORDER BY n)) AS deny_statements
  FROM flagged
  GROUP BY 1, 2, 3
)
SELECT CASE
         WHEN b.has_policy IS NULL THEN 'inconclusive'
         WHEN NOT b.has_policy THEN 'fail'
         WHEN json_get_json(b.policy, 'Statement') IS NULL THEN 'inconclusive'
         WHEN c.covered THEN 'pass'
         ELSE 'fail'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       'arn:aws:s3:::' || tb.bucket || '/' || tb.log_prefix || '*' AS log_objects,
       b.has_policy,
       c.deny_statements,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
LEFT JOIN covering c ON c.account_id = tb.account_id AND c.bucket = tb.bucket AND c.log_prefix = tb.log_prefix
