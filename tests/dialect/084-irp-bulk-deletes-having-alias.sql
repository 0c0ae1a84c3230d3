-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/0dac8132d5f4c1888b6699b96cbf66f9d0adecc2/playbooks/resources/athena-queries-ransomware.sql
-- construct: string-eventtime, output-name
-- answer: four principals with more than 10 deletions of one kind: alucloud00 DeleteSnapshot (139), gmolto DeleteSecurityGroup (21), alucloud00 DeleteFunction20150331 (13) and DeleteLogGroup (11).
SELECT eventSource, eventName, userIdentity.arn,
       COUNT(*) AS call_count, MIN(eventTime) AS first_seen, MAX(eventTime) AS last_seen
FROM cloudtrail
WHERE eventName LIKE 'Delete%'
  AND eventTime BETWEEN '2014-01-01T00:00:00Z' AND '2018-12-31T23:59:59Z'
GROUP BY eventSource, eventName, userIdentity.arn
HAVING COUNT(*) > 10
ORDER BY call_count DESC;
