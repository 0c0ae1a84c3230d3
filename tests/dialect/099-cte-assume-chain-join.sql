-- dialect: athena
-- source: https://github.com/rt1011/iamRoles/blob/a49341201aaa107c114d49721f0e600528b1c73b/n.sql
-- construct: cte, trino-fn:regexp_extract, trino-fn:from_iso8601_timestamp, json, trino-fn:json_extract_scalar
-- answer: (assuming service, role, session, action) counts; the join multiplies each action by its session's AssumeRole calls, so elasticmapreduce -> EMR_DefaultRole/CCSSession -> DescribeInstances tops the list (tens of thousands).
WITH assume_chain AS (
  SELECT from_iso8601_timestamp(eventtime) AS assume_time,
         REGEXP_EXTRACT(json_extract_scalar(requestparameters, '$.roleArn'), 'role/([^/]+)', 1) AS role_name,
         json_extract_scalar(requestparameters, '$.roleSessionName') AS session_name,
         useridentity.invokedby AS assumed_by
  FROM cloudtrail
  WHERE eventname = 'AssumeRole'
),
session_actions AS (
  SELECT REGEXP_EXTRACT(useridentity.arn, 'assumed-role/([^/]+)/', 1) AS role_name,
         REGEXP_EXTRACT(useridentity.arn, 'assumed-role/[^/]+/(.+)$', 1) AS session_name,
         eventsource,
         eventname
  FROM cloudtrail
  WHERE useridentity.type = 'AssumedRole'
)
SELECT a.assumed_by, a.role_name, a.session_name, s.eventsource, s.eventname, count(*) AS actions
FROM assume_chain a
JOIN session_actions s
  ON a.role_name = s.role_name
 AND a.session_name = s.session_name
GROUP BY 1, 2, 3, 4, 5
ORDER BY actions DESC;
