-- dialect: athena
-- source: https://trino.io/docs/current/sql/select.html
-- construct: unnest-left, cte, trino-fn:count_if
-- answer: per event source the distinct events and non-NULL resource rows: kms 709, sts 220 and s3 20 (the HeadBucket bucket entries); every other source has 0.
WITH flat AS (
  SELECT eventsource, eventid, r.arn AS resource_arn
  FROM cloudtrail
  LEFT JOIN UNNEST(resources) AS t(r) ON TRUE
)
SELECT eventsource,
       count(DISTINCT eventid) AS events,
       count_if(resource_arn IS NOT NULL) AS resource_rows
FROM flat
GROUP BY eventsource
ORDER BY resource_rows DESC, events DESC;
