-- dialect: athena
-- source: https://trino.io/docs/current/sql/select.html
-- construct: unnest-ordinality, unnest-cross, cte
-- answer: for each resource position the number of events and distinct ARNs: position 1 covers kms keys, sts roles and the HeadBucket object slot; position 2 only the alucloud-lambda bucket.
WITH flat AS (
  SELECT eventid, eventsource, r.arn AS resource_arn, n AS position
  FROM cloudtrail
  CROSS JOIN UNNEST(resources) WITH ORDINALITY AS t(r, n)
)
SELECT position, eventsource, count(DISTINCT eventid) AS events, count(DISTINCT resource_arn) AS distinct_arns
FROM flat
GROUP BY position, eventsource
ORDER BY position, events DESC;
