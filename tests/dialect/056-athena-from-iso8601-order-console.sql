-- dialect: athena
-- source: https://github.com/kaldurjoy/TuK-cloudtrail-athena/blob/9458cf6d092c9fb427b844a33ef2a886f18eb678/starter.sql
-- construct: trino-fn:from_iso8601_timestamp, output-name
-- answer: the 36 console sign-ins newest first, starting with alucloud147 (2018-02-28) and alucloud00 (2018-01-30).
SELECT eventtime, useridentity.arn, sourceipaddress
FROM cloudtrail
WHERE eventname = 'ConsoleLogin'
ORDER BY from_iso8601_timestamp(eventtime) DESC
LIMIT 50;
