-- The activity overview in one scan: events counted by day, account, region, principal, event
-- and outcome. Every other activity table of the report is a query over this rollup (registered
-- as `activity`), so the archive is decoded once however many charts there are.
-- The session's scope is the report period, so no time filter is needed here.
SELECT
  to_char(date_trunc('day', eventtime), '%Y-%m-%d')            AS day,
  account_id,
  COALESCE(awsregion, region)                                   AS region,
  COALESCE(useridentity.arn, useridentity.type, 'unknown')      AS principal,
  COALESCE(useridentity.type, 'unknown')                        AS principal_type,
  eventsource,
  eventname,
  errorcode,
  -- CIS 1.7: the root user itself, not an AWS service acting for it.
  (useridentity.type = 'Root' AND useridentity.invokedby IS NULL
     AND COALESCE(eventtype, '') <> 'AwsServiceEvent')          AS root_usage,
  CASE WHEN eventname = 'ConsoleLogin'
       THEN COALESCE(json_get_str(additionaleventdata, 'MFAUsed'), 'No') END AS login_mfa,
  CASE WHEN eventname = 'ConsoleLogin'
       THEN COALESCE(json_get_str(responseelements, 'ConsoleLogin'),
                     CASE WHEN errorcode IS NULL THEN 'Success' ELSE 'Failure' END) END AS login_result,
  count(*)                                                      AS events
FROM cloudtrail
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
