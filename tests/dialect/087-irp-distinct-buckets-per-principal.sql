-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/e690dfc73406b92511efc3a165a73ce3f75ab3b1/playbooks/resources/athena-queries-data-access.sql
-- construct: json, trino-fn:json_extract_scalar
-- answer: four buckets touched by alucloud171 through S3 APIs: alucloud-lambda, alucloud, alucloud171 and alucloud169 (ListBuckets rows without a bucket are filtered out).
SELECT DISTINCT json_extract_scalar(requestParameters, '$.bucketName') AS bucket_accessed
FROM cloudtrail
WHERE userIdentity.arn = 'arn:aws:iam::974349055189:user/alucloud171'
  AND eventSource = 's3.amazonaws.com'
  AND json_extract_scalar(requestParameters, '$.bucketName') IS NOT NULL;
