-- dialect: lake
-- source: https://github.com/awsdocs/aws-cloudtrail-user-guide/blob/56f54d99dfee0c3faf3d4a2b87bb572ad9edf58a/doc_source/query-lake-examples.md
-- construct: camelcase, output-name
-- answer: the 36 ConsoleLogin events, 34 recorded in us-east-1 and 2 in sa-east-1 (alucloud00 2018-01-30, alucloud147 2018-02-28); the ARN column is named arn.
SELECT
    eventTime,
    useridentity.arn,
    awsRegion
FROM
    cloudtrail
WHERE
    awsRegion in ('us-east-1', 'sa-east-1')
AND
    eventName = 'ConsoleLogin'
