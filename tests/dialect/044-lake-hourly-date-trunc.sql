-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: trino-fn:date_trunc, camelcase
-- answer: 20 hourly buckets for 2017-06-01 (UTC) summing to 11410 events; the busiest are 08:00 (2568) and 21:00 (1855).
SELECT
    date_trunc('hour', eventTime) AS hourBucket,
    count(*) AS events
FROM cloudtrail
WHERE eventTime >= '2017-06-01 00:00:00'
  AND eventTime < '2017-06-02 00:00:00'
GROUP BY date_trunc('hour', eventTime)
ORDER BY hourBucket
