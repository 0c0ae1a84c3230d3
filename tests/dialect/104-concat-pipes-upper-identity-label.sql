-- dialect: athena
-- source: https://trino.io/docs/current/functions/string.html
-- construct: trino-fn:concat, trino-fn:upper, trino-fn:coalesce, trino-fn:split_part
-- answer: one label per identity such as IAMUSER:alucloud171 or ASSUMEDROLE:aws-opsworks-service-role/OpsWorks, with event counts; IAMUSER:alucloud171 leads (3654).
SELECT upper(useridentity.type) || ':' ||
       coalesce(useridentity.username,
                split_part(useridentity.arn, '/', 2) || '/' || split_part(useridentity.arn, '/', 3),
                useridentity.invokedby) AS identity_label,
       count(*) AS events
FROM cloudtrail
GROUP BY 1
ORDER BY events DESC
LIMIT 20;
