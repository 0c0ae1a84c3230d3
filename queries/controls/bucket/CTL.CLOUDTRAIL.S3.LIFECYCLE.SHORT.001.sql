-- The trail bucket's lifecycle must not delete logs before required_retention_days: the earliest
-- Expiration of an enabled rule that reaches the trail's log objects (<S3KeyPrefix>/AWSLogs/...;
-- an empty prefix reaches everything, a prefix under AWSLogs/ reaches part of the logs, a tag
-- filter reaches none) must be at least that long. Expiration.Days counts as is; an absolute
-- Expiration.Date counts as the days from the snapshot's capture to that date. No expiring rule
-- keeps the logs forever (pass). Lifecycle not captured: inconclusive.
WITH tb AS (
  SELECT account_id,
         s3_bucket_name AS bucket,
         coalesce(nullif(s3_key_prefix, '') || '/', '') || 'AWSLogs/' AS log_prefix,
         array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2, 3
),
captured AS (
  SELECT account_id, max(captured_at) AS captured_at FROM snapshots GROUP BY account_id
),
rules AS (
  SELECT account_id, bucket, r,
         json_get_str(r, 'ID') AS rule_id,
         json_get_str(r, 'Status') AS rule_status,
         coalesce(json_get_str(r, 'Filter', 'Prefix'), json_get_str(r, 'Filter', 'And', 'Prefix'),
                  json_get_str(r, 'Prefix'), '') AS rule_prefix,
         (json_get_json(r, 'Filter', 'Tag') IS NOT NULL
          OR coalesce(json_length(r, 'Filter', 'And', 'Tags'), 0) > 0) AS tag_filtered,
         json_get_int(r, 'Expiration', 'Days') AS expiration_days,
         json_get_str(r, 'Expiration', 'Date') AS expiration_date
  FROM (SELECT account_id, bucket, unnest(json_get_array(lifecycle_rules)) AS r FROM buckets)
),
expiring AS (
  SELECT tb.account_id, tb.bucket, tb.log_prefix,
         ru.rule_id, ru.rule_prefix, ru.expiration_days, ru.expiration_date,
         CASE
           WHEN ru.expiration_days IS NOT NULL THEN ru.expiration_days
           ELSE CAST(floor((date_part('epoch', try_cast(ru.expiration_date AS TIMESTAMP))
                            - date_part('epoch', c.captured_at)) / 86400) AS BIGINT)
         END AS days
  FROM tb
  JOIN rules ru ON ru.account_id = tb.account_id AND ru.bucket = tb.bucket
  LEFT JOIN captured c ON c.account_id = tb.account_id
  WHERE ru.rule_status = 'Enabled'
    AND NOT ru.tag_filtered
    AND (starts_with(tb.log_prefix, ru.rule_prefix) OR starts_with(ru.rule_prefix, tb.log_prefix))
    AND (ru.expiration_days IS NOT NULL OR ru.expiration_date IS NOT NULL)
),
earliest AS (
  SELECT account_id, bucket, log_prefix,
         min(days) AS earliest_expiration_days,
         bool_or(days IS NULL) AS undated,
         to_json(array_agg(named_struct('rule', rule_id, 'prefix', rule_prefix,
                                        'days', expiration_days, 'date', expiration_date)
                           ORDER BY days)) AS expiring_rules
  FROM expiring
  GROUP BY 1, 2, 3
)
SELECT CASE
         WHEN b.lifecycle_rules IS NULL THEN 'inconclusive'
         WHEN e.earliest_expiration_days < ${required_retention_days} THEN 'fail'
         WHEN e.undated THEN 'inconclusive'
         ELSE 'pass'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       tb.log_prefix,
       ${required_retention_days} AS required_retention_days,
       e.earliest_expiration_days,
       e.expiring_rules,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
LEFT JOIN earliest e ON e.account_id = tb.account_id AND e.bucket = tb.bucket AND e.log_prefix = tb.log_prefix
