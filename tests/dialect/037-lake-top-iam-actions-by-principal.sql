-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/top-iam-actions-by-principal.sql
-- construct: camelcase
-- answer: IAM calls per principal id, topped by GetUser by AIDAJ2QG6PUWMNOYKCICY (alucloud00, 27, all AccessDenied) and ListAccessKeys by AIDAJ5PODB6QUQPXWJH4Q (13).
SELECT
    COUNT(*) AS apiCount, eventName, recipientAccountId, userIdentity.principalid
FROM
    cloudtrail
WHERE
    userIdentity.principalid IS NOT NULL AND eventTime >= '2014-01-01 00:00:00'
    AND eventSource='iam.amazonaws.com'
GROUP BY
    eventName, recipientAccountId, userIdentity.principalid
ORDER BY
    apiCount DESC
