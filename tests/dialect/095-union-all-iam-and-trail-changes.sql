-- dialect: athena
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/ec2-security-historical-changes.sql
-- construct: json, trino-fn:json_extract_scalar, output-name, trino-fn:coalesce
-- answer: one timeline of control-plane changes: CreateTrail and StartLogging (trail Default) and PutGroupPolicy on 2014-09-26, then gmolto's access-key and user changes on 2017-06-01.
SELECT eventtime, 'cloudtrail' AS area, eventname, useridentity.arn,
       json_extract_scalar(requestparameters, '$.name') AS target
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname IN ('CreateTrail', 'UpdateTrail', 'DeleteTrail', 'StartLogging', 'StopLogging')
UNION ALL
SELECT eventtime, 'iam' AS area, eventname, useridentity.arn,
       coalesce(json_extract_scalar(requestparameters, '$.userName'),
                json_extract_scalar(requestparameters, '$.groupName')) AS target
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname NOT LIKE 'Get%'
  AND eventname NOT LIKE 'List%'
  AND errorcode IS NULL
ORDER BY eventtime;
