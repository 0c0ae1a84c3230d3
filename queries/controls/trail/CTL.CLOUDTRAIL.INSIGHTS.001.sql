-- CloudTrail Insights flags unusual write-API call volumes and error rates (credential misuse,
-- runaway automation). Per account: each insight type must be on for some logging trail.
-- Per trail, a type is known on from GetInsightSelectors, known off from InsightNotEnabled or
-- HasInsightSelectors=false, and unknown otherwise; a stopped trail's insights count as off.
WITH accounts AS (
  SELECT a.account_id, coalesce(bool_or(c.operation IS NOT NULL), false) AS trails_captured
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN snapshot_calls c
    ON c.account_id = a.account_id AND c.operation = 'DescribeTrails' AND c.error_code IS NULL
  GROUP BY a.account_id
),
insights AS (
  SELECT account_id, trail_arn, bool_or(api_call_rate) AS api_call_rate,
         bool_or(api_error_rate) AS api_error_rate
  FROM insight_selectors
  GROUP BY account_id, trail_arn
),
per_trail AS (
  SELECT t.account_id, t.trail_arn, t.is_logging,
         CASE WHEN i.trail_arn IS NOT NULL THEN i.api_call_rate
              WHEN t.has_insight_selectors = false THEN false END AND t.is_logging AS call_rate,
         CASE WHEN i.trail_arn IS NOT NULL THEN i.api_error_rate
              WHEN t.has_insight_selectors = false THEN false END AND t.is_logging AS error_rate
  FROM trail_facts t
  LEFT JOIN insights i ON i.account_id = t.account_id AND i.trail_arn = t.trail_arn
),
verdicts AS (
  SELECT account_id,
         sum(CASE WHEN call_rate THEN 1 ELSE 0 END) AS call_on,
         sum(CASE WHEN call_rate IS NULL THEN 1 ELSE 0 END) AS call_unknown,
         sum(CASE WHEN error_rate THEN 1 ELSE 0 END) AS error_on,
         sum(CASE WHEN error_rate IS NULL THEN 1 ELSE 0 END) AS error_unknown,
         array_agg(named_struct('trail', trail_arn, 'is_logging', is_logging,
                                'api_call_rate', call_rate, 'api_error_rate', error_rate)) AS trails
  FROM per_trail
  GROUP BY account_id
)
SELECT CASE
         WHEN NOT a.trails_captured THEN 'inconclusive'
         WHEN coalesce(v.call_on, 0) > 0 AND coalesce(v.error_on, 0) > 0 THEN 'pass'
         WHEN (coalesce(v.call_on, 0) = 0 AND coalesce(v.call_unknown, 0) = 0)
           OR (coalesce(v.error_on, 0) = 0 AND coalesce(v.error_unknown, 0) = 0) THEN 'fail'
         ELSE 'inconclusive'
       END AS status,
       'account/' || a.account_id AS resource,
       a.account_id,
       coalesce(v.call_on, 0) > 0 AS api_call_rate_insight,
       coalesce(v.error_on, 0) > 0 AS api_error_rate_insight,
       to_json(v.trails) AS trails
FROM accounts a
LEFT JOIN verdicts v ON v.account_id = a.account_id
