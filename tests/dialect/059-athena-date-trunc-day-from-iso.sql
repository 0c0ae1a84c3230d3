-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/e690dfc73406b92511efc3a165a73ce3f75ab3b1/playbooks/resources/athena-queries-data-access.sql
-- construct: trino-fn:date_trunc, trino-fn:from_iso8601_timestamp, output-name
-- answer: 10 (hour, caller) pairs on 2017-06-01 with over 100 ec2 Describe calls, from micafer at 06:00 (154) to alucloud171 at 21:00 (1050).
SELECT DATE_TRUNC('hour', from_iso8601_timestamp(eventtime)) AS hour_bucket,
       useridentity.arn,
       COUNT(*) AS read_count
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname LIKE 'Describe%'
GROUP BY DATE_TRUNC('hour', from_iso8601_timestamp(eventtime)), useridentity.arn
HAVING COUNT(*) > 100
ORDER BY hour_bucket ASC;
