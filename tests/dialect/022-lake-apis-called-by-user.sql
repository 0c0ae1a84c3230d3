-- dialect: lake
-- source: https://github.com/awsdocs/aws-cloudtrail-user-guide/blob/56f54d99dfee0c3faf3d4a2b87bb572ad9edf58a/doc_source/query-lake-examples.md
-- construct: camelcase
-- answer: every call made by IAM user gmolto on 2017-06-01 (eventID, eventName, eventSource, eventTime), including the UpdateAccessKey/DeleteUser sequence around 08:06.
SELECT
    eventID,
    eventName,
    eventSource,
    eventTime
FROM
    cloudtrail
WHERE
    userIdentity.username = 'gmolto'
AND
    eventTime > '2017-06-01 00:00:00'
AND
    eventTime < '2017-06-02 00:00:00'
