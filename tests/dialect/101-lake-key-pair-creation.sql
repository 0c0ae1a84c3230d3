-- dialect: lake
-- source: https://github.com/aws-samples/cloud-trail-lake-query-samples/blob/bf9dafca6cd8c8d089dd41e4886eedb71144f62e/find-snapshots-not-encrypted.sql
-- construct: element_at-map, camelcase, output-name
-- answer: the 10 CreateKeyPair calls and the ImportKeyPair of alucloud192 on 2017-06-01 with key name and fingerprint from responseElements (micafer's im-... keys, alucloud171's four keys, ...).
SELECT
    eventTime,
    eventName,
    userIdentity.arn,
    element_at(requestParameters, 'keyName') AS requestedKey,
    element_at(responseElements, 'keyFingerprint') AS fingerprint
FROM cloudtrail
WHERE eventName IN ('CreateKeyPair', 'ImportKeyPair')
  AND eventTime > '2017-06-01 00:00:00'
  AND eventTime < '2017-06-02 00:00:00'
ORDER BY eventTime
