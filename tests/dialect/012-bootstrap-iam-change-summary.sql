-- dialect: athena
-- source: https://github.com/awslabs/aws-security-analytics-bootstrap/blob/b5fb7dc3bc7438447f9a75e86c8fefd36c5899fb/AWSSecurityAnalyticsBootstrap/sql/dml/analytics/cloudtrail/cloudtrail_demo_queries.sql
-- construct: partition-bootstrap, output-name
-- answer: the successful IAM writes: PutGroupPolicy on AlumnosCursoCloud (2014-09-26) and gmolto's 2017-06-01 key deactivations, DeleteAccessKey, DeleteLoginProfile and DeleteUser of acarrion.
SELECT eventtime, useridentity.arn, useridentity.username, eventname, requestparameters
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname NOT LIKE 'Get%'
  AND eventname NOT LIKE 'List%'
  AND eventname NOT LIKE 'Describe%'
  AND errorcode IS NULL
  AND date_partition >= '2014/01/01'
  AND date_partition <= '2018/12/31'
  AND account_partition = '974349055189'
ORDER BY account_partition, eventtime;
