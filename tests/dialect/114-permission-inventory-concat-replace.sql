-- dialect: athena
-- source: https://github.com/awsdocs/amazon-athena-user-guide/blob/765e909ebcf8817b22efad881b7f90f32440b891/doc_source/cloudtrail-logs.md
-- construct: trino-fn:concat, trino-fn:replace, trino-fn:upper, trino-fn:try, trino-fn:element_at, trino-fn:split, output-name
-- answer: the IAM-style actions (service:Event) used successfully by the c7n-lambda-execution-role sessions per upper-cased session name: ec2:DescribeInstances (44 in total), ec2:CreateTags (21), logs:CreateLogStream (15), and single s3 calls such as s3:PutBucketTagging.
SELECT replace(eventsource, '.amazonaws.com') || ':' || eventname AS permission,
       upper(try(element_at(split(useridentity.arn, '/'), 3))) AS session,
       count(*) AS uses
FROM cloudtrail
WHERE useridentity.sessioncontext.sessionissuer.username = 'c7n-lambda-execution-role'
  AND errorcode IS NULL
GROUP BY 1, 2
ORDER BY uses DESC;
