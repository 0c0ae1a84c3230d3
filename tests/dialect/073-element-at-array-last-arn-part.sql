-- dialect: athena
-- source: https://trino.io/docs/current/functions/array.html
-- construct: trino-fn:element_at, trino-fn:split
-- answer: session names of assumed-role callers (last ARN component) with counts: OpsWorks 212, charlie 201, CCSSession 157, lambda-mrbayes 59, ...
SELECT element_at(split(useridentity.arn, '/'), -1) AS session_name,
       element_at(split(useridentity.arn, '/'), 2) AS role_name,
       count(*) AS events
FROM cloudtrail
WHERE useridentity.type = 'AssumedRole'
GROUP BY 1, 2
ORDER BY events DESC;
