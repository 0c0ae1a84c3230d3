-- dialect: athena
-- source: https://github.com/yanzhoushow/aws_incident_responder/blob/f5079874bcef8a368b66c7f03d82bdccd721cc04/README.md
-- construct: partition-ymd
-- answer: about 7.5 percent: 1321 of the 17598 events carry an error code (the year filter keeps 2014-2018, i.e. everything).
SELECT count(*) * 100.0 / (SELECT count(*) FROM cloudtrail WHERE year BETWEEN '2014' AND '2018') AS event_error_percentage
FROM cloudtrail
WHERE errorcode IS NOT NULL
  AND year BETWEEN '2014' AND '2018';
