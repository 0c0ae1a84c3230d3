-- dialect: athena
-- source: https://gist.github.com/andresriancho/2a85070593d70f48430ea132e08c1ad9
-- construct: partition-ymd
-- answer: the S3 calls of mid-2017 other than the console's bucket listing noise: HeadBucket (20), GetBucketLifecycle (18), ..., CreateBucket, PutBucketTagging, two PutBucketWebsite and one DeleteBucket, all on 2017-06-01.
SELECT eventtime,
       eventname,
       requestparameters,
       awsregion,
       eventsource,
       resources
FROM cloudtrail
WHERE year = '2017'
  AND month IN ('05', '06', '07')
  AND eventsource = 's3.amazonaws.com'
  AND eventname NOT IN ('GetBucketLocation', 'GetBucketWebsite', 'ListBuckets', 'GetBucketAcl',
                        'GetBucketCors', 'GetBucketPolicy', 'GetBucketLogging');
