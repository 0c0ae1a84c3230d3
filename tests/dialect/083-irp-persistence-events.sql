-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/0dac8132d5f4c1888b6699b96cbf66f9d0adecc2/playbooks/resources/athena-queries-credential-compromise.sql
-- construct: string-eventtime, output-name
-- answer: 20 persistence-type calls: CreateTrail by gmolto (2014-09-26), then on 2017-06-01 the CreateKeyPair calls (micafer, alucloud200, alucloud171), ImportKeyPair by alucloud192 and eight CreateFunction20150331 by alucloud00.
SELECT eventTime, eventName, userIdentity.arn, sourceIPAddress, requestParameters
FROM cloudtrail
WHERE eventName IN ('CreateUser', 'CreateRole', 'CreateAccessKey', 'CreateLoginProfile',
                    'AttachUserPolicy', 'AttachRolePolicy', 'PutUserPolicy', 'PutRolePolicy',
                    'UpdateAssumeRolePolicy', 'CreateFunction20150331', 'AddPermission20150331',
                    'PutBucketPolicy', 'CreateTrail', 'StopLogging', 'DeleteTrail',
                    'ImportKeyPair', 'CreateKeyPair')
  AND eventTime BETWEEN '2014-01-01T00:00:00Z' AND '2018-12-31T23:59:59Z'
ORDER BY eventTime ASC;
