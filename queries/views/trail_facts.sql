-- Every trail with its status: one row per trail ARN per snapshot account.
-- is_logging is NULL when GetTrailStatus was not captured (controls: inconclusive, never pass).
SELECT t.*,
       s.is_logging,
       s.latest_delivery_time,
       s.latest_delivery_error,
       s.latest_digest_delivery_time,
       s.latest_digest_delivery_error,
       s.latest_cloud_watch_logs_delivery_time,
       s.latest_cloud_watch_logs_delivery_error,
       s.latest_notification_error,
       s.start_logging_time,
       s.stop_logging_time
FROM trails t
LEFT JOIN trail_status s ON s.account_id = t.account_id AND s.trail_arn = t.trail_arn
