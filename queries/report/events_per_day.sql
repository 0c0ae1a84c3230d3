-- Events and failed calls per day, account and region.
SELECT day, account_id, region,
       sum(events) AS events,
       COALESCE(sum(events) FILTER (WHERE errorcode IS NOT NULL), 0) AS errors
FROM activity
GROUP BY day, account_id, region
ORDER BY day, account_id, region
