-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/console-login-with-no-mfa.sql
-- construct: element_at-map, camelcase
-- answer: all 36 ConsoleLogin records (root included): MFAUsed is "No" on every sign-in in the archive.
SELECT
    *
FROM
    cloudtrail
WHERE
    eventsource = 'signin.amazonaws.com'
    AND eventname = 'ConsoleLogin'
    AND Element_at(additionaleventdata, 'MFAUsed') = 'No'
