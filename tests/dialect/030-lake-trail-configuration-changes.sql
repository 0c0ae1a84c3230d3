-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/cloudtrail-configuration-changes.sql
-- construct: element_at-map, camelcase
-- answer: two rows from 2014-09-26T11:26:19Z: CreateTrail and StartLogging of trail "Default" by gmolto's principal.
SELECT
    eventName, element_at(requestParameters, 'name'), userIdentity.principalid, eventTime
FROM
    cloudtrail
WHERE
    eventTime > '2014-01-01 00:00:00'
    AND eventTime < '2019-01-01 00:00:00'
    AND ( eventName = 'CreateTrail'
        or eventName = 'UpdateTrail'
        or eventName = 'DeleteTrail'
        or eventName = 'StartLogging'
        or eventName = 'StopLogging' )
