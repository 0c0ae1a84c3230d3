-- Successful console sign-ins without MFA (CIS: MFA for console users).
SELECT eventtime, account_id, useridentity.type AS identity_type, useridentity.arn AS principal_arn, sourceipaddress, useragent, log_file
FROM cloudtrail
WHERE eventname = 'ConsoleLogin'
  AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
ORDER BY eventtime;
