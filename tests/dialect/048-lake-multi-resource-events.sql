-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: trino-fn:cardinality, element_at-array, camelcase, trino-fn:element_at
-- answer: the 20 HeadBucket calls of 2017-06-01 that list two resources; the second is arn:aws:s3:::alucloud-lambda.
SELECT
    eventTime,
    eventName,
    cardinality(resources) AS resourceCount,
    element_at(resources, 2).arn AS secondArn
FROM cloudtrail
WHERE cardinality(resources) > 1
ORDER BY eventTime
