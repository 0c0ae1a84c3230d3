-- The busiest principals, with how many of their calls failed. Accounts are counted by grouping
-- twice, not with count(DISTINCT): a distinct-set per principal costs a gigabyte on a month of
-- ninety thousand session principals.
SELECT principal, principal_type,
       sum(events) AS events,
       sum(errors) AS errors,
       count(*) AS accounts
FROM (SELECT principal, principal_type, account_id,
             sum(events) AS events,
             COALESCE(sum(events) FILTER (WHERE errorcode IS NOT NULL), 0) AS errors
      FROM activity
      GROUP BY principal, principal_type, account_id)
GROUP BY principal, principal_type
ORDER BY events DESC, principal
LIMIT 15
