-- Calls by the root user (CIS 1.7), by account, day and event.
SELECT account_id, day, eventname, sum(events) AS events,
       COALESCE(sum(events) FILTER (WHERE errorcode IS NOT NULL), 0) AS errors
FROM activity
WHERE root_usage
GROUP BY account_id, day, eventname
ORDER BY account_id, day, eventname
