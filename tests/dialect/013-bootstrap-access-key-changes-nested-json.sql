-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap, json, trino-fn:json_extract_scalar, trino-fn:json_extract, output-name
-- answer: the four UpdateAccessKey calls of 2017-06-01 by gmolto, with target users amcaar, acarrion and micafer (twice) and their new status.
SELECT eventtime, useridentity.arn, useridentity.username, eventname,
       JSON_EXTRACT_SCALAR(JSON_EXTRACT(requestparameters, '$'), '$.userName') AS target_user,
       JSON_EXTRACT_SCALAR(requestparameters, '$.accessKeyId') AS accesskey,
       JSON_EXTRACT_SCALAR(requestparameters, '$.status') AS new_status
FROM cloudtrail
WHERE eventname IN ('CreateAccessKey', 'UpdateAccessKey')
  AND errorcode IS NULL
  AND date_partition >= '2017/06/01'
  AND date_partition <= '2017/06/30'
  AND account_partition = '974349055189'
ORDER BY account_partition, eventtime;
