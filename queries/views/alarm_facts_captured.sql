-- Per snapshot account: were the facts an alarm control needs captured? Without trails, metric
-- filters for each trail log group and alarms, "no alarm covers X" cannot be told from "we did
-- not look": alarm controls are inconclusive then. Accounts seen only in the archive (no
-- snapshot) are listed too, with nothing captured.
SELECT s.account_id,
       coalesce(c.trails_captured, false) AS trails_captured,
       coalesce(c.filters_captured, false) AS filters_captured,
       coalesce(c.alarms_captured, false) AS alarms_captured
FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) s
LEFT JOIN (
  SELECT account_id,
         bool_or(operation = 'DescribeTrails') AS trails_captured,
         bool_or(operation = 'DescribeMetricFilters') AS filters_captured,
         bool_or(operation = 'DescribeAlarms') AS alarms_captured
  FROM snapshot_calls
  WHERE error_code IS NULL
  GROUP BY account_id
) c ON c.account_id = s.account_id
