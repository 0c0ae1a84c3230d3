-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/iam-principal-by-launched-ec2-instance-id.sql
-- construct: element_at-map, camelcase
-- answer: one row: the RunInstances of 2014-09-26T20:24:16Z in us-east-1 that launched i-443dbbaa (the root user's autoscaling group as-wp-group-11).
SELECT userIdentity.principalid, eventName, eventTime, recipientAccountId, awsRegion
FROM cloudtrail
WHERE responseElements IS NOT NULL AND
element_at(responseElements, 'instancesSet') like '%"instanceId":"i-443dbbaa"%'
AND eventTime > '2014-09-01 00:00:00' AND eventTime < '2014-10-01 00:00:00'
AND eventName='RunInstances'
