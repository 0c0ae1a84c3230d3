-- dialect: athena
-- source: https://trino.io/docs/current/functions/json.html
-- construct: json, trino-fn:json_array_length, trino-fn:json_extract, trino-fn:json_extract_scalar
-- answer: the 19 AuthorizeSecurityGroupIngress calls whose first range is 0.0.0.0/0 (ports 22, 8080 and 3389; alucloud31 on 2014-09-27, micafer on 2017-06-01, ...), one permission item each.
SELECT eventtime,
       useridentity.username,
       json_extract_scalar(requestparameters, '$.groupName') AS group_name,
       json_array_length(json_extract(requestparameters, '$.ipPermissions.items')) AS permission_items,
       json_extract_scalar(requestparameters, '$.ipPermissions.items[0].fromPort') AS from_port,
       json_extract_scalar(requestparameters, '$.ipPermissions.items[0].ipRanges.items[0].cidrIp') AS cidr
FROM cloudtrail
WHERE eventname = 'AuthorizeSecurityGroupIngress'
  AND json_extract_scalar(requestparameters, '$.ipPermissions.items[0].ipRanges.items[0].cidrIp') = '0.0.0.0/0'
ORDER BY eventtime;
