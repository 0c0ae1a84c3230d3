-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap
-- answer: two rows: us-east-1 with 15852 events and sa-east-1 with 1746 events for account 974349055189 between 2014/01/01 and 2018/12/31.
SELECT region_partition, count(*) AS eventcount
FROM cloudtrail
WHERE date_partition >= '2014/01/01'
  AND date_partition <= '2018/12/31'
  AND account_partition = '974349055189'
  AND region_partition IN ('us-east-1', 'sa-east-1', 'eu-west-1')
GROUP BY region_partition
ORDER BY eventcount DESC;
