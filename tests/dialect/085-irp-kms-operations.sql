-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/0dac8132d5f4c1888b6699b96cbf66f9d0adecc2/playbooks/resources/athena-queries-ransomware.sql
-- construct: string-eventtime, output-name
-- answer: the 17 KMS write-side calls (9 Encrypt and 8 CreateGrant) on 2017-06-01, all invoked through Lambda by alucloud00.
SELECT eventTime, eventName, userIdentity.arn, awsRegion,
       requestParameters, responseElements, sourceIPAddress
FROM cloudtrail
WHERE eventSource = 'kms.amazonaws.com'
  AND eventName IN ('CreateKey', 'CreateGrant', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo',
                    'ScheduleKeyDeletion', 'DisableKey', 'PutKeyPolicy')
  AND eventTime BETWEEN '2017-06-01T00:00:00Z' AND '2017-06-02T00:00:00Z'
ORDER BY eventTime ASC;
