-- dialect: athena
-- source: https://trino.io/docs/current/sql/select.html
-- construct: json, trino-fn:json_extract_scalar, output-name
-- answer: activity from the two IPs with a failed console login: 213.37.139.133 (alucloud34, 1217 calls, plus the failed attempt) and 83.37.50.95 (alucloud31's login plus the HIDDEN_DUE_TO_SECURITY_REASONS failure).
SELECT sourceipaddress, useridentity.arn, count(*) AS calls,
       min(eventtime) AS first_seen, max(eventtime) AS last_seen
FROM cloudtrail
WHERE sourceipaddress IN (
    SELECT sourceipaddress
    FROM cloudtrail
    WHERE eventname = 'ConsoleLogin'
      AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure'
)
GROUP BY sourceipaddress, useridentity.arn
ORDER BY calls DESC;
