-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/list-all-events-in-a-flatten-table-format.sql
-- construct: eventjson, camelcase, output-name, json
-- answer: the 16 events whose raw JSON mentions the trail bucket cursocloudaws-trail: CreateTrail and PutGroupPolicy by gmolto (2014-09-26) plus 7 GetBucketLocation and 7 GetBucketWebsite.
SELECT eventTime, eventName, userIdentity.arn, sourceIPAddress
FROM cloudtrail
WHERE eventJson LIKE '%cursocloudaws-trail%'
  AND eventTime > '2014-01-01 00:00:00'
ORDER BY eventTime
