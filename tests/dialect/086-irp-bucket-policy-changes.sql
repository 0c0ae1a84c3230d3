-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/e690dfc73406b92511efc3a165a73ce3f75ab3b1/playbooks/resources/athena-queries-data-access.sql
-- construct: output-name, json, trino-fn:json_extract_scalar
-- answer: bucket configuration writes: CreateBucket, PutBucketTagging, two PutBucketWebsite (alucloud171 and alucloud) and DeleteBucket on 2017-06-01; no PutBucketPolicy or ACL change exists.
SELECT eventTime, eventName, userIdentity.arn, sourceIPAddress,
       json_extract_scalar(requestParameters, '$.bucketName') AS bucket
FROM cloudtrail
WHERE eventSource = 's3.amazonaws.com'
  AND eventName IN ('PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl', 'PutObjectAcl',
                    'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock',
                    'PutBucketWebsite', 'PutBucketTagging', 'CreateBucket', 'DeleteBucket')
ORDER BY eventTime ASC;
