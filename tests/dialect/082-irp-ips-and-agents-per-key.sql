-- dialect: athena
-- source: https://github.com/aws-samples/aws-incident-response-playbooks/blob/0dac8132d5f4c1888b6699b96cbf66f9d0adecc2/playbooks/resources/athena-queries-credential-compromise.sql
-- construct: string-eventtime
-- answer: for alucloud171's calls on 2017-06-01, each (source IP, user agent) with call count and first/last time; 37.15.201.180 with the console agent dominates.
SELECT sourceIPAddress, userAgent, COUNT(*) AS call_count,
       MIN(eventTime) AS first_seen, MAX(eventTime) AS last_seen
FROM cloudtrail
WHERE userIdentity.userName = 'alucloud171'
  AND eventTime BETWEEN '2017-06-01T00:00:00Z' AND '2017-06-02T00:00:00Z'
GROUP BY sourceIPAddress, userAgent
ORDER BY first_seen ASC;
