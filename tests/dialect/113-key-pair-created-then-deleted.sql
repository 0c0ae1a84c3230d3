-- dialect: athena
-- source: https://trino.io/docs/current/functions/datetime.html
-- construct: cte, json, trino-fn:json_extract_scalar, trino-fn:date_parse, trino-fn:date_add, trino-fn:to_iso8601, trino-fn:format_datetime
-- answer: six key pairs created and then deleted (attempts all Client.UnauthorizedOperation) within an hour on 2017-06-01: five im-... keys of micafer (2-4 minutes apart) and docker-host-adv-192 of alucloud192 (31 minutes).
WITH created AS (
  SELECT json_extract_scalar(requestparameters, '$.keyName') AS key_name,
         useridentity.username AS creator,
         date_parse(eventtime, '%Y-%m-%dT%H:%i:%sZ') AS created_at
  FROM cloudtrail
  WHERE eventname IN ('CreateKeyPair', 'ImportKeyPair')
    AND errorcode IS NULL
),
deleted AS (
  SELECT json_extract_scalar(requestparameters, '$.keyName') AS key_name,
         date_parse(eventtime, '%Y-%m-%dT%H:%i:%sZ') AS deleted_at,
         errorcode
  FROM cloudtrail
  WHERE eventname = 'DeleteKeyPair'
)
SELECT c.key_name, c.creator,
       to_iso8601(c.created_at) AS created_at,
       format_datetime(d.deleted_at, 'yyyy-MM-dd HH:mm:ss') AS deleted_at,
       d.errorcode
FROM created c
JOIN deleted d
  ON c.key_name = d.key_name
 AND d.deleted_at BETWEEN c.created_at AND date_add('hour', 1, c.created_at)
ORDER BY c.created_at;
