-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/top-errors.sql
-- construct: camelcase
-- answer: the 10 most frequent (errorCode, errorMessage) pairs, led by NoSuchWebsiteConfiguration (502) and the DescribeAlarms ValidationException (273).
SELECT
    errorCode, errorMessage, COUNT(*) as eventCount
FROM
    cloudtrail
WHERE
    eventTime > '2014-01-01 00:00:00'
    AND eventTime < '2019-01-01 00:00:00'
    AND (errorCode is not null
        or errorMessage is not null)
GROUP BY
    errorCode, errorMessage
ORDER BY eventCount DESC
LIMIT 10;
