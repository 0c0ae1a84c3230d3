-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/aws-support-access.sql
-- construct: element_at-array, camelcase, trino-fn:element_at
-- answer: the 220 AssumeRole calls made by AWS services with the assumed role ARN and account taken from the first resource, e.g. arn:aws:iam::974349055189:role/EMR_DefaultRole (155 times).
SELECT
    eventTime, eventSource, eventName, awsRegion, sourceIPAddress, userAgent,
    userIdentity.type as userIdtype,
    element_at(resources, 1).accountId as resourceAccountID,
    element_at(resources, 1).arn as resourceARN,
    eventType, recipientAccountId
FROM
    cloudtrail
WHERE
    eventSource = 'sts.amazonaws.com'
    AND userIdentity.type = 'AWSService'
ORDER BY eventTime
