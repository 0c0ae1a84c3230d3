-- dialect: athena
-- source: https://trino.io/docs/current/functions/window.html
-- construct: cte, window, json, trino-fn:json_extract_scalar, trino-fn:date_diff, trino-fn:from_iso8601_timestamp, leading-comment
-- answer: two pairs from 2014-09-27: 83.37.50.95 failed at 04:50:01 and alucloud31 succeeded 8 s later; alucloud34 failed at 13:11:42 and succeeded 12 s later.
-- Brute-force check: a failed sign-in followed by a success from the same IP within 5 minutes.
-- Keyed on sourceipaddress because failed logins may hide the user name.
WITH logins AS (
  SELECT sourceipaddress,
         useridentity.username AS user_name,
         eventtime,
         json_extract_scalar(responseelements, '$.ConsoleLogin') AS outcome,
         lag(json_extract_scalar(responseelements, '$.ConsoleLogin'))
           OVER (PARTITION BY sourceipaddress ORDER BY eventtime) AS prev_outcome,
         lag(eventtime) OVER (PARTITION BY sourceipaddress ORDER BY eventtime) AS prev_time
  FROM cloudtrail
  WHERE eventname = 'ConsoleLogin'
)
SELECT sourceipaddress, user_name, prev_time AS failed_at, eventtime AS succeeded_at,
       date_diff('second', from_iso8601_timestamp(prev_time), from_iso8601_timestamp(eventtime)) AS seconds_between
FROM logins
WHERE outcome = 'Success'
  AND prev_outcome = 'Failure'
  AND date_diff('second', from_iso8601_timestamp(prev_time), from_iso8601_timestamp(eventtime)) <= 300;
