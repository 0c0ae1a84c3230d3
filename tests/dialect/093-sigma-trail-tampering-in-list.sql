-- dialect: athena
-- source: https://github.com/nsmithuk/pySigma-backend-athena/blob/9dfb76ce83edb9718bc5e6cc68d5bc866fd2a050/sigma/backends/athena/base.py
-- construct: trino-fn:lower, trino-fn:upper
-- answer: empty: nobody stopped, deleted or updated a trail; the only trail events are CreateTrail and StartLogging.
SELECT eventtime, eventname, useridentity.arn AS actor, UPPER(awsregion) AS region_code, requestparameters
FROM cloudtrail
WHERE LOWER(eventsource) = 'cloudtrail.amazonaws.com'
  AND LOWER(eventname) IN ('stoplogging', 'deletetrail', 'updatetrail', 'puteventselectors');
