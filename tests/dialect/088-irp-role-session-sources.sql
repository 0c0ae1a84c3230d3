-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/34a40af029aee626f640e07007d36c65701c77ca/playbooks/resources/athena-queries-federated-access-abuse.sql
-- construct: json, trino-fn:json_extract_scalar, trino-fn:array_join, trino-fn:array_agg
-- answer: per assuming service: elasticmapreduce.amazonaws.com 155 (EMR_DefaultRole), lambda.amazonaws.com 29 (c7n and lambda-s3 roles), elasticbeanstalk.amazonaws.com 24, ec2.amazonaws.com 10 (instance-profile roles), opsworks.amazonaws.com 2.
SELECT sourceIPAddress, COUNT(*) AS session_count,
       MIN(eventTime) AS first_seen, MAX(eventTime) AS last_seen,
       array_join(array_agg(DISTINCT json_extract_scalar(requestParameters, '$.roleArn')), ', ') AS roles_assumed
FROM cloudtrail
WHERE eventName IN ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity')
GROUP BY sourceIPAddress
ORDER BY session_count DESC;
