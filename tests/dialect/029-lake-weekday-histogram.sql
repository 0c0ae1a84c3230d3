-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/data-by-week-day.sql
-- construct: trino-fn:day_of_week, camelcase
-- answer: event counts by ISO weekday (1 = Monday ... 7 = Sunday) for 2018: Wednesday (3) is the busiest with 667 events thanks to 2018-04-25, Sunday (7) the quietest with 79.
SELECT
    day_of_week(eventTime) as weekday,
    COUNT(*) as eventCount
FROM
    cloudtrail
WHERE
    eventTime > '2018-01-01 00:00:00'
    AND eventTime < '2019-01-01 00:00:00'
GROUP BY
    day_of_week(eventTime)
ORDER BY day_of_week(eventTime)
