-- dialect: lake
-- source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-limitations.html
-- construct: trino-fn:date_add, trino-fn:current_timestamp, camelcase
-- answer: empty on the grycap archive: nothing happened in the last 90 days.
SELECT eventSource, eventName, count(*) AS calls
FROM cloudtrail
WHERE eventTime > date_add('day', -90, current_timestamp)
  AND userIdentity.type = 'Root'
GROUP BY eventSource, eventName
ORDER BY calls DESC
