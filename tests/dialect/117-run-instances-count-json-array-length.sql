-- dialect: athena
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/ec2-api-run-instances.sql
-- construct: json, trino-fn:json_array_length, trino-fn:json_extract, trino-fn:json_extract_scalar, trino-fn:coalesce, output-name
-- answer: the 42 successful RunInstances calls with the number of instances started and the first instance type (t1.micro 28, m1.small 12, t2.micro and m1.medium once), by autoscaling, alucloud171, alucloud43, micafer, the root user and others.
SELECT eventtime,
       coalesce(useridentity.username, useridentity.invokedby, useridentity.arn) AS caller,
       json_array_length(json_extract(responseelements, '$.instancesSet.items')) AS instances_started,
       json_extract_scalar(responseelements, '$.instancesSet.items[0].instanceType') AS instance_type,
       json_extract_scalar(responseelements, '$.instancesSet.items[0].instanceId') AS first_instance
FROM cloudtrail
WHERE eventname = 'RunInstances'
  AND errorcode IS NULL
ORDER BY eventtime;
