-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: element_at-map, camelcase
-- answer: the two failed sign-ins of 2014-09-27: 04:50:01 from 83.37.50.95 ("No username found in supplied account") and 13:11:42 by alucloud34 from 213.37.139.133 ("Failed authentication").
SELECT
    eventTime,
    userIdentity.userName,
    sourceIPAddress,
    errorMessage,
    element_at(additionalEventData, 'LoginTo') AS loginTo
FROM cloudtrail
WHERE eventName = 'ConsoleLogin'
  AND element_at(responseElements, 'ConsoleLogin') = 'Failure'
  AND eventTime > '2014-09-01 00:00:00'
ORDER BY eventTime
