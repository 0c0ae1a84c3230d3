-- Turning GuardDuty off (deleting or suspending a detector, dropping the delegated admin, no
-- longer monitoring members) blinds threat detection, so it must raise an alarm, and each such
-- call in the archive is a finding. Two ways:
-- (a) state: one alarmed metric filter on a logging multi-region trail's log group matches a
--     guardduty.amazonaws.com sample event of EVERY required name (DeleteDetector,
--     DisableOrganizationAdminAccount, StopMonitoringMembers, UpdateDetector with enable=false;
--     order-free, supersets fine), tested with cwl_filter_matches; partial filters are listed;
-- (b) events: every successful call of those names from guardduty.amazonaws.com, UpdateDetector
--     only when it sets enable=false (a findings-frequency change is not disabling).
WITH sample(name, event) AS (
  VALUES
    ('DeleteDetector', '{"eventVersion":"1.11","eventSource":"guardduty.amazonaws.com","eventName":"DeleteDetector","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"detectorId":"d1"}}'),
    ('DisableOrganizationAdminAccount', '{"eventVersion":"1.11","eventSource":"guardduty.amazonaws.com","eventName":"DisableOrganizationAdminAccount","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"adminAccountId":"111122223333"}}'),
    ('StopMonitoringMembers', '{"eventVersion":"1.11","eventSource":"guardduty.amazonaws.com","eventName":"StopMonitoringMembers","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"detectorId":"d1","accountIds":["111122223333"]}}'),
    ('UpdateDetector', '{"eventVersion":"1.11","eventSource":"guardduty.amazonaws.com","eventName":"UpdateDetector","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"detectorId":"d1","enable":false}}')
),
matched AS (
  SELECT f.account_id, f.filter_name, f.alarm_name, array_agg(DISTINCT s.name) AS names
  FROM alarmed_metric_filters f CROSS JOIN sample s
  WHERE cwl_filter_matches(f.filter_pattern, s.event)
  GROUP BY f.account_id, f.filter_name, f.alarm_name
),
coverage AS (
  SELECT account_id,
         array_agg(filter_name || ' -> ' || alarm_name)
           FILTER (WHERE cardinality(names) = (SELECT count(*) FROM sample)) AS alarms,
         array_agg(named_struct('filter', filter_name, 'alarm', alarm_name, 'covers', names))
           FILTER (WHERE cardinality(names) < (SELECT count(*) FROM sample)) AS partial
  FROM matched
  GROUP BY account_id
),
state AS (
  SELECT CASE
           WHEN NOT (c.trails_captured AND c.filters_captured AND c.alarms_captured) THEN 'inconclusive'
           WHEN cardinality(v.alarms) > 0 THEN 'pass'
           ELSE 'fail'
         END AS status,
         'account/' || c.account_id AS resource,
         c.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'alarm' AS check,
         to_json(v.alarms) AS alarms,
         to_json(v.partial) AS partial_filters,
         CAST(NULL AS VARCHAR) AS events
  FROM alarm_facts_captured c
  LEFT JOIN coverage v ON v.account_id = c.account_id
),
disabling AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         min(eventtime) AS window_start,
         max(eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', eventtime, 'eventname', eventname,
                                           'detector', json_extract_scalar(requestparameters, '$.detectorId'),
                                           'principal', useridentity.arn, 'source_ip', sourceipaddress,
                                           'region', awsregion, 'log_file', log_file))) AS events
  FROM cloudtrail
  WHERE eventsource = 'guardduty.amazonaws.com' AND errorcode IS NULL
    AND (eventname IN ('DeleteDetector', 'DisableOrganizationAdminAccount', 'StopMonitoringMembers')
         OR (eventname = 'UpdateDetector' AND lower(json_extract_scalar(requestparameters, '$.enable')) = 'false'))
  GROUP BY coalesce(recipientaccountid, account_id)
),
activity AS (
  SELECT CASE WHEN d.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(d.window_start, a.first_delivery) AS window_start,
         coalesce(d.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CAST(NULL AS VARCHAR) AS alarms,
         CAST(NULL AS VARCHAR) AS partial_filters,
         to_json(d.events) AS events
  FROM archive_accounts a
  LEFT JOIN disabling d ON d.account_id = a.account_id
)
SELECT * FROM state
UNION ALL
SELECT * FROM activity
