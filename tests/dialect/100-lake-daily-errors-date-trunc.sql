-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/list-events-with-errors.sql
-- construct: trino-fn:date_trunc, camelcase
-- answer: failed calls per (day, errorCode), led by 2017-06-01 NoSuchWebsiteConfiguration (502), ValidationException (314) and Client.InvalidSnapshot.InUse (138).
SELECT
    date_trunc('day', eventTime) AS eventDay,
    errorCode,
    count(*) AS failures
FROM cloudtrail
WHERE errorCode IS NOT NULL
  AND eventTime > '2014-01-01 00:00:00'
GROUP BY date_trunc('day', eventTime), errorCode
ORDER BY failures DESC
