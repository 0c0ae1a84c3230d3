-- Root user activity: every call made with the account's root credentials.
-- Root should be used almost never; each row is worth a look.
SELECT eventtime, account_id, eventsource, eventname, sourceipaddress, useragent, errorcode, log_file
FROM cloudtrail
WHERE useridentity.type = 'Root'
  AND useridentity.invokedby IS NULL
  AND eventtype <> 'AwsServiceEvent'
ORDER BY eventtime;
