-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
-- construct: string-boolean, string-eventtime, output-name
-- answer: empty: sessioncredentialfromconsole was added to CloudTrail after 2018, so no grycap record carries it.
SELECT eventtime, useridentity.arn, eventsource, eventname, readonly
FROM cloudtrail
WHERE sessioncredentialfromconsole = 'true'
  AND readonly = 'false'
  AND eventtime >= '2017-01-01T00:00:00Z';
