-- dialect: athena
-- source: https://github.com/kaldurjoy/TuK-cloudtrail-athena/blob/9458cf6d092c9fb427b844a33ef2a886f18eb678/starter.sql
-- construct: partition-ymd, partition-region, string-eventtime
-- answer: per-day event counts for sa-east-1 in April 2018; the busiest rows are 2018-04-25 DescribeStacks calls (the 460-event day).
SELECT substr(eventtime, 1, 10) AS eventdate,
       eventname,
       count(*) AS calls
FROM cloudtrail
WHERE region = 'sa-east-1'
  AND year = '2018'
  AND month = '04'
GROUP BY 1, 2
ORDER BY calls DESC
LIMIT 20;
