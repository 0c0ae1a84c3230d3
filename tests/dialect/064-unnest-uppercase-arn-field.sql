-- dialect: athena
-- source: https://gist.github.com/daorte/3d533ad570b4e74ef0315ae65faa4641
-- construct: unnest-cross, partition-timestamp
-- answer: the IAM roles named as resources of AssumeRole calls in the 2017/06/01 folder with counts: EMR_DefaultRole 155, aws-elasticbeanstalk-service-role 24, lambda-s3-execution-role, c7n-lambda-execution-role, ...
SELECT r.ARN AS role_arn, r.accountId AS role_account, count(*) AS assumptions
FROM cloudtrail
CROSS JOIN UNNEST(resources) AS t(r)
WHERE eventname = 'AssumeRole'
  AND timestamp = '2017/06/01'
GROUP BY r.ARN, r.accountId
ORDER BY assumptions DESC;
