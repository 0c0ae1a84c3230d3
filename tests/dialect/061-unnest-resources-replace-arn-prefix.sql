-- dialect: athena
-- source: https://github.com/awsdocs/amazon-athena-user-guide/blob/765e909ebcf8817b22efad881b7f90f32440b891/doc_source/cloudtrail-logs.md
-- construct: unnest-cross, trino-fn:replace
-- answer: the 20 HeadBucket rows whose S3 resource ARN is arn:aws:s3:::alucloud-lambda, printed as the bare bucket name alucloud-lambda, ordered by time.
SELECT
    awsregion,
    replace(unnested.resources_entry.ARN, 'arn:aws:s3:::') AS s3_resource,
    eventname,
    eventtime,
    useragent
FROM cloudtrail t
CROSS JOIN UNNEST(t.resources) unnested (resources_entry)
WHERE unnested.resources_entry.ARN LIKE 'arn:aws:s3:::%'
ORDER BY eventtime;
