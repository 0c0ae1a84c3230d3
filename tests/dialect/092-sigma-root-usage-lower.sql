-- dialect: athena
-- source: https://github.com/nsmithuk/pySigma-backend-athena/blob/9dfb76ce83edb9718bc5e6cc68d5bc866fd2a050/sigma/backends/athena/base.py
-- construct: trino-fn:lower
-- answer: the 31 root-identity events that carry an eventType (all AwsApiCall, made through autoscaling and the support console, e.g. 11 DescribeAlarms); the 2014 root ConsoleLogin has no eventType and drops out.
SELECT * FROM cloudtrail
WHERE LOWER("useridentity"."type") = 'root'
  AND NOT LOWER("eventtype") = 'awsserviceevent';
