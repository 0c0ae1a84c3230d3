-- dialect: lake
-- source: https://docs.aws.amazon.com/security-lake/latest/userguide/cloudtrail-query-examples-sourceversion2.html
-- construct: trino-fn:current_timestamp, camelcase, output-name
-- answer: empty on the grycap archive: no event falls in the last 7 days.
SELECT eventTime, eventSource, eventName, errorCode, errorMessage, awsRegion, userIdentity.arn, sourceIPAddress
FROM cloudtrail
WHERE eventTime BETWEEN CURRENT_TIMESTAMP - INTERVAL '7' DAY AND CURRENT_TIMESTAMP
  AND errorCode IN ('Client.UnauthorizedOperation', 'Client.InvalidPermission.NotFound',
                    'Client.OperationNotPermitted', 'AccessDenied')
ORDER BY eventTime DESC
LIMIT 25
