-- What each access key did: first and last use, calls, distinct operations and source IPs.
-- For one key's full history: WHERE useridentity.accesskeyid = 'AKIA...' and select the rows.
SELECT useridentity.accesskeyid AS access_key,
       first_value(useridentity.arn) AS principal,
       min(eventtime) AS first_seen, max(eventtime) AS last_seen,
       count(*) AS calls, count(errorcode) AS errors,
       count(DISTINCT eventname) AS operations, count(DISTINCT sourceipaddress) AS source_ips
FROM cloudtrail
WHERE useridentity.accesskeyid IS NOT NULL
GROUP BY useridentity.accesskeyid
ORDER BY calls DESC;
