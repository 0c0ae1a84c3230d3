-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/tag-history-by-resource.sql
-- construct: eventjson, json, trino-fn:json_extract_scalar, camelcase
-- answer: AccessDenied counts per caller ARN read from the raw event JSON: alucloud00 (35), gmolto (13), micafer (10), alucloud206 (8), ...
SELECT
    json_extract_scalar(eventJson, '$.userIdentity.arn') AS callerArn,
    count(*) AS denied
FROM cloudtrail
WHERE errorCode = 'AccessDenied'
  AND eventTime > '2014-01-01 00:00:00'
GROUP BY json_extract_scalar(eventJson, '$.userIdentity.arn')
ORDER BY denied DESC
