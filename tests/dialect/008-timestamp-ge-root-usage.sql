-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
-- construct: partition-timestamp, output-name
-- answer: root-credential events since 2014/09/01 not made by an AWS service: only the root ConsoleLogin of 2014-09-26T13:43:42Z from 158.42.105.124.
SELECT eventtime, eventname, useridentity.arn, sourceipaddress, useragent
FROM cloudtrail
WHERE timestamp >= '2014/09/01'
  AND useridentity.type = 'Root'
  AND useridentity.invokedby IS NULL
ORDER BY eventtime;
