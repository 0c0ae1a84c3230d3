-- dialect: athena
-- source: https://trino.io/docs/current/functions/datetime.html
-- construct: cte, trino-fn:date_add, trino-fn:from_iso8601_timestamp
-- answer: 11 root events within 30 minutes of the 2014-09-26T13:43:42Z sign-in: ConsoleLogin and GetSessionToken at 13:43:42, then support-console reads (DescribeAccountLimits, GetAccountSummary, ...) at 13:49.
WITH root_logins AS (
  SELECT from_iso8601_timestamp(eventtime) AS login_time
  FROM cloudtrail
  WHERE eventname = 'ConsoleLogin'
    AND useridentity.type = 'Root'
)
SELECT c.eventtime, c.eventsource, c.eventname, c.sourceipaddress, c.useragent
FROM cloudtrail c
JOIN root_logins l
  ON from_iso8601_timestamp(c.eventtime) BETWEEN l.login_time AND date_add('minute', 30, l.login_time)
WHERE c.useridentity.type = 'Root'
ORDER BY c.eventtime;
