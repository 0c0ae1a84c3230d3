-- dialect: athena
-- source: https://github.com/awsdocs/amazon-athena-user-guide/blob/765e909ebcf8817b22efad881b7f90f32440b891/doc_source/cloudtrail-logs.md
-- construct: unnest-cross, output-name
-- answer: uses per (key, caller, event): key/5fc43618-... is used by alucloud00 (436 calls in total, mostly Decrypt), gmolto and the lambda-s3-execution-role sessions; key/96e872b5-... only by 6 console DescribeKey calls.
SELECT res.arn AS key_arn,
       useridentity.arn,
       eventname,
       count(*) AS uses
FROM cloudtrail
CROSS JOIN UNNEST(resources) AS t(res)
WHERE eventsource = 'kms.amazonaws.com'
  AND res.arn LIKE '%:key/%'
GROUP BY res.arn, useridentity.arn, eventname
ORDER BY uses DESC;
