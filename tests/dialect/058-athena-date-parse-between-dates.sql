-- dialect: athena
-- source: https://github.com/aws-samples/amazon-quicksight-sdk-proserve/blob/7e22fa28f6c7b0fe108bfa676b26669c0a5e18c7/Admin_Console/DDL_getdashboard.sql
-- construct: trino-fn:date_parse, trino-fn:split_part, trino-fn:coalesce, trino-fn:concat, string-eventtime
-- answer: per-identity counts for events of 2018-01-01..2018-05-31 (all sa-east-1), led by alucloud131 (608); roles show as role/session from the ARN.
SELECT useridentity.type,
       COALESCE(useridentity.username,
                concat(split_part(useridentity.arn, '/', 2), '/', split_part(useridentity.arn, '/', 3))) AS user_name,
       count(*) AS events,
       max(date_parse(eventtime, '%Y-%m-%dT%H:%i:%sZ')) AS latest_event_time
FROM cloudtrail
WHERE date_parse(eventtime, '%Y-%m-%dT%H:%i:%sZ') BETWEEN date '2018-01-01' AND date '2018-05-31'
GROUP BY 1, 2
ORDER BY events DESC;
