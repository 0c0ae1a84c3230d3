-- dialect: athena
-- source: https://securosis.com/blog/aws-cloud-incident-analysis-query-cheatsheet/
-- construct: output-name
-- answer: the 134 calls naming volume vol-0ffe989708a9ee073 in their request or response: 90 DescribeVolumes, 43 DetachVolume (Client.IncorrectState, it is a root volume) and 1 DeleteVolume.
SELECT useridentity.arn, eventname, sourceipaddress, eventtime, errorcode, resources
FROM cloudtrail
WHERE requestparameters LIKE '%vol-0ffe989708a9ee073%'
   OR responseelements LIKE '%vol-0ffe989708a9ee073%'
ORDER BY eventtime;
