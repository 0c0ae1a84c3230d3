-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap, ipaddress, trino-fn:regexp_like
-- answer: all 1746 sa-east-1 events of 2018 (90 distinct public source IPs); non-IP sources such as "AWS Internal" are skipped by the regexp guard.
SELECT eventtime, eventname, useridentity.username, sourceipaddress
FROM cloudtrail
WHERE regexp_like(sourceipaddress, '^\d')
  AND NOT ( (CAST(sourceipaddress AS IPADDRESS) > IPADDRESS '10.0.0.0'
             AND CAST(sourceipaddress AS IPADDRESS) < IPADDRESS '10.255.255.255')
         OR (CAST(sourceipaddress AS IPADDRESS) > IPADDRESS '172.16.0.0'
             AND CAST(sourceipaddress AS IPADDRESS) < IPADDRESS '172.31.255.255')
         OR (CAST(sourceipaddress AS IPADDRESS) > IPADDRESS '192.168.0.0'
             AND CAST(sourceipaddress AS IPADDRESS) < IPADDRESS '192.168.255.255'))
  AND date_partition >= '2018/01/01'
  AND date_partition <= '2018/12/31'
  AND region_partition = 'sa-east-1';
