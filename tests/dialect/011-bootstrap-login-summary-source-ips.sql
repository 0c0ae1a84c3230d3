-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap, output-name, trino-fn:array_agg
-- answer: one row per (principal ARN, event name) for ConsoleLogin in us-east-1 during 2017, e.g. arn:aws:iam::974349055189:user/alucloud05 with source IPs [95.17.153.220].
SELECT useridentity.arn,
       eventname,
       array_agg(DISTINCT(sourceipaddress) ORDER BY sourceipaddress) AS sourceips
FROM cloudtrail
WHERE useridentity.arn IS NOT NULL
  AND (eventname = 'AssumeRole' OR eventname = 'ConsoleLogin')
  AND date_partition >= '2017/01/01'
  AND date_partition <= '2017/12/31'
  AND account_partition = '974349055189'
  AND region_partition = 'us-east-1'
GROUP BY useridentity.arn, eventname
ORDER BY eventname;
