-- The activity overview's view of one event: day, account, region, principal, event and outcome.
-- Computed for every event during the report's one scan of the period and counted by all its
-- columns into the `activity` rollup (column `events`); every other activity table of the report
-- is a query over that rollup, so the archive is decoded once however many charts there are.
-- A plain SELECT list: no filter, no aggregate (the scan's scope is the report period).
SELECT
  -- The day as a date: the rollup writes it as text (2026-10-01) once per combination it counts,
  -- not once per event.
  CAST(eventtime AS DATE)                                       AS day,
  account_id,
  COALESCE(awsregion, region)                                   AS region,
  COALESCE(useridentity.arn, useridentity.type, 'unknown')      AS principal,
  COALESCE(useridentity.type, 'unknown')                        AS principal_type,
  eventsource,
  eventname,
  errorcode,
  -- CIS 1.7: the root user itself, not an AWS service acting for it.
  COALESCE(useridentity.type = 'Root' AND useridentity.invokedby IS NULL
     AND COALESCE(eventtype, '') <> 'AwsServiceEvent', false)   AS root_usage,
  CASE WHEN eventname = 'ConsoleLogin'
       THEN COALESCE(json_get_str(additionaleventdata, 'MFAUsed'), 'No') END AS login_mfa,
  CASE WHEN eventname = 'ConsoleLogin'
       THEN COALESCE(json_get_str(responseelements, 'ConsoleLogin'),
                     CASE WHEN errorcode IS NULL THEN 'Success' ELSE 'Failure' END) END AS login_result
FROM cloudtrail
