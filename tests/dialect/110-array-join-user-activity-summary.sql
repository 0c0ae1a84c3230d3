-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap, trino-fn:array_join, trino-fn:approx_percentile, trino-fn:replace, output-name, trino-fn:array_agg
-- answer: per principal in the 2017/06/01 folders the distinct write actions (non Get/List/Describe) as a comma-separated list, e.g. micafer: AuthorizeSecurityGroupIngress, CreateKeyPair, CreateSecurityGroup, ...
SELECT replace(useridentity.arn, 'arn:aws:iam::974349055189:') AS principal,
       array_join(array_agg(DISTINCT eventname ORDER BY eventname), ', ') AS write_actions,
       approx_percentile(length(requestparameters), 0.9) AS p90_request_size
FROM cloudtrail
WHERE eventname NOT LIKE 'Get%'
  AND eventname NOT LIKE 'List%'
  AND eventname NOT LIKE 'Describe%'
  AND date_partition = '2017/06/01'
  AND account_partition = '974349055189'
GROUP BY useridentity.arn
ORDER BY principal;
