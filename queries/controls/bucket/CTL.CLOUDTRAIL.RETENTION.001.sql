-- Logs must be kept long-term somewhere: per trail, either the S3 bucket keeps them at least
-- long_term_min_days (no enabled lifecycle Expiration reaching <S3KeyPrefix>/AWSLogs/ earlier;
-- no expiring rule = forever) or the CloudWatch Logs group does (retentionInDays at least that;
-- NULL = never expires). Fails when neither does: both known to be shorter, absent or gone.
-- Inconclusive when the side that could pass was not captured (lifecycle, or the log group's
-- DescribeLogGroups answer).
WITH t AS (
  SELECT account_id, trail_arn, home_region,
         s3_bucket_name AS bucket,
         coalesce(nullif(s3_key_prefix, '') || '/', '') || 'AWSLogs/' AS log_prefix,
         cloud_watch_logs_log_group_arn AS group_arn,
         cloud_watch_logs_log_group_name AS group_name,
         split_part(cloud_watch_logs_log_group_arn, ':', 4) AS group_region,
         split_part(cloud_watch_logs_log_group_arn, ':', 5) AS group_account
  FROM trails
),
captured AS (
  SELECT account_id, max(captured_at) AS captured_at FROM snapshots GROUP BY account_id
),
rules AS (
  SELECT account_id, bucket,
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
s3_expiry AS (
  SELECT t.account_id, t.trail_arn,
         min(CASE
               WHEN ru.expiration_days IS NOT NULL THEN ru.expiration_days
               ELSE CAST(floor((date_part('epoch', try_cast(ru.expiration_date AS TIMESTAMP))
                                - date_part('epoch', c.captured_at)) / 86400) AS BIGINT)
             END) AS earliest_expiration_days,
         bool_or(ru.expiration_days IS NULL
                 AND (c.captured_at IS NULL OR try_cast(ru.expiration_date AS TIMESTAMP) IS NULL)) AS undated
  FROM t
  JOIN rules ru ON ru.account_id = t.account_id AND ru.bucket = t.bucket
  LEFT JOIN captured c ON c.account_id = t.account_id
  WHERE ru.rule_status = 'Enabled'
    AND NOT ru.tag_filtered
    AND (starts_with(t.log_prefix, ru.rule_prefix) OR starts_with(ru.rule_prefix, t.log_prefix))
    AND (ru.expiration_days IS NOT NULL OR ru.expiration_date IS NOT NULL)
  GROUP BY 1, 2
),
-- Successful DescribeLogGroups answers that would have listed the trail's group (its account
-- and region, a name prefix/pattern that admits it, no further page).
looked AS (
  SELECT t.account_id, t.trail_arn
  FROM t
  JOIN snapshot_calls c
    ON c.account_id = t.account_id AND c.region = t.group_region
   AND c.service = 'logs' AND c.operation = 'DescribeLogGroups' AND c.error_code IS NULL
  WHERE t.group_account = t.account_id
    AND (json_get_str(c.params, 'logGroupNamePrefix') IS NULL OR starts_with(t.group_name, json_get_str(c.params, 'logGroupNamePrefix')))
    AND (json_get_str(c.params, 'logGroupNamePattern') IS NULL OR strpos(lower(t.group_name), lower(json_get_str(c.params, 'logGroupNamePattern'))) > 0)
    AND json_get_str(c.response, 'nextToken') IS NULL
  GROUP BY 1, 2
),
groups AS (
  SELECT t.account_id, t.trail_arn,
         max(g.log_group_name) AS found,
         max(g.retention_in_days) AS retention_in_days
  FROM t
  JOIN log_groups g ON g.account_id = t.account_id AND g.region = t.group_region AND g.log_group_name = t.group_name
  GROUP BY 1, 2
),
facts AS (
  SELECT t.*,
         b.lifecycle_rules IS NOT NULL AS lifecycle_captured,
         b.head_status,
         e.earliest_expiration_days,
         coalesce(e.undated, false) AS undated,
         CASE
           WHEN b.head_status = 'missing' THEN false
           WHEN b.lifecycle_rules IS NULL THEN NULL
           WHEN e.earliest_expiration_days < ${long_term_min_days} THEN false
           WHEN coalesce(e.undated, false) THEN NULL
           ELSE true
         END AS s3_keeps,
         g.found IS NOT NULL AS group_found,
         g.retention_in_days,
         CASE
           WHEN t.group_arn IS NULL THEN false
           WHEN g.found IS NOT NULL THEN coalesce(g.retention_in_days >= ${long_term_min_days}, true)
           WHEN l.trail_arn IS NOT NULL THEN false
         END AS cw_keeps
  FROM t
  LEFT JOIN buckets b ON b.account_id = t.account_id AND b.bucket = t.bucket
  LEFT JOIN s3_expiry e ON e.account_id = t.account_id AND e.trail_arn = t.trail_arn
  LEFT JOIN groups g ON g.account_id = t.account_id AND g.trail_arn = t.trail_arn
  LEFT JOIN looked l ON l.account_id = t.account_id AND l.trail_arn = t.trail_arn
)
SELECT CASE
         WHEN s3_keeps OR cw_keeps THEN 'pass'
         WHEN NOT s3_keeps AND NOT cw_keeps THEN 'fail'
         ELSE 'inconclusive'
       END AS status,
       trail_arn AS resource,
       account_id,
       home_region AS region,
       ${long_term_min_days} AS long_term_min_days,
       bucket,
       head_status AS bucket_head_status,
       lifecycle_captured,
       earliest_expiration_days AS s3_earliest_expiration_days,
       s3_keeps,
       group_arn AS log_group_arn,
       group_found AS log_group_found,
       retention_in_days AS log_group_retention_in_days,
       cw_keeps
FROM facts
