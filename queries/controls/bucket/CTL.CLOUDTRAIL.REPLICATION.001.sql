-- The trail bucket must copy its logs to another account: an enabled replication rule whose
-- filter covers all of <S3KeyPrefix>/AWSLogs/ (an empty prefix covers everything; a tag filter
-- covers no log object) with a Destination.Account other than the bucket's own account. The
-- bucket's account is the snapshot account when ListBuckets lists the bucket, else the account
-- of the replication role (S3 assumes a role of the source bucket's owner). A covering rule
-- without Destination.Account cannot be placed: inconclusive, unless its destination bucket is
-- listed by the snapshot account that owns the source (then it is a same-account copy).
-- ReplicationConfigurationNotFoundError is the fact "no rules" (fail); not captured: inconclusive.
WITH tb AS (
  SELECT account_id,
         s3_bucket_name AS bucket,
         coalesce(nullif(s3_key_prefix, '') || '/', '') || 'AWSLogs/' AS log_prefix,
         array_agg(trail_arn ORDER BY trail_arn) AS trails
  FROM trails
  WHERE s3_bucket_name IS NOT NULL
  GROUP BY 1, 2, 3
),
config AS (
  SELECT account_id,
         params ->> 'Bucket' AS bucket,
         max(json_get_str(response, 'ReplicationConfiguration', 'Role')) AS role
  FROM snapshot_calls
  WHERE service = 's3' AND operation = 'GetBucketReplication' AND error_code IS NULL
  GROUP BY 1, 2
),
owned AS (
  SELECT account_id, json_get_str(bk, 'Name') AS bucket
  FROM (SELECT account_id, unnest(json_get_array(response, 'Buckets')) AS bk
        FROM snapshot_calls
        WHERE service = 's3' AND operation = 'ListBuckets' AND error_code IS NULL)
),
owner AS (
  SELECT b.account_id, b.bucket,
         CASE WHEN b.owned_by_snapshot_account THEN b.account_id
              ELSE split_part(c.role, ':', 5) END AS bucket_account
  FROM buckets b
  LEFT JOIN config c ON c.account_id = b.account_id AND c.bucket = b.bucket
),
rules AS (
  SELECT account_id, bucket,
         json_get_str(r, 'ID') AS rule_id,
         json_get_str(r, 'Status') AS rule_status,
         coalesce(json_get_str(r, 'Filter', 'Prefix'), json_get_str(r, 'Filter', 'And', 'Prefix'),
                  json_get_str(r, 'Prefix'), '') AS rule_prefix,
         (json_get_json(r, 'Filter', 'Tag') IS NOT NULL
          OR coalesce(json_length(r, 'Filter', 'And', 'Tags'), 0) > 0) AS tag_filtered,
         json_get_str(r, 'Destination', 'Account') AS destination_account,
         json_get_str(r, 'Destination', 'Bucket') AS destination_bucket
  FROM (SELECT account_id, bucket, unnest(json_get_array(replication_rules)) AS r FROM buckets)
),
covering AS (
  SELECT tb.account_id, tb.bucket, tb.log_prefix, ru.rule_id, ru.destination_bucket,
         ru.destination_account, o.bucket_account,
         CASE
           WHEN ru.destination_account IS NOT NULL AND o.bucket_account IS NOT NULL AND o.bucket_account <> ''
             THEN ru.destination_account <> o.bucket_account
           WHEN ru.destination_account IS NULL AND o.bucket_account = tb.account_id AND ow.bucket IS NOT NULL
             THEN false
         END AS cross_account
  FROM tb
  JOIN rules ru ON ru.account_id = tb.account_id AND ru.bucket = tb.bucket
  LEFT JOIN owner o ON o.account_id = tb.account_id AND o.bucket = tb.bucket
  LEFT JOIN owned ow ON ow.account_id = tb.account_id
                    AND ow.bucket = regexp_replace(ru.destination_bucket, '^arn:aws[a-z-]*:s3:::', '')
  WHERE ru.rule_status = 'Enabled'
    AND NOT ru.tag_filtered
    AND starts_with(tb.log_prefix, ru.rule_prefix)
),
per_bucket AS (
  SELECT account_id, bucket, log_prefix,
         bool_or(cross_account) AS any_cross,
         bool_or(cross_account IS NULL) AS any_unknown,
         to_json(array_sort(array_agg(named_struct('rule', rule_id, 'destination_bucket', destination_bucket,
                                                   'destination_account', destination_account,
                                                   'cross_account', cross_account)))) AS covering_rules
  FROM covering
  GROUP BY 1, 2, 3
)
SELECT CASE
         WHEN b.replication_rules IS NULL THEN 'inconclusive'
         WHEN p.any_cross THEN 'pass'
         WHEN p.any_unknown THEN 'inconclusive'
         ELSE 'fail'
       END AS status,
       tb.bucket AS resource,
       tb.account_id,
       to_json(tb.trails) AS trails,
       tb.log_prefix,
       o.bucket_account,
       p.covering_rules,
       b.replication_rules,
       b.head_status,
       b.errors
FROM tb
LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
LEFT JOIN owner o ON o.account_id = tb.account_id AND o.bucket = tb.bucket
LEFT JOIN per_bucket p ON p.account_id = tb.account_id AND p.bucket = tb.bucket AND p.log_prefix = tb.log_prefix
