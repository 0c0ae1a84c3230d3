-- The period in numbers.
SELECT COALESCE(sum(events), 0) AS events,
       COALESCE(sum(events) FILTER (WHERE errorcode IS NOT NULL), 0) AS errors,
       count(DISTINCT account_id) AS accounts,
       count(DISTINCT region) AS regions,
       count(DISTINCT principal) AS principals
FROM activity
