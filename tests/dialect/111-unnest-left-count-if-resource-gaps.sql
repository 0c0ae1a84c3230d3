-- dialect: athena
-- source: https://trino.io/docs/current/sql/select.html
-- construct: unnest-left, trino-fn:count_if, trino-fn:cardinality
-- answer: per sts/s3 event name the rows produced and how many lack a resource ARN: AssumeRole 220 rows all with a role ARN, HeadBucket 40 rows of which 20 (the object slot) have none, and every other s3 call one NULL row each.
SELECT eventname,
       count(*) AS rows_out,
       count_if(r.arn IS NULL) AS rows_without_arn,
       max(cardinality(resources)) AS max_resources
FROM cloudtrail
LEFT JOIN UNNEST(resources) AS t(r) ON TRUE
WHERE eventsource IN ('sts.amazonaws.com', 's3.amazonaws.com')
GROUP BY eventname
ORDER BY rows_out DESC;
