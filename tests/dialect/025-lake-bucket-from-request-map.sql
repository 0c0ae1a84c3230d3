-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/top-s3-actions.sql
-- construct: element_at-map, camelcase
-- answer: S3 API counts against bucket alucloud in June 2017: GetBucketWebsite 11, GetBucketLifecycle 9, GetBucketVersioning 9, ... and one PutBucketWebsite (by alucloud171).
SELECT
    eventName, COUNT(*) as requestCount
FROM
    cloudtrail
WHERE
    eventSource = 's3.amazonaws.com'
    AND eventTime > '2017-06-01 00:00:00'
    AND eventTime < '2017-07-01 00:00:00'
    AND element_at(requestParameters, 'bucketName') = 'alucloud'
GROUP BY
    eventName
ORDER BY requestCount DESC
