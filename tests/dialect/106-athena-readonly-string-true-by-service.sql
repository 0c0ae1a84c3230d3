-- dialect: athena
-- source: https://github.com/chariotsolutions/aws-examples/blob/90f4e3cb38f6cbfe5df9be6226985745497a0c6f/access_cloudtrail_with_athena/raw_partition_projection.ddl
-- construct: string-boolean, string-eventtime
-- answer: readonly = 'true' events of 2017-06-01 per service: kms.amazonaws.com 726 and s3.amazonaws.com 20 (the only records carrying the flag with that value).
SELECT eventsource, count(*) AS read_calls
FROM cloudtrail
WHERE readonly = 'true'
  AND eventtime LIKE '2017-06-01T%'
GROUP BY eventsource
ORDER BY read_calls DESC;
