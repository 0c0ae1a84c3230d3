-- dialect: athena
-- source: https://trino.io/docs/current/functions/conditional.html
-- construct: trino-fn:try, json, trino-fn:json_extract_scalar, output-name
-- answer: the root GetSessionToken of 2014-09-26T13:43:42Z asking for a 43200-second (12 hour) session.
SELECT eventtime, useridentity.arn, eventname,
       try(CAST(json_extract_scalar(requestparameters, '$.durationSeconds') AS integer)) AS duration_seconds
FROM cloudtrail
WHERE eventname IN ('GetSessionToken', 'AssumeRole', 'GetFederationToken')
  AND try(CAST(json_extract_scalar(requestparameters, '$.durationSeconds') AS integer)) > 3600;
