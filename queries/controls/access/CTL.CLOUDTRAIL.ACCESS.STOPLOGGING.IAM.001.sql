-- Who may stop the trail? Every IAM principal whose policies allow cloudtrail:StopLogging
-- (StopLogging, Stop*, cloudtrail:*, *; from iam_permissions: an unconditional Deny removes it, a
-- conditional Allow still counts as "may") fails unless it is in allowed_admin_principals ('*'
-- wildcards allowed) or an SCP protects it: an unconditional SCP Deny of StopLogging on every
-- trail, in an organization member that is not the management account (SCPs never bind the
-- management account). A principal whose attached policies the snapshot lacks is inconclusive.
-- Escalation: a failing principal that the archive shows calling StopLogging (matched on the
-- session issuer for roles) stays fail with escalated = true and the calls as evidence.
WITH allowed AS (
  SELECT pattern FROM (SELECT trim(unnest(string_to_array(${allowed_admin_principals}, ','))) AS pattern)
  WHERE pattern <> ''
),
iam_captured AS (
  SELECT account_id,
         bool_or(service = 'iam' AND operation = 'GetAccountAuthorizationDetails') AS iam,
         bool_or(service = 'organizations' AND operation = 'ListPoliciesForTarget') AS scps_listed
  FROM snapshot_calls WHERE error_code IS NULL
  GROUP BY account_id
),
scp_denial AS (
  SELECT account_id, array_agg(DISTINCT policy_name || ' (' || target_id || ')') AS denied_by
  FROM scps
  WHERE denied_action = 'cloudtrail:StopLogging' AND blanket
  GROUP BY account_id
),
protection AS (
  -- Does an SCP keep every principal of the account from stopping logging? NULL = cannot tell.
  SELECT s.account_id,
         CASE
           WHEN o.is_member = false OR o.management_account_id = s.account_id THEN false
           WHEN d.account_id IS NOT NULL AND o.is_member THEN true
           WHEN d.account_id IS NOT NULL THEN CAST(NULL AS BOOLEAN)  -- membership not captured
           WHEN coalesce(c.scps_listed, false) THEN false
           ELSE CAST(NULL AS BOOLEAN)
         END AS scp_protected,
         CASE
           WHEN o.is_member = false THEN 'not an organization member: no SCP applies'
           WHEN o.management_account_id = s.account_id THEN 'management account: SCPs do not apply to it'
           WHEN d.account_id IS NOT NULL AND o.is_member THEN 'an SCP denies StopLogging on every trail'
           WHEN d.account_id IS NOT NULL THEN 'an SCP denies StopLogging but DescribeOrganization was not captured (management account?)'
           WHEN coalesce(c.scps_listed, false) THEN 'no captured SCP denies StopLogging on every trail'
           ELSE 'SCPs were not captured (ListPoliciesForTarget)'
         END AS scp_note,
         d.denied_by
  FROM (SELECT DISTINCT account_id FROM snapshots) s
  LEFT JOIN organization o ON o.account_id = s.account_id
  LEFT JOIN scp_denial d ON d.account_id = s.account_id
  LEFT JOIN iam_captured c ON c.account_id = s.account_id
),
capable AS (
  SELECT p.account_id, p.principal_arn, p.principal_type, p.conditional, p.policies,
         CAST(NULL AS VARCHAR) AS unresolved_policies
  FROM iam_permissions p
  WHERE p.action = 'cloudtrail:StopLogging'
  UNION ALL
  -- principals with attached policies the snapshot lacks: they may be able to, we cannot tell
  SELECT i.account_id, i.principal_arn, i.principal_type, CAST(NULL AS BOOLEAN), i.policies,
         i.unresolved_policies
  FROM iam_principals i
  LEFT JOIN iam_permissions p
    ON p.account_id = i.account_id AND p.principal_arn = i.principal_arn AND p.action = 'cloudtrail:StopLogging'
  WHERE p.principal_arn IS NULL AND json_length(i.unresolved_policies) > 0
),
judged AS (
  SELECT c.*,
         a.pattern AS allowed_by,
         pr.scp_protected, pr.scp_note, pr.denied_by
  FROM capable c
  LEFT JOIN (SELECT principal_arn, min(pattern) AS pattern
             FROM (SELECT DISTINCT principal_arn FROM capable) x
             JOIN allowed ON x.principal_arn LIKE replace(allowed.pattern, '*', '%')
             GROUP BY principal_arn) a ON a.principal_arn = c.principal_arn
  LEFT JOIN protection pr ON pr.account_id = c.account_id
),
calls AS (
  SELECT coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn) AS principal_arn,
         coalesce(recipientaccountid, account_id) AS account_id,
         count(*) FILTER (WHERE errorcode IS NULL) AS successful,
         min(eventtime) AS first_call,
         max(eventtime) AS last_call,
         array_sort(array_agg(named_struct('eventtime', eventtime, 'trail', json_extract_scalar(requestparameters, '$.name'),
                                           'error_code', errorcode, 'caller', useridentity.arn,
                                           'source_ip', sourceipaddress, 'region', awsregion, 'log_file', log_file))) AS events
  FROM cloudtrail
  WHERE eventname = 'StopLogging' AND eventsource = 'cloudtrail.amazonaws.com'
  GROUP BY 1, 2
),
principals AS (
  SELECT CASE
           WHEN j.allowed_by IS NOT NULL THEN 'pass'
           WHEN j.scp_protected THEN 'pass'
           WHEN j.unresolved_policies IS NOT NULL THEN 'inconclusive'
           WHEN j.scp_protected IS NULL THEN 'inconclusive'
           ELSE 'fail'
         END AS status,
         j.principal_arn AS resource,
         j.account_id,
         CAST(NULL AS VARCHAR) AS region,
         k.first_call AS window_start,
         k.last_call AS window_end,
         j.principal_type,
         j.policies,
         j.conditional AS allow_is_conditional,
         j.unresolved_policies,
         j.allowed_by,
         j.scp_protected,
         j.scp_note,
         to_json(j.denied_by) AS scp_denied_by,
         j.allowed_by IS NULL AND NOT coalesce(j.scp_protected, false) AND coalesce(k.successful, 0) > 0 AS escalated,
         to_json(k.events) AS stoplogging_calls
  FROM judged j
  LEFT JOIN calls k ON k.account_id = j.account_id AND k.principal_arn = j.principal_arn
),
accounts AS (
  -- one row per snapshot account where no principal is listed: nobody may stop logging, or
  -- the IAM answer was not captured
  SELECT CASE WHEN coalesce(c.iam, false) THEN 'pass' ELSE 'inconclusive' END AS status,
         'account/' || s.account_id AS resource,
         s.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         CAST(NULL AS VARCHAR) AS principal_type,
         CAST(NULL AS VARCHAR) AS policies,
         CAST(NULL AS BOOLEAN) AS allow_is_conditional,
         CAST(NULL AS VARCHAR) AS unresolved_policies,
         CAST(NULL AS VARCHAR) AS allowed_by,
         pr.scp_protected,
         CASE WHEN coalesce(c.iam, false) THEN 'no IAM principal may call cloudtrail:StopLogging'
              ELSE 'GetAccountAuthorizationDetails was not captured' END AS scp_note,
         to_json(pr.denied_by) AS scp_denied_by,
         CAST(NULL AS BOOLEAN) AS escalated,
         CAST(NULL AS VARCHAR) AS stoplogging_calls
  FROM (SELECT DISTINCT account_id FROM snapshots) s
  LEFT JOIN iam_captured c ON c.account_id = s.account_id
  LEFT JOIN protection pr ON pr.account_id = s.account_id
  LEFT JOIN (SELECT DISTINCT account_id FROM capable) x ON x.account_id = s.account_id
  WHERE x.account_id IS NULL OR NOT coalesce(c.iam, false)
)
SELECT * FROM principals
UNION ALL
SELECT * FROM accounts
