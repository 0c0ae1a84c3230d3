-- dialect: athena
-- source: https://trino.io/docs/current/functions/datetime.html
-- construct: trino-fn:day_of_week, trino-fn:from_iso8601_timestamp, partition-region
-- answer: only 4 non-read calls in the sa-east-1 folders: 2 on Tuesday (2) and 2 on Wednesday (3).
SELECT day_of_week(from_iso8601_timestamp(eventtime)) AS weekday,
       count(*) AS write_calls
FROM cloudtrail
WHERE region = 'sa-east-1'
  AND eventname NOT LIKE 'Describe%'
  AND eventname NOT LIKE 'List%'
  AND eventname NOT LIKE 'Get%'
GROUP BY 1
ORDER BY 1;
