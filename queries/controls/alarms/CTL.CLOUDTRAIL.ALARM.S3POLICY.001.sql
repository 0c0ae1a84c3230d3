-- Bucket policy and ACL changes can open a bucket to the world or let someone delete logs, so
-- they must raise an alarm, and each change in the archive is a finding, raised (trail_bucket =
-- true) when the bucket is a trail's log bucket. Two ways:
-- (a) state: one alarmed metric filter on a logging multi-region trail's log group matches an
--     s3.amazonaws.com sample event of EVERY required name (PutBucketPolicy, DeleteBucketPolicy,
--     PutBucketAcl; order-free, supersets such as the CIS 4.8 filter fine), tested with
--     cwl_filter_matches;
-- (b) events: every successful call of those names; trail_bucket is NULL (unknown) when no
--     DescribeTrails answer was captured.
WITH sample(name, event) AS (
  VALUES
    ('PutBucketPolicy', '{"eventVersion":"1.11","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"bucketName":"b","policy":""}}'),
    ('DeleteBucketPolicy', '{"eventVersion":"1.11","eventSource":"s3.amazonaws.com","eventName":"DeleteBucketPolicy","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"bucketName":"b","policy":""}}'),
    ('PutBucketAcl', '{"eventVersion":"1.11","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"bucketName":"b","acl":""}}')
),
matched AS (
  SELECT f.account_id, f.filter_name, f.alarm_name, array_agg(DISTINCT s.name) AS names
  FROM alarmed_metric_filters f CROSS JOIN sample s
  WHERE cwl_filter_matches(f.filter_pattern, s.event)
  GROUP BY f.account_id, f.filter_name, f.alarm_name
),
coverage AS (
  SELECT account_id,
         array_agg(filter_name || ' -> ' || alarm_name)
           FILTER (WHERE cardinality(names) = (SELECT count(*) FROM sample)) AS alarms,
         array_agg(named_struct('filter', filter_name, 'alarm', alarm_name, 'covers', names))
           FILTER (WHERE cardinality(names) < (SELECT count(*) FROM sample)) AS partial
  FROM matched
  GROUP BY account_id
),
state AS (
  SELECT CASE
           WHEN NOT (c.trails_captured AND c.filters_captured AND c.alarms_captured) THEN 'inconclusive'
           WHEN cardinality(v.alarms) > 0 THEN 'pass'
           ELSE 'fail'
         END AS status,
         'account/' || c.account_id AS resource,
         c.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'alarm' AS check,
         to_json(v.alarms) AS alarms,
         to_json(v.partial) AS partial_filters,
         CAST(NULL AS BOOLEAN) AS trail_bucket,
         CAST(NULL AS VARCHAR) AS events
  FROM alarm_facts_captured c
  LEFT JOIN coverage v ON v.account_id = c.account_id
),
trail_buckets AS (
  SELECT DISTINCT s3_bucket_name AS bucket FROM trails WHERE s3_bucket_name IS NOT NULL
),
trails_known AS (
  SELECT count(*) > 0 AS known
  FROM snapshot_calls
  WHERE service = 'cloudtrail' AND operation = 'DescribeTrails' AND error_code IS NULL
),
calls AS (
  SELECT c.*, json_extract_scalar(c.requestparameters, '$.bucketName') AS bucket
  FROM cloudtrail c
  WHERE c.eventsource = 's3.amazonaws.com' AND c.errorcode IS NULL
    AND c.eventname IN ('PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl')
),
flagged AS (
  SELECT c.*,
         CASE WHEN t.bucket IS NOT NULL THEN true WHEN k.known THEN false END AS trail_bucket
  FROM calls c
  CROSS JOIN trails_known k
  LEFT JOIN trail_buckets t ON t.bucket = c.bucket
),
changes AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         min(eventtime) AS window_start,
         max(eventtime) AS window_end,
         bool_or(trail_bucket) AS trail_bucket,
         array_sort(array_agg(named_struct('eventtime', eventtime, 'eventname', eventname, 'bucket', bucket,
                                           'trail_bucket', trail_bucket,
                                           'principal', useridentity.arn, 'source_ip', sourceipaddress,
                                           'region', awsregion, 'log_file', log_file))) AS events
  FROM flagged
  GROUP BY coalesce(recipientaccountid, account_id)
),
activity AS (
  SELECT CASE WHEN d.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(d.window_start, a.first_delivery) AS window_start,
         coalesce(d.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CAST(NULL AS VARCHAR) AS alarms,
         CAST(NULL AS VARCHAR) AS partial_filters,
         d.trail_bucket,
         to_json(d.events) AS events
  FROM archive_accounts a
  LEFT JOIN changes d ON d.account_id = a.account_id
)
SELECT * FROM state
UNION ALL
SELECT * FROM activity
