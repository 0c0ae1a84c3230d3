-- dialect: lake
-- source: https://github.com/awsdocs/aws-cloudtrail-user-guide/blob/56f54d99dfee0c3faf3d4a2b87bb572ad9edf58a/doc_source/query-lake-examples.md
-- construct: camelcase
-- answer: one row: the principal id of alucloud171 with eventName CreateBucket (2017-06-01 20:17:32).
SELECT
    userIdentity.principalid,
    eventName
FROM
    cloudtrail
WHERE
    userIdentity.principalid IS NOT NULL
AND
    eventTime > '2017-06-01 00:00:00'
AND
    eventTime < '2017-06-02 00:00:00'
AND
    eventName = 'CreateBucket'
