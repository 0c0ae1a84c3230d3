-- dialect: athena
-- source: https://trino.io/docs/current/sql/select.html
-- construct: unnest-left
-- answer: kms events with or without resources: Decrypt/Encrypt/DescribeKey/CreateGrant rows carry a key ARN, the 25 ListAliases rows keep a NULL resource.
SELECT eventname, r.arn AS resource_arn, count(*) AS events
FROM cloudtrail
LEFT JOIN UNNEST(resources) AS t(r) ON TRUE
WHERE eventsource = 'kms.amazonaws.com'
GROUP BY eventname, r.arn
ORDER BY events DESC;
