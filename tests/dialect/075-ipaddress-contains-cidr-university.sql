-- dialect: athena
-- source: https://trino.io/docs/current/functions/ipaddress.html
-- construct: ipaddress, trino-fn:contains, trino-fn:regexp_like
-- answer: calls from 158.42.0.0/16 per (user, IP): micafer from 158.42.104.164 (696), gmolto from 158.42.104.174 (472), alucloud00 from 158.42.104.174 (170), ...
SELECT useridentity.username, sourceipaddress, count(*) AS calls
FROM cloudtrail
WHERE regexp_like(sourceipaddress, '^[0-9.]+$')
  AND contains('158.42.0.0/16', CAST(sourceipaddress AS IPADDRESS))
GROUP BY useridentity.username, sourceipaddress
ORDER BY calls DESC;
