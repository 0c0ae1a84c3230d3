-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
-- construct: partition-timestamp
-- answer: the top 25 (eventsource, eventname) pairs in the 2017/06/01 delivery folder, led by ec2 DescribeInstances (949), ec2 DescribeVolumes (790) and kms Decrypt (677).
SELECT eventsource, eventname, count(*) AS calls
FROM cloudtrail
WHERE "timestamp" = '2017/06/01'
GROUP BY eventsource, eventname
ORDER BY calls DESC
LIMIT 25;
