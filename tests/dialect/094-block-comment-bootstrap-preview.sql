-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap, leading-comment
-- answer: 10 full records from the sa-east-1 folders of account 974349055189.
/*
   NOTE: constrain at least one partition (account, region or date),
   otherwise Athena scans the whole trail.
*/
-- preview first 10 rows with all fields for one account and one region
SELECT * FROM cloudtrail
WHERE account_partition = '974349055189'
  AND region_partition = 'sa-east-1'
LIMIT 10;
