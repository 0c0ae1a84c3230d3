-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: camelcase, element_at-array, trino-fn:cardinality
-- answer: per KMS key ARN and owning account 974349055189: key/5fc43618-9206-4ba1-a6c5-8f2a17db8d26 with 703 calls and key/96e872b5-e556-478d-ab24-f73b4dfde785 with 6.
SELECT
    resources[1]['accountId'] AS keyAccount,
    resources[1]['arn'] AS keyArn,
    count(*) AS calls
FROM cloudtrail
WHERE eventSource = 'kms.amazonaws.com'
  AND cardinality(resources) > 0
  AND eventTime > '2017-06-01 00:00:00'
GROUP BY 1, 2
ORDER BY calls DESC
