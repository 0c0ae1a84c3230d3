-- The accounts the archive (in the checked window) holds log files for, with the time span:
-- event controls report pass per account here when no event fires, and inconclusive when the
-- archive holds nothing at all.
SELECT account_id,
       min(delivery_time) AS first_delivery,
       max(delivery_time) AS last_delivery,
       count(*) AS log_files
FROM log_files
GROUP BY account_id
