-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
-- construct: string-boolean, output-name
-- answer: the 8 events flagged readOnly=false: alucloud00's KMS CreateGrant calls (invoked through Lambda) on 2017-06-01.
SELECT eventtime, eventsource, eventname, useridentity.arn, useridentity.invokedby
FROM cloudtrail
WHERE readonly = 'false'
ORDER BY eventtime;
