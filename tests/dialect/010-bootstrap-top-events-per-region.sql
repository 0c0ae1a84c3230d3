-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap
-- answer: sa-east-1 event names for March-May 2018 ordered by count: DescribeStacks (757), DescribeLoadBalancers (462), DescribeEnvironments (77), ...
SELECT region_partition, eventname, count(*) AS eventcount
FROM cloudtrail
WHERE date_partition >= '2018/03/01'
  AND date_partition <= '2018/05/31'
  AND account_partition = '974349055189'
  AND region_partition = 'sa-east-1'
GROUP BY region_partition, eventname
ORDER BY region_partition, eventcount DESC;
