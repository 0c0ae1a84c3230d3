-- Digest files prove log integrity only if whoever can tamper with the logs cannot also tamper
-- with the digests. CloudTrail has no separate digest-bucket setting: digests go to the log
-- bucket (<S3KeyPrefix>/AWSLogs/<account>/CloudTrail-Digest/). So a trail with validation on
-- passes only when an enabled replication rule copies the digests to another account: its prefix
-- covers all of <S3KeyPrefix>/AWSLogs/ or the trail account's digest folder, no tag
-- filter, Destination.Account other than the bucket's account (the snapshot account when
-- ListBuckets lists the bucket, else the replication role's account). Validation off: no digests
-- to place (pass here; VALIDATION.001 reports it). Validation or replication not captured, or a
-- covering rule without Destination.Account: inconclusive.
WITH t0 AS (
  SELECT account_id, trail_arn, home_region, trail_account_id, log_file_validation_enabled,
         is_organization_trail, s3_bucket_name AS bucket,
         coalesce(nullif(s3_key_prefix, '') || '/', '') || 'AWSLogs/' AS log_prefix
  FROM trails
),
-- Where the trail account's own digests go: AWSLogs/<account>/CloudTrail-Digest/, with the
-- organization id in between for an organization trail (NULL when the id is not known).
t AS (
  SELECT t0.*,
         CASE WHEN coalesce(t0.is_organization_trail, false)
              THEN t0.log_prefix || org.organization_id || '/' || t0.trail_account_id || '/CloudTrail-Digest/'
              ELSE t0.log_prefix || t0.trail_account_id || '/CloudTrail-Digest/' END AS digest_prefix
  FROM t0
  LEFT JOIN (SELECT account_id, max(organization_id) AS organization_id FROM organization GROUP BY 1) org
    ON org.account_id = t0.account_id
),
config AS (
  SELECT account_id,
         params ->> 'Bucket' AS bucket,
         max(json_get_str(response, 'ReplicationConfiguration', 'Role')) AS role
  FROM snapshot_calls
  WHERE service = 's3' AND operation = 'GetBucketReplication' AND error_code IS NULL
  GROUP BY 1, 2
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
  SELECT t.account_id, t.trail_arn, ru.rule_id, ru.rule_prefix, ru.destination_bucket, ru.destination_account,
         CASE WHEN ru.destination_account IS NOT NULL AND coalesce(o.bucket_account, '') <> ''
              THEN ru.destination_account <> o.bucket_account END AS cross_account
  FROM t
  JOIN rules ru ON ru.account_id = t.account_id AND ru.bucket = t.bucket
  LEFT JOIN owner o ON o.account_id = t.account_id AND o.bucket = t.bucket
  WHERE ru.rule_status = 'Enabled'
    AND NOT ru.tag_filtered
    AND (starts_with(t.log_prefix, ru.rule_prefix)
         OR starts_with(t.digest_prefix, ru.rule_prefix))
),
per_trail AS (
  SELECT account_id, trail_arn,
         bool_or(cross_account) AS any_cross,
         bool_or(cross_account IS NULL) AS any_unknown,
         to_json(array_sort(array_agg(named_struct('rule', rule_id, 'prefix', rule_prefix,
                                                   'destination_bucket', destination_bucket,
                                                   'destination_account', destination_account,
                                                   'cross_account', cross_account)))) AS rules_copying_digests
  FROM covering
  GROUP BY 1, 2
)
SELECT CASE
         WHEN t.log_file_validation_enabled IS NULL THEN 'inconclusive'
         WHEN NOT t.log_file_validation_enabled THEN 'pass'
         WHEN b.replication_rules IS NULL THEN 'inconclusive'
         WHEN p.any_cross THEN 'pass'
         WHEN p.any_unknown THEN 'inconclusive'
         ELSE 'fail'
       END AS status,
       t.trail_arn AS resource,
       t.account_id,
       t.home_region AS region,
       t.log_file_validation_enabled,
       t.bucket AS digest_bucket,
       t.digest_prefix,
       o.bucket_account,
       p.rules_copying_digests,
       b.errors AS bucket_errors
FROM t
LEFT JOIN buckets b ON b.account_id = t.account_id AND b.bucket = t.bucket
LEFT JOIN owner o ON o.account_id = t.account_id AND o.bucket = t.bucket
LEFT JOIN per_trail p ON p.account_id = t.account_id AND p.trail_arn = t.trail_arn
