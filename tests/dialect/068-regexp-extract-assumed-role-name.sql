-- dialect: athena
-- source: https://github.com/rt1011/iamRoles/blob/a49341201aaa107c114d49721f0e600528b1c73b/n.sql
-- construct: trino-fn:regexp_extract
-- answer: assumed-role names with their event counts: aws-opsworks-service-role 413, lambda-s3-execution-role 210, EMR_DefaultRole 165, c7n-lambda-execution-role 91, aws-elasticbeanstalk-service-role 24.
SELECT REGEXP_EXTRACT(useridentity.arn, 'assumed-role/([^/]+)', 1) AS role_name,
       count(*) AS events
FROM cloudtrail
WHERE useridentity.type = 'AssumedRole'
GROUP BY 1
ORDER BY events DESC;
