-- dialect: athena
-- source: https://github.com/awsdocs/amazon-athena-user-guide/blob/765e909ebcf8817b22efad881b7f90f32440b891/doc_source/cloudtrail-logs.md
-- construct: unnest-cross, trino-fn:from_iso8601_timestamp
-- answer: one row: arn:aws:s3:::alucloud-lambda with 20 records, all HeadBucket calls made on 2017-06-01.
SELECT
    r.arn AS s3_bucket_name,
    COUNT(*) AS record_count
FROM cloudtrail
CROSS JOIN UNNEST(resources) AS t (r)
WHERE r.type = 'AWS::S3::Bucket'
  AND from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2017-06-01T00:00:00Z')
GROUP BY r.arn
ORDER BY record_count DESC;
