-- The trail bucket must manage its logs with a lifecycle: at least one enabled rule that applies
-- to the trail's log objects (<S3KeyPrefix>/AWSLogs/...). A rule scoped to another prefix, or to
-- object tags (CloudTrail log objects carry none), does not manage the logs.
-- NoSuchLifecycleConfiguration is the fact "no rules" (lifecycle_rules = '[]'): fail; a
-- lifecycle that was not captured (NULL) is inconclusive.
WITH tb AS (
  SELECT account_id,
         s3_bucket_name AS bucket,
         coalesce(nullif(s3_key_prefix, '') || '/', '') || 'AWSLogs/' AS log_prefix,
         array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2, 3
),
rules AS (
  SELECT account_id, bucket, r,
         json_get_str(r, 'ID') AS rule_id,
         json_get_str(r, 'Status') AS rule_status,
         coalesce(json_get_str(r, 'Filter', 'Prefix'), json_get_str(r, 'Filter', 'And', 'Prefix'),
                  json_get_str(r, 'Prefix'), '') AS rule_prefix,
         (json_get_json(r, 'Filter', 'Tag') IS NOT NULL
          OR coalesce(json_length(r, 'Filter', 'And', 'Tags'), 0) > 0) AS tag_filtered
  FROM (SELECT account_id, bucket, unnest(json_get_array(lifecycle_rules)) AS r FROM buckets)
),
applying AS (
  SELECT tb.account_id, tb.bucket, tb.log_prefix,
         array_agg(ru.rule_id ORDER BY ru.rule_id) AS rules
  FROM tb
  JOIN rules ru ON ru.account_id = tb.account_id AND ru.bucket = tb.bucket
  WHERE ru.rule_status = 'Enabled'
    AND NOT ru.tag_filtered
    AND (starts_with(tb.log_prefix, ru.rule_prefix) OR starts_with(ru.rule_prefix, tb.log_prefix))
  GROUP BY 1, 2, 3
)
SELECT CASE
         WHEN b.lifecycle_rules IS NULL THEN 'inconclusive'
         WHEN a.rules IS NOT NULL THEN 'pass'
         ELSE 'fail'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       tb.log_prefix,
       to_json(a.rules) AS rules_applying_to_logs,
       b.lifecycle_rules,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
LEFT JOIN applying a ON a.account_id = tb.account_id AND a.bucket = tb.bucket AND a.log_prefix = tb.log_prefix
