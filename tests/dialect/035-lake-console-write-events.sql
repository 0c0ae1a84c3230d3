-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/list-write-events-from-management-console.sql
-- construct: camelcase
-- answer: empty: sessionCredentialFromConsole does not exist in 2014-2018 records, so no event qualifies (the 8 readOnly=false CreateGrant calls have no console flag).
SELECT
    userIdentity.arn, eventTime, eventSource, eventName, awsRegion, sourceIPAddress, userAgent,
    requestParameters, readOnly, recipientAccountId, sessionCredentialFromConsole
FROM
    cloudtrail
WHERE
    sessionCredentialFromConsole = true
    AND readOnly = false
    AND eventTime > '2017-01-01 00:00:00'
    AND eventTime < '2018-01-01 00:00:00'
