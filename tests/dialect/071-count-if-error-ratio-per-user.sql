-- dialect: athena
-- source: https://trino.io/docs/current/functions/aggregate.html
-- construct: trino-fn:count_if, output-name
-- answer: IAM users ranked by failed calls: gmolto (512 of 1307), alucloud00 (341 of 1389, 35 AccessDenied), alucloud206 (150 of 373), ...
SELECT useridentity.arn,
       count(*) AS calls,
       count_if(errorcode IS NOT NULL) AS failed,
       count_if(errorcode = 'AccessDenied') AS denied,
       round(100.0 * count_if(errorcode IS NOT NULL) / count(*), 1) AS failed_pct
FROM cloudtrail
WHERE useridentity.type = 'IAMUser'
GROUP BY useridentity.arn
HAVING count_if(errorcode IS NOT NULL) > 0
ORDER BY failed DESC;
