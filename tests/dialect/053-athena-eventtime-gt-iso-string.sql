-- dialect: athena
-- source: https://aws.amazon.com/blogs/big-data/aws-cloudtrail-and-amazon-athena-dive-deep-to-analyze-security-compliance-and-operational-activity/
-- construct: string-eventtime, json, trino-fn:json_extract_scalar
-- answer: the two 2018 console sign-ins: alucloud00 on 2018-01-30 from 158.42.141.220 and alucloud147 on 2018-02-28 from 83.57.141.36, both without MFA.
SELECT useridentity.username, sourceipaddress, eventtime,
       json_extract_scalar(additionaleventdata, '$.MFAUsed') AS mfaused
FROM cloudtrail
WHERE eventname = 'ConsoleLogin'
  AND eventtime > '2018-01-01T00:00:00Z'
  AND eventtime < '2019-01-01T00:00:00Z';
