-- dialect: athena
-- source: https://trino.io/docs/current/functions/regexp.html
-- construct: trino-fn:regexp_extract, trino-fn:lower
-- answer: first user-agent token for IAM-user calls: signin.amazonaws.com (14080), boto (846), lambda.amazonaws.com (516), elasticbeanstalk.amazonaws.com (344), boto3 (188), aws-cli (124), ...
SELECT lower(regexp_extract(useragent, '^[A-Za-z0-9._-]+')) AS client,
       count(*) AS calls
FROM cloudtrail
WHERE useridentity.type = 'IAMUser'
GROUP BY 1
ORDER BY calls DESC
LIMIT 15;
