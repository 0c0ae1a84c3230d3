-- dialect: athena
-- source: https://github.com/awsdocs/amazon-athena-user-guide/blob/765e909ebcf8817b22efad881b7f90f32440b891/doc_source/cloudtrail-logs.md
-- construct: output-name
-- answer: 100 rows of caller ARN (column printed as arn), event name, source IP and event time from anywhere in the archive.
SELECT
  useridentity.arn,
  eventname,
  sourceipaddress,
  eventtime
FROM cloudtrail
LIMIT 100;
