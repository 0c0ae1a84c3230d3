-- dialect: athena
-- source: https://github.com/chariotsolutions/aws-examples/blob/26be20421ed420227c72a9d2b94a0158c96f9f25/access_cloudtrail_with_athena/raw_unpartitioned.sql
-- construct: string-eventtime
-- answer: 354 events in March 2018 for account 974349055189 in sa-east-1.
SELECT count(*)
FROM cloudtrail
WHERE useridentity.accountid = '974349055189'
  AND substr(eventtime, 1, 7) = '2018-03'
  AND awsregion = 'sa-east-1';
