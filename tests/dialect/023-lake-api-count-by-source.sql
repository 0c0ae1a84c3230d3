-- dialect: lake
-- source: https://github.com/awsdocs/aws-cloudtrail-user-guide/blob/56f54d99dfee0c3faf3d4a2b87bb572ad9edf58a/doc_source/query-lake-examples.md
-- construct: camelcase
-- answer: API counts per (eventSource, eventName) since 2017-01-01, led by opsworks DescribeStacks (1028), ec2 DescribeInstances (951) and elasticloadbalancing DescribeLoadBalancers (850).
SELECT
    eventSource,
    eventName,
    COUNT(*) AS apiCount
FROM
    cloudtrail
WHERE
    eventTime > '2017-01-01 00:00:00'
GROUP BY
    eventSource, eventName
ORDER BY
    apiCount DESC
