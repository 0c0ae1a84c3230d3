-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
-- construct: partition-timestamp
-- answer: per-student call counts in the March 2018 folders (sa-east-1), topped by alucloud120 DescribeLoadBalancers (36).
SELECT useridentity.username, eventname, count(*) AS calls
FROM cloudtrail
WHERE timestamp BETWEEN '2018/03/01' AND '2018/03/31'
  AND useridentity.type = 'IAMUser'
GROUP BY useridentity.username, eventname
ORDER BY calls DESC;
