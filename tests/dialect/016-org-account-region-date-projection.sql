-- dialect: athena
-- source: https://github.com/sugikeitter/aws-demo/blob/040e87144df934ef80eb238e21e05eee02a086c7/athena-query/my_cloudtrail_partition_projection.md
-- construct: partition-account, partition-region, output-name
-- answer: the 36 ConsoleLogin events in us-east-1 of account 974349055189 from 2014 to 2017 (2 failures: HIDDEN_DUE_TO_SECURITY_REASONS and alucloud34).
SELECT eventtime, useridentity.arn, sourceipaddress, responseelements, errormessage
FROM cloudtrail
WHERE account = '974349055189'
  AND region = 'us-east-1'
  AND "date" BETWEEN '2014/01/01' AND '2017/12/31'
  AND eventname = 'ConsoleLogin'
ORDER BY eventtime;
