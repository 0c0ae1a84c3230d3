-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/console-login-with-no-mfa.sql
-- construct: element_at-map, trino-fn:split_part, camelcase
-- answer: landing service per successful sign-in: console 26, ec2 6, orch 1 (alucloud05 on mobile), rds 1.
SELECT
    split_part(split_part(element_at(additionalEventData, 'LoginTo'), '.com/', 2), '/', 1) AS landingService,
    count(*) AS logins
FROM cloudtrail
WHERE eventName = 'ConsoleLogin'
  AND element_at(responseElements, 'ConsoleLogin') = 'Success'
GROUP BY 1
ORDER BY logins DESC
