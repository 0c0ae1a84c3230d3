-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/iam-access-key-activity.sql
-- construct: camelcase
-- answer: the calls made on 2017-06-01 with access key AKIAI4DAJ75TZ2FB3BHA (micafer), mostly ec2 DescribeInstances (150) and DescribeVolumes (98), ordered by time.
SELECT eventSource, eventName, sourceIPAddress, eventTime, errorCode
FROM cloudtrail
WHERE userIdentity.accessKeyId = 'AKIAI4DAJ75TZ2FB3BHA'
AND eventTime > '2017-06-01 00:00:00' AND eventTime < '2017-06-02 00:00:00'
order by eventTime;
