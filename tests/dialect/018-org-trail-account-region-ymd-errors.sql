-- dialect: athena
-- source: https://github.com/awsdocs/amazon-athena-user-guide/blob/765e909ebcf8817b22efad881b7f90f32440b891/doc_source/cloudtrail-logs.md
-- construct: partition-account, partition-region, partition-ymd
-- answer: the failed calls in the 2017/06/01 us-east-1 folder of account 974349055189, newest first (NoSuchWebsiteConfiguration, Client.InvalidSnapshot.InUse, AccessDenied, ...).
SELECT eventtime, eventid, eventname, errorcode, errormessage
FROM cloudtrail
WHERE account = '974349055189'
  AND region = 'us-east-1'
  AND year = '2017'
  AND month = '06'
  AND day = '01'
  AND errorcode IS NOT NULL
ORDER BY eventtime DESC;
