-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: trino-fn:day_of_week, trino-fn:hour, element_at-map, camelcase, output-name
-- answer: 15 console sign-ins before 07:00, from 20:00 UTC or on weekends: most on Saturday 2014-09-27 (alucloud31, alucloud34 twice, ...), plus evening logins such as alucloud05 and alucloud195 on 2017-06-01.
SELECT
    eventTime,
    userIdentity.arn,
    userIdentity.userName,
    sourceIPAddress,
    element_at(responseElements, 'ConsoleLogin') AS outcome
FROM cloudtrail
WHERE eventName = 'ConsoleLogin'
  AND (hour(eventTime) < 7 OR hour(eventTime) >= 20 OR day_of_week(eventTime) IN (6, 7))
ORDER BY eventTime
