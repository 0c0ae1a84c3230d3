-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/user-added-to-admin-group.sql
-- construct: element_at-map, camelcase
-- answer: the 16 IAM calls naming user acarrion on 2017-06-01 between 08:06:42 and 08:06:56 by gmolto: the console's List* lookups, UpdateAccessKey (Inactive), DeleteAccessKey, DeleteLoginProfile and DeleteUser.
SELECT
    userIdentity.principalid, eventName, eventTime,
    element_at(requestParameters, 'userName') AS username,
    element_at(requestParameters, 'accessKeyId') AS accessKey
FROM
    cloudtrail
WHERE
    eventTime > '2017-06-01 00:00:00'
    AND eventTime < '2017-06-02 00:00:00'
    AND eventSource = 'iam.amazonaws.com'
    AND element_at(requestParameters, 'userName') = 'acarrion'
