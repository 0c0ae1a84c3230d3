-- The busiest principals, with how many of their calls failed.
SELECT principal, principal_type,
       sum(events) AS events,
       COALESCE(sum(events) FILTER (WHERE errorcode IS NOT NULL), 0) AS errors,
       count(DISTINCT account_id) AS accounts
FROM activity
GROUP BY principal, principal_type
ORDER BY events DESC, principal
LIMIT 15
