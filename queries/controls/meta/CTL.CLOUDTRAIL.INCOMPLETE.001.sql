-- A verdict of inconclusive means a fact the control needs was not in the evidence. This meta
-- control (run after the others, over the `findings` table) says so per account: fail (info)
-- when any of the account's findings is inconclusive, listing each control, its resources and
-- the reasons its evidence gives; pass when every finding of the account was decided. Findings
-- without an account (a control that returned no row, lacked a parameter or failed to run) are
-- judged under one 'catalog' row. For snapshot accounts, the expected API calls the snapshot
-- lacks (missing_calls) or that answered only with an error (failed_calls) are listed too.
WITH scoped AS (
  SELECT f.*,
         coalesce(f.account_id, '') AS scope,
         coalesce(json_extract_scalar(f.evidence, '$.reason'),
                  json_extract_scalar(f.evidence, '$.note'),
                  json_extract_scalar(f.evidence, '$.error'),
                  CASE WHEN json_extract_scalar(f.evidence, '$.check') IS NOT NULL
                       THEN 'check ' || json_extract_scalar(f.evidence, '$.check') || ': ' || f.evidence END,
                  f.evidence) AS reason
  FROM findings f
  WHERE f.control_id <> 'CTL.CLOUDTRAIL.INCOMPLETE.001'
),
per_control AS (
  SELECT scope, control_id,
         count(*) AS findings,
         array_agg(DISTINCT resource) AS resources,
         array_agg(DISTINCT reason) AS reasons
  FROM scoped
  WHERE status = 'inconclusive'
  GROUP BY scope, control_id
),
per_scope AS (
  SELECT s.scope,
         count(*) AS findings,
         count(*) FILTER (WHERE s.status = 'inconclusive') AS inconclusive,
         count(DISTINCT s.control_id) AS controls
  FROM scoped s
  GROUP BY s.scope
),
listed AS (
  SELECT scope,
         array_sort(array_agg(named_struct('control_id', control_id, 'findings', findings,
                                           'resources', resources, 'reasons', reasons))) AS inconclusive_controls
  FROM per_control
  GROUP BY scope
),
expected(service, operation, needed_for) AS (
  VALUES
    ('cloudtrail', 'DescribeTrails', 'trails'),
    ('cloudtrail', 'GetTrailStatus', 'trails'),
    ('cloudtrail', 'GetEventSelectors', 'trails'),
    ('cloudtrail', 'GetInsightSelectors', 'trails'),
    ('s3', 'ListBuckets', 'trail bucket'),
    ('s3', 'HeadBucket', 'trail bucket'),
    ('s3', 'GetBucketPolicy', 'trail bucket'),
    ('s3', 'GetBucketLifecycleConfiguration', 'trail bucket'),
    ('s3', 'GetBucketVersioning', 'trail bucket'),
    ('s3', 'GetObjectLockConfiguration', 'trail bucket'),
    ('s3', 'GetBucketLogging', 'trail bucket'),
    ('s3', 'GetBucketReplication', 'trail bucket'),
    ('logs', 'DescribeLogGroups', 'CloudWatch Logs'),
    ('logs', 'DescribeMetricFilters', 'alarms'),
    ('cloudwatch', 'DescribeAlarms', 'alarms'),
    ('iam', 'GetAccountAuthorizationDetails', 'access'),
    ('organizations', 'DescribeOrganization', 'organization'),
    ('organizations', 'ListParents', 'organization member'),
    ('organizations', 'ListPoliciesForTarget', 'organization member'),
    ('organizations', 'DescribePolicy', 'organization member')
),
calls AS (
  -- error codes that answer "absent" (or "not a member") are answers, not failures
  SELECT account_id, lower(service) AS service, operation,
         bool_or(error_code IS NULL OR error_code IN (
           'NoSuchBucketPolicy', 'NoSuchLifecycleConfiguration', 'ObjectLockConfigurationNotFoundError',
           'ReplicationConfigurationNotFoundError', 'InsightNotEnabledException', 'NoSuchBucket', 'NoSuchEntity',
           'NotFound', 'NotFoundException', 'ResourceNotFoundException', '404', '403',
           'AWSOrganizationsNotInUseException', 'TrailNotFoundException')) AS answered
  FROM snapshot_calls
  GROUP BY account_id, lower(service), operation
),
gaps AS (
  SELECT s.account_id,
         array_agg(e.service || ':' || e.operation ORDER BY e.service, e.operation) FILTER (WHERE c.account_id IS NULL) AS missing_calls,
         array_agg(e.service || ':' || e.operation ORDER BY e.service, e.operation) FILTER (WHERE c.account_id IS NOT NULL AND NOT c.answered) AS failed_calls
  FROM (SELECT DISTINCT account_id FROM snapshots) s
  CROSS JOIN expected e
  LEFT JOIN organization o ON o.account_id = s.account_id
  LEFT JOIN calls c ON c.account_id = s.account_id AND c.service = e.service AND c.operation = e.operation
  -- a non-member or the management account has no SCP path to capture
  WHERE NOT (e.needed_for = 'organization member'
             AND (o.is_member = false OR o.management_account_id = s.account_id))
  GROUP BY s.account_id
)
SELECT CASE WHEN p.inconclusive > 0 THEN 'fail' ELSE 'pass' END AS status,
       CASE WHEN p.scope = '' THEN 'catalog' ELSE 'account/' || p.scope END AS resource,
       nullif(p.scope, '') AS account_id,
       p.findings,
       p.inconclusive AS inconclusive_findings,
       to_json(l.inconclusive_controls) AS inconclusive_controls,
       CASE WHEN p.inconclusive > 0 THEN to_json(g.missing_calls) END AS missing_calls,
       CASE WHEN p.inconclusive > 0 THEN to_json(g.failed_calls) END AS failed_calls,
       CASE WHEN p.scope <> '' AND sa.account_id IS NULL THEN 'no snapshot for this account' END AS note
FROM per_scope p
LEFT JOIN listed l ON l.scope = p.scope
LEFT JOIN gaps g ON g.account_id = p.scope
LEFT JOIN (SELECT DISTINCT account_id FROM snapshots) sa ON sa.account_id = p.scope
