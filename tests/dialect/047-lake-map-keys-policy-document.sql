-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: element_at-map, trino-fn:contains, camelcase
-- answer: one row: PutGroupPolicy RestrictS3-CursoCloudRestrictedStudentsGroup on group AlumnosCursoCloud by gmolto, 2014-09-26T11:32:07Z.
SELECT
    eventTime,
    eventName,
    userIdentity.userName,
    element_at(requestParameters, 'groupName') AS groupName,
    element_at(requestParameters, 'policyName') AS policyName
FROM cloudtrail
WHERE eventSource = 'iam.amazonaws.com'
  AND contains(map_keys(requestParameters), 'policyDocument')
