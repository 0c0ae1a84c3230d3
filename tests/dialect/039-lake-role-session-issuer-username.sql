-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/top-actions-by-iam-role.sql
-- construct: camelcase
-- answer: two rows for role lambda-s3-execution-role on 2017-06-01: kms Decrypt (187) and logs CreateLogStream (23).
SELECT count (*) as NumberEvents, eventSource, eventName
FROM cloudtrail
WHERE eventTime > '2017-06-01 00:00:00' AND eventTime < '2017-06-02 00:00:00'
AND userIdentity.type = 'AssumedRole'
AND userIdentity.sessionContext.sessionIssuer.userName = 'lambda-s3-execution-role'
GROUP by eventSource, eventName
order by NumberEvents desc;
