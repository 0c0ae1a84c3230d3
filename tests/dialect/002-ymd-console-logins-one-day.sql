-- dialect: athena
-- source: https://github.com/awsdocs/amazon-athena-user-guide/blob/765e909ebcf8817b22efad881b7f90f32440b891/doc_source/cloudtrail-logs.md
-- construct: partition-ymd, partition-region, output-name
-- answer: the 16 ConsoleLogin events of 2017-06-01 in us-east-1 (micafer, gmolto, alucloud00, alucloud05 twice, alucloud200 twice, ...), all with MFAUsed "No".
SELECT useridentity.username, sourceipaddress, eventtime, additionaleventdata
FROM cloudtrail
WHERE region = 'us-east-1'
  AND year = '2017'
  AND month = '06'
  AND day = '01'
  AND eventname = 'ConsoleLogin'
ORDER BY eventtime;
