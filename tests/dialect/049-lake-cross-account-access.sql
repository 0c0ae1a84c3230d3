-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/cross-account-access.sql
-- construct: camelcase
-- answer: empty: every caller account equals the recipient account 974349055189 (service callers have no accountId).
SELECT
    userIdentity.principalid, eventName, eventSource, userIdentity.accountId, recipientAccountId, requestParameters, eventTime
FROM
    cloudtrail
WHERE
    eventTime > '2017-01-01 00:00:00'
    AND eventTime < '2018-06-01 00:00:00'
    AND userIdentity.accountId != recipientAccountId
