-- dialect: athena
-- source: https://github.com/chariotsolutions/aws-examples/blob/26be20421ed420227c72a9d2b94a0158c96f9f25/access_cloudtrail_with_athena/raw_unpartitioned.sql
-- construct: string-eventtime, output-name
-- answer: the Delete* calls of June 2017 (all on 2017-06-01) newest first: 140 DeleteSnapshot, 13 DeleteSecurityGroup, 13 DeleteFunction20150331, 11 DeleteLogGroup, ..., DeleteBucket alucloud171 and DeleteUser acarrion.
SELECT useridentity.arn, eventtime, eventname, requestparameters
FROM cloudtrail
WHERE eventname LIKE 'Delete%'
  AND eventtime LIKE '2017-06-%'
ORDER BY eventtime DESC;
