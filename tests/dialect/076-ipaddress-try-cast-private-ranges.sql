-- dialect: athena
-- source: https://trino.io/docs/current/functions/ipaddress.html
-- construct: ipaddress, trino-fn:try, trino-fn:contains, trino-fn:coalesce
-- answer: two rows classifying sources: "public" for literal addresses (none fall in 10/8, 172.16/12 or 192.168/16) and "service" for names like AWS Internal or lambda.amazonaws.com.
SELECT CASE
         WHEN try(CAST(sourceipaddress AS IPADDRESS)) IS NULL THEN 'service'
         WHEN contains('10.0.0.0/8', CAST(sourceipaddress AS IPADDRESS))
           OR contains('172.16.0.0/12', CAST(sourceipaddress AS IPADDRESS))
           OR contains('192.168.0.0/16', CAST(sourceipaddress AS IPADDRESS)) THEN 'private'
         ELSE 'public'
       END AS source_class,
       count(*) AS events,
       count(DISTINCT coalesce(useridentity.arn, useridentity.invokedby)) AS principals
FROM cloudtrail
GROUP BY 1
ORDER BY events DESC;
