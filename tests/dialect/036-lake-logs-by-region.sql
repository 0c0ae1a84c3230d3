-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/logs-by-region.sql
-- construct: camelcase
-- answer: (awsRegion, eventSource) call counts, topped by us-east-1 ec2.amazonaws.com (5985) and rds.amazonaws.com (2424); sa-east-1 rows are led by opsworks (936).
SELECT
    awsRegion, eventSource, COUNT(*) AS apiCount
FROM
    cloudtrail
WHERE
    eventTime > '2014-01-01 00:00:00'
    AND eventTime < '2019-01-01 00:00:00'
GROUP BY
    awsRegion, eventSource ORDER BY apiCount DESC
