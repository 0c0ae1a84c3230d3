-- dialect: athena
-- source: https://github.com/chariotsolutions/aws-examples/blob/5894a93b1d7b9b14f2cfb93b7c612b29567e0482/access_cloudtrail_with_athena/raw_partition_injection.sql
-- construct: partition-account, partition-region, partition-ymd
-- answer: error codes of September 2014 in us-east-1 for account 974349055189, led by AccessPointNotFoundException (39) then InternalFailure (3).
SELECT errorcode, count(*) AS failures
FROM cloudtrail
WHERE account = '974349055189'
  AND region = 'us-east-1'
  AND year = '2014'
  AND month = '09'
  AND errorcode IS NOT NULL
GROUP BY errorcode
ORDER BY failures DESC;
