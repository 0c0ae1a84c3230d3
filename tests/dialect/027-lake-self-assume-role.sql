-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/SelfAssumeRole.sql
-- construct: element_at-array, camelcase, trino-fn:element_at
-- answer: empty: every AssumeRole in the archive is made by an AWS service (Elastic Beanstalk, Lambda, EMR, OpsWorks, EC2), never by a role assuming itself.
SELECT
    eventid, eventtime,
    userIdentity.sessioncontext.sessionissuer.arn as RoleARN,
    userIdentity.principalId as RoleIdColonRoleSessionName
FROM
    cloudtrail
WHERE
    eventSource = 'sts.amazonaws.com'
    AND eventName = 'AssumeRole'
    AND userIdentity.type = 'AssumedRole'
    AND errorcode IS NULL
    AND userIdentity.sessioncontext.sessionissuer.arn = element_at(resources, 1).arn
