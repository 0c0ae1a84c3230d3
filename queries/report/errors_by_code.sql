-- Failed calls by error code: AccessDenied spikes are reconnaissance or broken automation.
SELECT errorcode, sum(events) AS events, count(DISTINCT principal) AS principals
FROM activity
WHERE errorcode IS NOT NULL
GROUP BY errorcode
ORDER BY events DESC, errorcode
LIMIT 15
