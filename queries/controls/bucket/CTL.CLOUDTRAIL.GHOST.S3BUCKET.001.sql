-- A trail whose bucket is gone delivers nothing, and whoever re-creates the name receives the
-- logs. Three ways, each its own rows (column check):
-- state: per trail bucket, HeadBucket 404/NoSuchBucket (missing) or 403 (forbidden: the name
--   exists but this account cannot reach it, someone else may own it: takeover risk), or a
--   trail reporting LatestDeliveryError NoSuchBucket: fail. Exists: pass. Not captured:
--   inconclusive.
-- events: per archive account, every successful DeleteBucket of a trail bucket (named by a
--   snapshot trail, or by a CreateTrail/UpdateTrail in the archive), with the deliveries the
--   archive still holds after it.
-- deliveries: per account with a snapshot, the archive's last log file is more than 24 hours
--   older than the snapshot while a trail is logging and CloudTrail itself reports no later
--   delivery (LatestDeliveryTime not after the archive's last file): deliveries stopped. When
--   CloudTrail reports later deliveries the archive is only an older copy (pass); no logging
--   trail means logging was stopped, which STOP.DETECT.001 reports (pass here).
-- An account with no DescribeTrails answer (no snapshot, or trails not captured) gets an
-- inconclusive state row: its events alone cannot clear it.
WITH tb AS (
  SELECT t.account_id, t.s3_bucket_name AS bucket,
         array_agg(t.trail_arn ORDER BY t.trail_arn) AS trails,
         max(t.latest_delivery_time) AS latest_delivery_time,
         max(t.latest_delivery_error) AS latest_delivery_error,
         bool_or(t.latest_delivery_error = 'NoSuchBucket') AS no_such_bucket_error
  FROM trail_facts t
  WHERE t.s3_bucket_name IS NOT NULL
  GROUP BY 1, 2
),
state AS (
  SELECT CASE
           WHEN b.head_status IN ('missing', 'forbidden') THEN 'fail'
           WHEN b.head_status = 'exists' THEN 'pass'
           WHEN tb.no_such_bucket_error THEN 'fail'
           ELSE 'inconclusive'
         END AS status,
         tb.bucket AS resource,
         tb.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         CASE
           WHEN b.head_status = 'missing' THEN 'the bucket does not exist (404): deliveries fail and anyone may create the name'
           WHEN b.head_status = 'forbidden' THEN 'the bucket name answers 403: it exists but this account cannot reach it; unless it is a central log bucket you expect, someone else owns it (takeover risk)'
           WHEN b.head_status IS NULL AND tb.no_such_bucket_error THEN 'CloudTrail reports NoSuchBucket for its deliveries'
         END AS finding,
         b.head_status,
         b.owned_by_snapshot_account,
         to_json(tb.trails) AS trails,
         tb.latest_delivery_time,
         tb.latest_delivery_error,
         b.errors AS bucket_errors,
         CAST(NULL AS VARCHAR) AS events,
         CAST(NULL AS TIMESTAMP) AS archive_last_delivery,
         CAST(NULL AS BIGINT) AS deliveries_after_delete
  FROM tb
  LEFT JOIN buckets b ON b.account_id = tb.account_id AND b.bucket = tb.bucket
),
-- Trail buckets the evidence names: the snapshot's trails, and CreateTrail/UpdateTrail calls.
named AS (
  SELECT DISTINCT bucket FROM (
    SELECT s3_bucket_name AS bucket FROM trails WHERE s3_bucket_name IS NOT NULL
    UNION ALL
    SELECT json_extract_scalar(requestparameters, '$.s3BucketName')
    FROM cloudtrail
    WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('CreateTrail', 'UpdateTrail')
      AND errorcode IS NULL AND json_extract_scalar(requestparameters, '$.s3BucketName') IS NOT NULL
  )
),
deletes AS (
  SELECT coalesce(c.recipientaccountid, c.account_id) AS account_id,
         json_extract_scalar(c.requestparameters, '$.bucketName') AS bucket,
         c.eventtime, c.useridentity.arn AS principal, c.sourceipaddress, c.awsregion, c.log_file
  FROM cloudtrail c
  JOIN named n ON n.bucket = json_extract_scalar(c.requestparameters, '$.bucketName')
  WHERE c.eventsource = 's3.amazonaws.com' AND c.eventname = 'DeleteBucket' AND c.errorcode IS NULL
),
deleted AS (
  SELECT d.account_id,
         min(d.eventtime) AS window_start,
         max(d.eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', d.eventtime, 'bucket', d.bucket, 'principal', d.principal,
                                           'source_ip', d.sourceipaddress, 'region', d.awsregion,
                                           'log_file', d.log_file))) AS events
  FROM deletes d
  GROUP BY 1
),
after_delete AS (
  SELECT d.account_id, count(l.key) AS deliveries_after_delete
  FROM deleted d
  LEFT JOIN log_files l ON l.account_id = d.account_id AND l.delivery_time > d.window_start
  GROUP BY 1
),
events AS (
  SELECT CASE WHEN d.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(d.window_start, a.first_delivery) AS window_start,
         coalesce(d.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CASE WHEN d.account_id IS NOT NULL THEN 'a trail bucket was deleted' END AS finding,
         CAST(NULL AS VARCHAR) AS head_status,
         CAST(NULL AS BOOLEAN) AS owned_by_snapshot_account,
         CAST(NULL AS VARCHAR) AS trails,
         CAST(NULL AS TIMESTAMP) AS latest_delivery_time,
         CAST(NULL AS VARCHAR) AS latest_delivery_error,
         CAST(NULL AS VARCHAR) AS bucket_errors,
         to_json(d.events) AS events,
         a.last_delivery AS archive_last_delivery,
         ad.deliveries_after_delete
  FROM archive_accounts a
  LEFT JOIN deleted d ON d.account_id = a.account_id
  LEFT JOIN after_delete ad ON ad.account_id = a.account_id
),
logging AS (
  SELECT account_id,
         bool_or(is_logging) AS any_logging,
         bool_or(is_logging IS NULL) AS status_missing,
         max(CASE WHEN is_logging THEN latest_delivery_time END) AS latest_delivery_time,
         max(CASE WHEN is_logging THEN latest_delivery_error END) AS latest_delivery_error,
         to_json(array_agg(trail_arn ORDER BY trail_arn) FILTER (WHERE is_logging)) AS logging_trails
  FROM trail_facts
  GROUP BY 1
),
deliveries AS (
  SELECT CASE
           WHEN s.captured_at - a.last_delivery <= INTERVAL '24 hours' THEN 'pass'
           WHEN g.latest_delivery_time > a.last_delivery + INTERVAL '1 hour' THEN 'pass'
           WHEN g.any_logging THEN 'fail'
           WHEN g.any_logging IS NULL OR g.status_missing THEN 'inconclusive'
           ELSE 'pass'
         END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         a.last_delivery AS window_start,
         s.captured_at AS window_end,
         'deliveries' AS check,
         CASE
           WHEN s.captured_at - a.last_delivery <= INTERVAL '24 hours' THEN NULL
           WHEN g.latest_delivery_time > a.last_delivery + INTERVAL '1 hour' THEN 'the archive ends before CloudTrail''s latest delivery: an older copy, not a stop'
           WHEN g.any_logging THEN 'a trail is logging but no log file was delivered since the archive''s last one'
           WHEN g.any_logging IS NULL OR g.status_missing THEN 'deliveries stopped and the trail status was not captured'
           ELSE 'no trail is logging: a stop, not a ghost bucket (see STOP.DETECT.001)'
         END AS finding,
         CAST(NULL AS VARCHAR) AS head_status,
         CAST(NULL AS BOOLEAN) AS owned_by_snapshot_account,
         g.logging_trails AS trails,
         g.latest_delivery_time,
         g.latest_delivery_error,
         CAST(NULL AS VARCHAR) AS bucket_errors,
         CAST(NULL AS VARCHAR) AS events,
         a.last_delivery AS archive_last_delivery,
         CAST(NULL AS BIGINT) AS deliveries_after_delete
  FROM archive_accounts a
  JOIN (SELECT account_id, max(captured_at) AS captured_at FROM snapshots GROUP BY 1) s
    ON s.account_id = a.account_id
  LEFT JOIN logging g ON g.account_id = a.account_id
  WHERE s.captured_at IS NOT NULL
),
uncaptured AS (
  -- Accounts of the snapshots or the archive with no DescribeTrails answer: the state part
  -- could not be evaluated there, whatever the events say.
  SELECT 'inconclusive' AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         'trails not captured (no DescribeTrails answer)' AS finding,
         CAST(NULL AS VARCHAR) AS head_status,
         CAST(NULL AS BOOLEAN) AS owned_by_snapshot_account,
         CAST(NULL AS VARCHAR) AS trails,
         CAST(NULL AS TIMESTAMP) AS latest_delivery_time,
         CAST(NULL AS VARCHAR) AS latest_delivery_error,
         CAST(NULL AS VARCHAR) AS bucket_errors,
         CAST(NULL AS VARCHAR) AS events,
         CAST(NULL AS TIMESTAMP) AS archive_last_delivery,
         CAST(NULL AS BIGINT) AS deliveries_after_delete
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN (SELECT DISTINCT account_id FROM snapshot_calls
             WHERE service = 'cloudtrail' AND operation = 'DescribeTrails' AND error_code IS NULL) d
    ON d.account_id = a.account_id
  WHERE d.account_id IS NULL
)
SELECT * FROM state
UNION ALL
SELECT * FROM events
UNION ALL
SELECT * FROM deliveries
UNION ALL
SELECT * FROM uncaptured
