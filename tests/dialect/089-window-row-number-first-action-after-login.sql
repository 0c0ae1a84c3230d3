-- dialect: athena
-- source: https://trino.io/docs/current/functions/window.html
-- construct: cte, window, trino-fn:from_iso8601_timestamp
-- answer: for each IAM user the first three non-login API calls of 2017-06-01 in time order (e.g. micafer starts with ec2 Describe calls at 06:3x).
WITH ordered AS (
  SELECT useridentity.username AS user_name,
         eventtime,
         eventsource,
         eventname,
         row_number() OVER (PARTITION BY useridentity.username ORDER BY eventtime) AS rn
  FROM cloudtrail
  WHERE useridentity.type = 'IAMUser'
    AND eventname <> 'ConsoleLogin'
    AND from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2017-06-01T00:00:00Z')
    AND from_iso8601_timestamp(eventtime) < from_iso8601_timestamp('2017-06-02T00:00:00Z')
)
SELECT user_name, rn, eventtime, eventsource, eventname
FROM ordered
WHERE rn <= 3
ORDER BY user_name, rn;
