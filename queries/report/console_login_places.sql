-- Console sign-ins by account and place (reports given --geoip or --asn): a sign-in from a
-- country or network the account's people never use is the first thing a reviewer looks for.
SELECT account_id, country, asn, as_org,
       COALESCE(sum(events) FILTER (WHERE login_result = 'Success'), 0) AS succeeded,
       COALESCE(sum(events) FILTER (WHERE login_result <> 'Success'), 0) AS failed,
       count(DISTINCT principal) AS principals
FROM activity
WHERE eventname = 'ConsoleLogin'
GROUP BY account_id, country, asn, as_org
ORDER BY account_id, sum(events) DESC, country NULLS LAST, asn NULLS LAST, as_org NULLS LAST
