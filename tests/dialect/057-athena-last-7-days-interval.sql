-- dialect: athena
-- source: https://github.com/kaldurjoy/TuK-cloudtrail-athena/blob/9458cf6d092c9fb427b844a33ef2a886f18eb678/starter.sql
-- construct: trino-fn:from_iso8601_timestamp, trino-fn:current_timestamp
-- answer: empty on the grycap archive: its newest event (May 2018) is older than seven days.
SELECT eventsource, count(*) AS events
FROM cloudtrail
WHERE from_iso8601_timestamp(eventtime) >= current_timestamp - interval '7' day
GROUP BY eventsource
ORDER BY events DESC;
