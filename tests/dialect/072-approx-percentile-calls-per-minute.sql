-- dialect: athena
-- source: https://trino.io/docs/current/functions/aggregate.html
-- construct: cte, trino-fn:approx_percentile, trino-fn:date_trunc, trino-fn:from_iso8601_timestamp
-- answer: per IAM user on 2017-06-01 the median and 95th percentile of calls per active minute; alucloud206 has the highest p95 (about 180 in one burst), then alucloud192, alucloud171 and micafer.
WITH per_minute AS (
  SELECT useridentity.username AS user_name,
         date_trunc('minute', from_iso8601_timestamp(eventtime)) AS minute,
         count(*) AS calls
  FROM cloudtrail
  WHERE eventtime LIKE '2017-06-01%'
    AND useridentity.type = 'IAMUser'
  GROUP BY 1, 2
)
SELECT user_name,
       count(*) AS active_minutes,
       approx_percentile(calls, 0.5) AS p50_calls,
       approx_percentile(calls, 0.95) AS p95_calls
FROM per_minute
GROUP BY user_name
ORDER BY p95_calls DESC
LIMIT 20;
