-- Can a member account stop its own logging? Only an SCP on its path (the account, its OUs, the
-- root) guarantees it cannot: an unconditional Deny of cloudtrail:StopLogging covering every
-- trail. The account's path comes from ListParents (walked to the ROOT); a path target whose
-- ListPoliciesForTarget is missing, or a policy whose DescribePolicy is missing, could hold the
-- denial: inconclusive rather than fail when no denial was found. DeleteTrail, UpdateTrail and
-- PutEventSelectors are reported (not_denied) but only StopLogging decides. The management
-- account (SCPs do not bind it) and non-members pass with a note.
WITH RECURSIVE parents AS (
  SELECT account_id,
         json_get_str(params, 'ChildId') AS child,
         json_get_str(response, 'Parents', 0, 'Id') AS parent,
         json_get_str(response, 'Parents', 0, 'Type') AS parent_type
  FROM snapshot_calls
  WHERE service = 'organizations' AND operation = 'ListParents' AND error_code IS NULL
),
path(account_id, target, target_type, depth) AS (
  SELECT account_id, account_id AS target, 'ACCOUNT' AS target_type, 0 AS depth
  FROM (SELECT DISTINCT account_id FROM snapshots)
  UNION ALL
  SELECT p.account_id, r.parent, r.parent_type, p.depth + 1
  FROM path p JOIN parents r ON r.account_id = p.account_id AND r.child = p.target
  WHERE p.depth < 8
),
listed AS (
  SELECT DISTINCT account_id, json_get_str(params, 'TargetId') AS target
  FROM snapshot_calls
  WHERE service = 'organizations' AND operation = 'ListPoliciesForTarget' AND error_code IS NULL
),
path_status AS (
  SELECT p.account_id,
         bool_or(p.target_type = 'ROOT') AS reaches_root,
         array_agg(p.target ORDER BY p.depth) AS path,
         array_agg(p.target ORDER BY p.depth) FILTER (WHERE l.target IS NULL) AS unlisted_targets
  FROM path p
  LEFT JOIN listed l ON l.account_id = p.account_id AND l.target = p.target
  GROUP BY p.account_id
),
policies AS (
  -- SCPs attached along the path (any captured target of the account's snapshot when
  -- ListParents was not captured: the snapshot lists policies for its own path)
  SELECT s.*
  FROM scps s
  LEFT JOIN path p ON p.account_id = s.account_id AND p.target = s.target_id
  LEFT JOIN (SELECT account_id FROM path GROUP BY account_id HAVING count(*) > 1) known
    ON known.account_id = s.account_id
  WHERE p.target IS NOT NULL OR known.account_id IS NULL
),
denials AS (
  SELECT account_id, denied_action,
         array_agg(DISTINCT policy_name || ' (' || target_id || ')') FILTER (WHERE blanket) AS denied_by,
         array_agg(DISTINCT policy_name || ' (' || target_id || ')') FILTER (WHERE NOT coalesce(blanket, false)) AS partial_by
  FROM policies
  WHERE denied_action IN ('cloudtrail:StopLogging', 'cloudtrail:DeleteTrail', 'cloudtrail:UpdateTrail', 'cloudtrail:PutEventSelectors')
  GROUP BY account_id, denied_action
),
per_account AS (
  SELECT a.account_id,
         max(CASE WHEN d.denied_action = 'cloudtrail:StopLogging' THEN cardinality(d.denied_by) END) > 0 AS stop_denied,
         max(CASE WHEN d.denied_action = 'cloudtrail:StopLogging' THEN to_json(d.denied_by) END) AS stoplogging_denied_by,
         max(CASE WHEN d.denied_action = 'cloudtrail:StopLogging' THEN to_json(d.partial_by) END) AS stoplogging_conditional_or_scoped,
         max(CASE WHEN d.denied_action = 'cloudtrail:DeleteTrail' THEN cardinality(d.denied_by) END) > 0 AS delete_denied,
         max(CASE WHEN d.denied_action = 'cloudtrail:UpdateTrail' THEN cardinality(d.denied_by) END) > 0 AS update_denied,
         max(CASE WHEN d.denied_action = 'cloudtrail:PutEventSelectors' THEN cardinality(d.denied_by) END) > 0 AS selectors_denied
  FROM (SELECT DISTINCT account_id FROM snapshots) a
  LEFT JOIN denials d ON d.account_id = a.account_id
  GROUP BY a.account_id
),
undescribed AS (
  SELECT account_id, array_agg(DISTINCT policy_id) AS policies
  FROM policies WHERE content IS NULL
  GROUP BY account_id
)
SELECT CASE
         WHEN o.account_id IS NULL THEN 'inconclusive'
         WHEN NOT o.is_member THEN 'pass'
         WHEN o.management_account_id = a.account_id THEN 'pass'
         WHEN coalesce(a.stop_denied, false) THEN 'pass'
         WHEN l.account_id IS NULL THEN 'inconclusive'
         WHEN NOT coalesce(ps.reaches_root, false) OR ps.unlisted_targets IS NOT NULL OR u.account_id IS NOT NULL THEN 'inconclusive'
         ELSE 'fail'
       END AS status,
       'account/' || a.account_id AS resource,
       a.account_id,
       CASE
         WHEN o.account_id IS NULL THEN 'DescribeOrganization was not captured'
         WHEN NOT o.is_member THEN 'not applicable: the account is not in an organization, no SCP can apply'
         WHEN o.management_account_id = a.account_id THEN 'not applicable: SCPs do not bind the management account'
         WHEN coalesce(a.stop_denied, false) THEN 'an SCP on the path denies StopLogging on every trail'
         WHEN l.account_id IS NULL THEN 'ListPoliciesForTarget was not captured'
         WHEN NOT coalesce(ps.reaches_root, false) THEN 'the path to the organization root is not known (ListParents)'
         WHEN ps.unlisted_targets IS NOT NULL THEN 'ListPoliciesForTarget was not captured for part of the path'
         WHEN u.account_id IS NOT NULL THEN 'DescribePolicy was not captured for some attached SCPs'
         ELSE 'no SCP on the path denies StopLogging unconditionally on every trail'
       END AS note,
       to_json(ps.path) AS path,
       to_json(ps.unlisted_targets) AS unlisted_targets,
       to_json(u.policies) AS undescribed_policies,
       a.stoplogging_denied_by,
       a.stoplogging_conditional_or_scoped,
       to_json(array_remove_all(make_array(
         CASE WHEN NOT coalesce(a.delete_denied, false) THEN 'cloudtrail:DeleteTrail' ELSE '' END,
         CASE WHEN NOT coalesce(a.update_denied, false) THEN 'cloudtrail:UpdateTrail' ELSE '' END,
         CASE WHEN NOT coalesce(a.selectors_denied, false) THEN 'cloudtrail:PutEventSelectors' ELSE '' END), '')) AS not_denied,
       o.organization_id,
       o.management_account_id
FROM per_account a
LEFT JOIN organization o ON o.account_id = a.account_id
LEFT JOIN path_status ps ON ps.account_id = a.account_id
LEFT JOIN (SELECT DISTINCT account_id FROM listed) l ON l.account_id = a.account_id
LEFT JOIN undescribed u ON u.account_id = a.account_id
