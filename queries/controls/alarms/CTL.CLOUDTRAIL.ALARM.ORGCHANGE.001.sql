-- Organization membership changes (an account leaving or removed escapes the SCPs and the
-- organization trail; new, invited or closed accounts change who is governed) must raise an
-- alarm, and each one in the archive is a finding. Two ways:
-- (a) state: one alarmed metric filter on a logging multi-region trail's log group matches an
--     organizations.amazonaws.com sample event of EVERY required name (LeaveOrganization,
--     RemoveAccountFromOrganization, InviteAccountToOrganization, CreateAccount, CloseAccount;
--     order-free, supersets such as the CIS 4.15 filter fine), tested with cwl_filter_matches;
-- (b) events: every successful call of those names from organizations.amazonaws.com.
WITH sample(name, event) AS (
  VALUES
    ('LeaveOrganization', '{"eventVersion":"1.11","eventSource":"organizations.amazonaws.com","eventName":"LeaveOrganization","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":null}'),
    ('RemoveAccountFromOrganization', '{"eventVersion":"1.11","eventSource":"organizations.amazonaws.com","eventName":"RemoveAccountFromOrganization","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"accountId":"111122223333"}}'),
    ('InviteAccountToOrganization', '{"eventVersion":"1.11","eventSource":"organizations.amazonaws.com","eventName":"InviteAccountToOrganization","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"target":{"id":"111122223333","type":"ACCOUNT"}}}'),
    ('CreateAccount', '{"eventVersion":"1.11","eventSource":"organizations.amazonaws.com","eventName":"CreateAccount","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"accountName":"x","email":"x@example.com"}}'),
    ('CloseAccount', '{"eventVersion":"1.11","eventSource":"organizations.amazonaws.com","eventName":"CloseAccount","awsRegion":"us-east-1","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser"},"requestParameters":{"accountId":"111122223333"}}')
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
changes AS (
  SELECT coalesce(recipientaccountid, account_id) AS account_id,
         min(eventtime) AS window_start,
         max(eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', eventtime, 'eventname', eventname,
                                           'target_account', coalesce(json_extract_scalar(requestparameters, '$.accountId'),
                                                                      json_extract_scalar(requestparameters, '$.target.id'),
                                                                      json_extract_scalar(requestparameters, '$.accountName')),
                                           'principal', useridentity.arn, 'source_ip', sourceipaddress,
                                           'region', awsregion, 'log_file', log_file))) AS events
  FROM cloudtrail
  WHERE eventsource = 'organizations.amazonaws.com' AND errorcode IS NULL
    AND eventname IN ('LeaveOrganization', 'RemoveAccountFromOrganization', 'InviteAccountToOrganization',
                      'CreateAccount', 'CloseAccount')
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
  LEFT JOIN changes d ON d.account_id = a.account_id
)
SELECT * FROM state
UNION ALL
SELECT * FROM activity
