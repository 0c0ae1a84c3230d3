-- A member account's own trails can be stopped or deleted from inside the account; an
-- organization trail cannot, so each member account should be covered by one that is logging.
-- Per account, from the `organization` table (is_member false = answered "not in an
-- organization", no row = not captured) and the trails the account's DescribeTrails lists.
WITH accounts AS (
  SELECT a.account_id, coalesce(bool_or(c.operation IS NOT NULL), false) AS trails_captured
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN snapshot_calls c
    ON c.account_id = a.account_id AND c.operation = 'DescribeTrails' AND c.error_code IS NULL
  GROUP BY a.account_id
),
org AS (
  SELECT account_id, bool_or(is_member) AS is_member,
         max(organization_id) AS organization_id, max(management_account_id) AS management_account_id
  FROM organization
  GROUP BY account_id
),
org_trails AS (
  SELECT account_id,
         sum(CASE WHEN is_logging THEN 1 ELSE 0 END) AS logging,
         sum(CASE WHEN is_logging IS NULL THEN 1 ELSE 0 END) AS unknown,
         array_agg(named_struct('trail', trail_arn, 'is_logging', is_logging,
                                'multi_region', is_multi_region_trail)) AS trails
  FROM trail_facts
  WHERE is_organization_trail
  GROUP BY account_id
)
SELECT CASE
         WHEN o.is_member IS NULL THEN 'inconclusive'
         WHEN NOT o.is_member THEN 'pass'
         WHEN NOT a.trails_captured THEN 'inconclusive'
         WHEN coalesce(t.logging, 0) > 0 THEN 'pass'
         WHEN coalesce(t.unknown, 0) > 0 THEN 'inconclusive'
         ELSE 'fail'
       END AS status,
       'account/' || a.account_id AS resource,
       a.account_id,
       o.is_member AS organization_member,
       o.organization_id,
       o.management_account_id,
       a.trails_captured,
       to_json(t.trails) AS organization_trails
FROM accounts a
LEFT JOIN org o ON o.account_id = a.account_id
LEFT JOIN org_trails t ON t.account_id = a.account_id
