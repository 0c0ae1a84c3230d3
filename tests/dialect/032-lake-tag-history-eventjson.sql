-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/tag-history-by-resource.sql
-- construct: eventjson, json, trino-fn:json_extract_scalar, camelcase
-- answer: the 103 CreateTags events with first resource id, tag key and value, e.g. i-3646c0d8 tagged Name=alucloud11 by alucloud11 on 2014-09-26.
SELECT
    awsRegion, eventSource,
    json_extract_scalar(eventjson, '$.requestParameters.resourcesSet.items[0].resourceId') as resourceId,
    eventTime, eventName,
    json_extract_scalar(eventjson, '$.requestParameters.tagSet.items[0].key') as key,
    json_extract_scalar(eventjson, '$.requestParameters.tagSet.items[0].value') as value,
    useridentity.arn as identityarn
from
    cloudtrail
where
    eventTime > '2014-01-01 00:00:00'
    and eventName in ('CreateTags', 'DeleteTags')
order by resourceId, key, eventTime desc
