-- dialect: athena
-- source: https://trino.io/docs/current/sql/select.html
-- construct: unnest-ordinality, unnest-cross
-- answer: 40 rows for the 20 HeadBucket events: position 1 is the AWS::S3::Object entry with a NULL arn, position 2 the AWS::S3::Bucket arn:aws:s3:::alucloud-lambda.
SELECT eventtime, eventname, pos, res.type, res.arn
FROM cloudtrail
CROSS JOIN UNNEST(resources) WITH ORDINALITY AS t(res, pos)
WHERE eventname = 'HeadBucket'
ORDER BY eventtime, pos;
