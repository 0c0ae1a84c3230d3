-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
-- construct: partition-timestamp, string-boolean, output-name
-- answer: write (readonly = 'false') kms calls in the 2017/06/01 folder: alucloud00's 8 CreateGrant calls through Lambda.
SELECT eventtime, eventname, useridentity.arn, useridentity.invokedby, readonly
FROM cloudtrail
WHERE timestamp = '2017/06/01'
  AND eventsource = 'kms.amazonaws.com'
  AND readonly = 'false';
