-- dialect: athena
-- source: https://trino.io/docs/current/functions/window.html
-- construct: cte, window, trino-fn:date_diff, trino-fn:from_iso8601_timestamp
-- answer: consecutive calls by the same IAM user that switch source IP, with the seconds between them; users such as gmolto, alucloud00 and alucloud11 hop between several addresses.
WITH calls AS (
  SELECT useridentity.username AS user_name,
         eventtime,
         sourceipaddress,
         lag(sourceipaddress) OVER (PARTITION BY useridentity.username ORDER BY eventtime) AS prev_ip,
         lag(eventtime) OVER (PARTITION BY useridentity.username ORDER BY eventtime) AS prev_time
  FROM cloudtrail
  WHERE useridentity.type = 'IAMUser'
)
SELECT user_name, prev_time, prev_ip, eventtime, sourceipaddress,
       date_diff('second', from_iso8601_timestamp(prev_time), from_iso8601_timestamp(eventtime)) AS gap_seconds
FROM calls
WHERE prev_ip IS NOT NULL
  AND prev_ip <> sourceipaddress
ORDER BY user_name, eventtime;
