-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/ec2-public-security-group.sql
-- construct: element_at-map, trino-fn:json_extract_scalar, camelcase, json
-- answer: the AuthorizeSecurityGroupIngress calls opening a rule to 0.0.0.0/0 on 2014-09-27 and 2017-06-01 (ports 22, 3389 and 8080 by micafer, alucloud31, ...); the ModifySecurityGroupRules half returns nothing.
-- Part 1: rules added with AuthorizeSecurityGroupIngress
SELECT
    eventName,
    userIdentity.arn AS user,
    sourceIPAddress,
    eventTime,
    element_at(requestParameters, 'groupName') AS securityGroup,
    element_at(requestParameters, 'ipPermissions') AS securityGroupRule
FROM
    cloudtrail
WHERE
    eventTime >= '2014-09-01 00:00:00'
    AND eventTime <= '2017-07-01 00:00:00'
    AND eventName = 'AuthorizeSecurityGroupIngress'
    AND element_at(requestParameters, 'ipPermissions') LIKE '%0.0.0.0/0%'

UNION ALL

-- Part 2: rules changed with ModifySecurityGroupRules
SELECT
    eventName,
    userIdentity.arn AS user,
    sourceIPAddress,
    eventTime,
    json_extract_scalar(element_at(requestParameters, 'ModifySecurityGroupRulesRequest'), '$.GroupId') securityGroup,
    element_at(requestParameters, 'ModifySecurityGroupRulesRequest') securityGroupRule
FROM
    cloudtrail
WHERE
    eventTime >= '2014-09-01 00:00:00'
    AND eventTime <= '2017-07-01 00:00:00'
    AND eventName = 'ModifySecurityGroupRules'
    AND element_at(requestParameters, 'ModifySecurityGroupRulesRequest') LIKE '%0.0.0.0/0%'
ORDER BY eventTime DESC
