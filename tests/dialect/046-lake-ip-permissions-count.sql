-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: element_at-map, json, trino-fn:json_array_length, trino-fn:json_extract, camelcase
-- answer: the 41 AuthorizeSecurityGroupIngress calls with the number of ipPermissions items in each (1 for every call in this archive) and the group name.
SELECT
    eventTime,
    userIdentity.userName,
    element_at(requestParameters, 'groupName') AS groupName,
    json_array_length(json_extract(element_at(requestParameters, 'ipPermissions'), '$.items')) AS ruleCount
FROM cloudtrail
WHERE eventName = 'AuthorizeSecurityGroupIngress'
ORDER BY eventTime
