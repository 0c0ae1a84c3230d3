-- dialect: athena
-- source: https://trino.io/docs/current/functions/datetime.html
-- construct: trino-fn:format_datetime, trino-fn:from_iso8601_timestamp
-- answer: console sign-ins per UTC hour of day (16 distinct hours, 36 in total); 08h is the peak with 6, 04h holds the failed and successful logins of 2014-09-27.
SELECT format_datetime(from_iso8601_timestamp(eventtime), 'HH') AS hour_of_day,
       count(*) AS logins
FROM cloudtrail
WHERE eventname = 'ConsoleLogin'
GROUP BY 1
ORDER BY 1;
