-- dialect: athena
-- source: https://gist.github.com/farski/2b86511188079c09c28d6cb3feff41c0
-- construct: partition-account, partition-region, partition-ymd
-- answer: only us-east-1 rows (2017-06-01): AuthorizeSecurityGroupIngress 39, RevokeSecurityGroupIngress 22, CreateSecurityGroup 16, DeleteSecurityGroup 13.
SELECT region, eventname, count(*) AS changes
FROM cloudtrail
WHERE account = '974349055189'
  AND region IN ('us-east-1', 'sa-east-1')
  AND year IN ('2017', '2018')
  AND eventname IN ('AuthorizeSecurityGroupIngress', 'RevokeSecurityGroupIngress',
                    'CreateSecurityGroup', 'DeleteSecurityGroup')
GROUP BY region, eventname
ORDER BY changes DESC;
