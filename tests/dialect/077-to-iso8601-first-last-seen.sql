-- dialect: athena
-- source: https://trino.io/docs/current/functions/datetime.html
-- construct: trino-fn:to_iso8601, trino-fn:from_iso8601_timestamp, trino-fn:date_diff
-- answer: per source IP its first and last event as ISO 8601 strings and the span in minutes, topped by 37.15.201.180: 3317 events from 2017-06-01T18:22:18Z to 21:59:53Z (217 minutes).
SELECT sourceipaddress,
       count(*) AS events,
       to_iso8601(min(from_iso8601_timestamp(eventtime))) AS first_seen,
       to_iso8601(max(from_iso8601_timestamp(eventtime))) AS last_seen,
       date_diff('minute', min(from_iso8601_timestamp(eventtime)), max(from_iso8601_timestamp(eventtime))) AS span_minutes
FROM cloudtrail
GROUP BY sourceipaddress
ORDER BY events DESC
LIMIT 20;
