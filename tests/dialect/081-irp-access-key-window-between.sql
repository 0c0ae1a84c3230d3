-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/0dac8132d5f4c1888b6699b96cbf66f9d0adecc2/playbooks/resources/athena-queries-credential-compromise.sql
-- construct: string-eventtime, leading-comment
-- answer: everything access key AKIAI4DAJ75TZ2FB3BHA (micafer) did on 2017-06-01 between 06:00 and 09:00 UTC, oldest first: ec2 Describe*, CreateSecurityGroup, AuthorizeSecurityGroupIngress, CreateKeyPair, ...
-- ---------------------------------------------------------------------------
-- All API calls made by one access key in the incident window
-- Purpose: scope what the suspect credential touched
-- ---------------------------------------------------------------------------
SELECT eventTime, eventName, awsRegion, sourceIPAddress, userAgent,
       requestParameters, responseElements, errorCode
FROM cloudtrail
WHERE userIdentity.accessKeyId = 'AKIAI4DAJ75TZ2FB3BHA'
  AND eventTime BETWEEN '2017-06-01T06:00:00Z' AND '2017-06-01T09:00:00Z'
ORDER BY eventTime ASC;
