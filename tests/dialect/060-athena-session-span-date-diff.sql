-- dialect: athena
-- source: https://github.com/yanzhoushow/aws_incident_responder/blob/18928a626e67578c8455e07278c2a7816e1eb915/athena_query.sql
-- construct: cte, window, trino-fn:date_diff, trino-fn:from_iso8601_timestamp
-- answer: one row per IAM user name with its event count and mean seconds between events, e.g. alucloud171: 3654 events between 18:22:18 and 21:59:53 on 2017-06-01, about 3.6 s apart.
WITH events AS (
  SELECT useridentity.username AS user_name,
         min(eventtime) OVER (PARTITION BY useridentity.username) AS first_seen,
         max(eventtime) OVER (PARTITION BY useridentity.username) AS last_seen,
         count(*) OVER (PARTITION BY useridentity.username) AS event_count
  FROM cloudtrail
  WHERE useridentity.type = 'IAMUser'
    AND useridentity.username IS NOT NULL
)
SELECT DISTINCT user_name,
       event_count,
       DATE_DIFF('second', from_iso8601_timestamp(first_seen), from_iso8601_timestamp(last_seen)) * 1.0
         / (event_count - 1) AS mean_interval_in_second
FROM events
WHERE event_count > 1
ORDER BY event_count DESC;
