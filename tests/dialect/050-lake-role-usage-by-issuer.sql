-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/iam-role-activity.sql
-- construct: camelcase
-- answer: events per issuing role: aws-opsworks-service-role 413, lambda-s3-execution-role 210, EMR_DefaultRole 165, c7n-lambda-execution-role 91, aws-elasticbeanstalk-service-role 24.
SELECT
    userIdentity.sessionContext.sessionIssuer.userName AS roleName,
    userIdentity.sessionContext.sessionIssuer.arn AS roleArn,
    count(*) AS events
FROM cloudtrail
WHERE userIdentity.type = 'AssumedRole'
  AND eventTime > '2014-01-01 00:00:00'
GROUP BY userIdentity.sessionContext.sessionIssuer.userName, userIdentity.sessionContext.sessionIssuer.arn
ORDER BY events DESC
