-- dialect: athena
-- source: https://trino.io/docs/current/functions/datetime.html
-- construct: trino-fn:date_parse, trino-fn:format_datetime, trino-fn:to_iso8601, partition-region
-- answer: sa-east-1 activity per day in 2018 with the first event of the day as ISO 8601; 2018-04-25 is the busiest day (460 events).
SELECT format_datetime(date_parse(eventtime, '%Y-%m-%dT%H:%i:%sZ'), 'yyyy-MM-dd') AS day,
       count(*) AS events,
       to_iso8601(min(date_parse(eventtime, '%Y-%m-%dT%H:%i:%sZ'))) AS first_event
FROM cloudtrail
WHERE region = 'sa-east-1'
GROUP BY 1
ORDER BY events DESC;
