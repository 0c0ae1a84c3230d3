-- dialect: athena
-- source: https://trino.io/docs/current/sql/select.html
-- construct: unnest-ordinality, unnest-cross, trino-fn:split, trino-fn:array_join, trino-fn:array_agg
-- answer: for each assumed-role ARN its path parts by position (1 = arn:aws:sts::974349055189:assumed-role, 2 = role, 3 = session) joined back with " > ", e.g. "aws-opsworks-service-role > OpsWorks".
SELECT useridentity.arn,
       array_join(array_agg(part ORDER BY idx) FILTER (WHERE idx > 1), ' > ') AS role_and_session,
       count(*) AS parts
FROM cloudtrail
CROSS JOIN UNNEST(split(useridentity.arn, '/')) WITH ORDINALITY AS p(part, idx)
WHERE useridentity.type = 'AssumedRole'
GROUP BY useridentity.arn
ORDER BY useridentity.arn;
