-- dialect: athena
-- source: https://trino.io/docs/current/functions/aggregate.html
-- construct: cte, trino-fn:approx_percentile, trino-fn:count_if, trino-fn:from_iso8601_timestamp, trino-fn:date_trunc, partition-region
-- answer: one row for sa-east-1: 118 user-days, median about 7 calls, p90 about 23, maximum 452 (alucloud131 on 2018-04-25), 20 user-days with at least one error.
WITH user_days AS (
  SELECT useridentity.username AS user_name,
         date_trunc('day', from_iso8601_timestamp(eventtime)) AS day,
         count(*) AS calls,
         count_if(errorcode IS NOT NULL) AS errors
  FROM cloudtrail
  WHERE region = 'sa-east-1'
  GROUP BY 1, 2
)
SELECT count(*) AS user_days,
       approx_percentile(calls, 0.5) AS p50_calls,
       approx_percentile(calls, 0.9) AS p90_calls,
       max(calls) AS max_calls,
       count_if(errors > 0) AS user_days_with_errors
FROM user_days;
