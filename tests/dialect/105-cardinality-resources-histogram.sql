-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/filtering-arrays.html
-- construct: trino-fn:cardinality
-- answer: resource counts per event: NULL (no resources field) for 16624 events, 0 for 25, 1 for the 929 kms and sts events, 2 for the 20 HeadBucket calls.
SELECT cardinality(resources) AS resource_count, count(*) AS events
FROM cloudtrail
GROUP BY cardinality(resources)
ORDER BY resource_count;
