-- dialect: athena
-- source: https://aws.amazon.com/blogs/big-data/aws-cloudtrail-and-amazon-athena-dive-deep-to-analyze-security-compliance-and-operational-activity/
-- construct: partition-timestamp, string-eventtime
-- answer: the 18 console sign-ins of 2014-09-26/27 with their additionaleventdata (LoginTo, MobileVersion, MFAUsed "No").
SELECT useridentity.username, sourceipaddress, eventtime, additionaleventdata
FROM cloudtrail
WHERE timestamp >= '2014/09/26'
  AND timestamp < '2014/09/28'
  AND eventname = 'ConsoleLogin'
  AND eventtime >= '2014-09-26T00:00:00Z'
  AND eventtime < '2014-09-28T00:00:00Z';
