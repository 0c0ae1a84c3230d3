-- Console sign-ins per account: successful with and without MFA, and failed.
SELECT account_id,
       COALESCE(sum(events) FILTER (WHERE login_result = 'Success' AND login_mfa = 'Yes'), 0) AS with_mfa,
       COALESCE(sum(events) FILTER (WHERE login_result = 'Success' AND login_mfa <> 'Yes'), 0) AS without_mfa,
       COALESCE(sum(events) FILTER (WHERE login_result <> 'Success'), 0) AS failed,
       count(DISTINCT principal) AS principals
FROM activity
WHERE eventname = 'ConsoleLogin'
GROUP BY account_id
ORDER BY account_id
