-- Calls that blind or narrow the audit trail itself, successful or attempted.
SELECT eventtime, account_id, awsregion, eventname,
       coalesce(json_extract_scalar(requestparameters, '$.name'),
                json_extract_scalar(requestparameters, '$.trailName')) AS trail,
       useridentity.arn AS principal_arn, sourceipaddress, errorcode, log_file
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname IN ('StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors',
                    'PutInsightSelectors', 'DeleteEventDataStore', 'StopEventDataStoreIngestion')
ORDER BY eventtime;
