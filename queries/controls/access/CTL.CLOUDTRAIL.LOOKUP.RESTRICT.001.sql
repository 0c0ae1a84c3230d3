-- LookupEvents reads 90 days of management events (who did what, from where) without touching
-- the log bucket, so it is log access too. Fails for each IAM principal whose policies allow
-- cloudtrail:LookupEvents (iam_permissions; a conditional Allow counts as "may") outside the
-- allowed set = allowed_admin_principals + allowed_log_readers ('*' wildcards allowed), unless an
-- unconditional SCP Deny of LookupEvents binds the account (member, not the management account).
-- Principals whose attached policies the snapshot lacks are inconclusive.
-- Event part: per archive account, successful LookupEvents calls by callers outside the allowed
-- set (roles matched through the session issuer) fail, with each call's log file.
WITH allowed AS (
  SELECT pattern
  FROM (SELECT trim(unnest(string_to_array(${allowed_admin_principals} || ',' || ${allowed_log_readers}, ','))) AS pattern)
  WHERE pattern <> ''
),
captured AS (
  SELECT account_id,
         bool_or(service = 'iam' AND operation = 'GetAccountAuthorizationDetails') AS iam
  FROM snapshot_calls WHERE error_code IS NULL
  GROUP BY account_id
),
protection AS (
  SELECT s.account_id,
         coalesce(o.is_member, false) AND o.management_account_id <> s.account_id AND d.account_id IS NOT NULL AS scp_protected,
         d.denied_by
  FROM (SELECT DISTINCT account_id FROM snapshots) s
  LEFT JOIN organization o ON o.account_id = s.account_id
  LEFT JOIN (SELECT account_id, array_agg(DISTINCT policy_name || ' (' || target_id || ')') AS denied_by
             FROM scps WHERE denied_action = 'cloudtrail:LookupEvents' AND blanket
             GROUP BY account_id) d ON d.account_id = s.account_id
),
capable AS (
  SELECT p.account_id, p.principal_arn, p.principal_type, p.conditional, p.policies,
         CAST(NULL AS VARCHAR) AS unresolved_policies
  FROM iam_permissions p
  WHERE p.action = 'cloudtrail:LookupEvents'
  UNION ALL
  SELECT i.account_id, i.principal_arn, i.principal_type, CAST(NULL AS BOOLEAN), i.policies,
         i.unresolved_policies
  FROM iam_principals i
  LEFT JOIN iam_permissions p
    ON p.account_id = i.account_id AND p.principal_arn = i.principal_arn AND p.action = 'cloudtrail:LookupEvents'
  WHERE p.principal_arn IS NULL AND json_length(i.unresolved_policies) > 0
),
allowed_match AS (
  SELECT principal_arn, min(pattern) AS allowed_by
  FROM (SELECT DISTINCT principal_arn FROM capable
        UNION
        SELECT DISTINCT coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn) FROM cloudtrail
        WHERE eventname = 'LookupEvents' AND eventsource = 'cloudtrail.amazonaws.com') x
  JOIN allowed ON x.principal_arn LIKE replace(allowed.pattern, '*', '%')
  GROUP BY principal_arn
),
lookups AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn) AS principal_arn,
         eventtime, useridentity.arn AS caller, sourceipaddress, awsregion, log_file
  FROM cloudtrail
  WHERE eventname = 'LookupEvents' AND eventsource = 'cloudtrail.amazonaws.com' AND errorcode IS NULL
    AND coalesce(useridentity.type, '') <> 'AWSService'
),
principals AS (
  SELECT CASE
           WHEN m.allowed_by IS NOT NULL THEN 'pass'
           WHEN pr.scp_protected THEN 'pass'
           WHEN c.unresolved_policies IS NOT NULL THEN 'inconclusive'
           ELSE 'fail'
         END AS status,
         c.principal_arn AS resource,
         c.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'permission' AS check,
         c.principal_type,
         c.policies,
         c.conditional AS allow_is_conditional,
         c.unresolved_policies,
         m.allowed_by,
         pr.scp_protected,
         to_json(pr.denied_by) AS scp_denied_by,
         CAST(NULL AS VARCHAR) AS calls
  FROM capable c
  LEFT JOIN allowed_match m ON m.principal_arn = c.principal_arn
  LEFT JOIN protection pr ON pr.account_id = c.account_id
),
accounts AS (
  SELECT CASE WHEN coalesce(k.iam, false) THEN 'pass' ELSE 'inconclusive' END AS status,
         'account/' || s.account_id AS resource,
         s.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         CASE WHEN coalesce(k.iam, false) THEN 'permission: no IAM principal may call LookupEvents'
              ELSE 'permission: GetAccountAuthorizationDetails was not captured' END AS check,
         CAST(NULL AS VARCHAR) AS principal_type,
         CAST(NULL AS VARCHAR) AS policies,
         CAST(NULL AS BOOLEAN) AS allow_is_conditional,
         CAST(NULL AS VARCHAR) AS unresolved_policies,
         CAST(NULL AS VARCHAR) AS allowed_by,
         CAST(NULL AS BOOLEAN) AS scp_protected,
         CAST(NULL AS VARCHAR) AS scp_denied_by,
         CAST(NULL AS VARCHAR) AS calls
  FROM (SELECT DISTINCT account_id FROM snapshots) s
  LEFT JOIN captured k ON k.account_id = s.account_id
  LEFT JOIN (SELECT DISTINCT account_id FROM capable) x ON x.account_id = s.account_id
  WHERE x.account_id IS NULL OR NOT coalesce(k.iam, false)
),
outside AS (
  SELECT l.account_id,
         min(l.eventtime) AS window_start,
         max(l.eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', l.eventtime, 'principal', l.principal_arn, 'caller', l.caller,
                                           'source_ip', l.sourceipaddress, 'region', l.awsregion, 'log_file', l.log_file))) AS calls
  FROM lookups l
  LEFT JOIN allowed_match m ON m.principal_arn = l.principal_arn
  WHERE m.allowed_by IS NULL
  GROUP BY l.account_id
),
activity AS (
  SELECT CASE WHEN o.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(o.window_start, a.first_delivery) AS window_start,
         coalesce(o.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CAST(NULL AS VARCHAR) AS principal_type,
         CAST(NULL AS VARCHAR) AS policies,
         CAST(NULL AS BOOLEAN) AS allow_is_conditional,
         CAST(NULL AS VARCHAR) AS unresolved_policies,
         CAST(NULL AS VARCHAR) AS allowed_by,
         CAST(NULL AS BOOLEAN) AS scp_protected,
         CAST(NULL AS VARCHAR) AS scp_denied_by,
         to_json(o.calls) AS calls
  FROM archive_accounts a
  LEFT JOIN outside o ON o.account_id = a.account_id
)
SELECT * FROM principals
UNION ALL
SELECT * FROM accounts
UNION ALL
SELECT * FROM activity
