-- Every Allow that lets cloudtrail.amazonaws.com write (s3:PutObject) into the trail bucket must
-- carry an aws:SourceArn condition naming the trail(s): without it any trail, in any account,
-- can deliver into the bucket (confused deputy), and forged or foreign logs can land beside the
-- real ones. Fails when one such statement lacks the condition key (under any operator; keys
-- are matched case-insensitively). No policy or no CloudTrail statement: nothing lacks the
-- condition (pass). Policy not captured or unreadable: inconclusive.
WITH tb AS (
  SELECT account_id, s3_bucket_name AS bucket, array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2
),
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
  WHERE json_get_str(st, 'Effect') = 'Allow'
    AND lower(json_get_json(st, 'Principal')) LIKE '%"cloudtrail.amazonaws.com"%'
),
actions AS (
  SELECT n,
         '^' || replace(replace(regexp_replace(lower(json_get_str(v)), '([.+^$()|\[\]{}\\])', '\\\1', 'g'),
                                '*', '.*'), '?', '.') || '$' AS re
  FROM (
    SELECT n, unnest(json_get_array(CASE WHEN left(ltrim(raw), 1) = '[' THEN raw ELSE '[' || raw || ']' END)) AS v
    FROM (SELECT n, json_get_json(st, 'Action') AS raw FROM stmts)
    WHERE raw IS NOT NULL
  )
),
writes AS (
  SELECT s.account_id, s.bucket, s.n,
         json_get_str(s.st, 'Sid') AS sid,
         json_get_json(s.st, 'Resource') AS resource,
         json_get_json(s.st, 'Condition') AS condition,
         coalesce(lower(json_get_json(s.st, 'Condition')) LIKE '%"aws:sourcearn"%', false) AS has_source_arn
  FROM stmts s
  JOIN actions a ON a.n = s.n
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING bool_or(regexp_like('s3:putobject', a.re))
),
per_bucket AS (
  SELECT account_id, bucket,
         count(*) AS cloudtrail_write_statements,
         to_json(array_agg(named_struct('sid', sid, 'resource', resource, 'condition', condition)
                           ORDER BY n) FILTER (WHERE NOT has_source_arn)) AS without_source_arn,
         to_json(array_agg(named_struct('sid', sid, 'resource', resource, 'condition', condition)
                           ORDER BY n) FILTER (WHERE has_source_arn)) AS with_source_arn
  FROM writes
  GROUP BY 1, 2
)
SELECT CASE
         WHEN b.has_policy IS NULL THEN 'inconclusive'
         WHEN NOT b.has_policy THEN 'pass'
         WHEN json_get_json(b.policy, 'Statement') IS NULL THEN 'inconclusive'
         WHEN p.without_source_arn IS NOT NULL THEN 'fail'
         ELSE 'pass'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       b.has_policy,
       coalesce(p.cloudtrail_write_statements, 0) AS cloudtrail_write_statements,
       p.without_source_arn,
       p.with_source_arn,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
LEFT JOIN per_bucket p ON p.account_id = tb.account_id AND p.bucket = tb.bucket
