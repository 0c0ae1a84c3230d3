-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap, trino-fn:date_add, trino-fn:date_format, trino-fn:current_timestamp
-- answer: empty on the grycap archive: the newest folder is 2018/05/09, far older than 30 days before today.
SELECT eventtime, eventsource, eventname, sourceipaddress
FROM cloudtrail
WHERE date_partition >= date_format(date_add('day', -30, current_timestamp), '%Y/%m/%d')
  AND account_partition = '974349055189'
LIMIT 10;
