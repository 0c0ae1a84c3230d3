-- dialect: athena
-- source: https://github.com/hacker65536/myit/blob/aaa691d4f15198448641d77f784ce06f762efdbf/aws/cloudtrail/athena-DDL.md
-- construct: partition-account, partition-region
-- answer: the 10 busiest identities in sa-east-1 for 2018, led by IAMUser alucloud131 (608 calls), then gmolto (64) and alucloud124 (51).
SELECT useridentity.type, useridentity.username, count(*) AS calls
FROM cloudtrail
WHERE accountid = '974349055189'
  AND region = 'sa-east-1'
  AND "date" >= '2018/01/01'
GROUP BY useridentity.type, useridentity.username
ORDER BY calls DESC
LIMIT 10;
