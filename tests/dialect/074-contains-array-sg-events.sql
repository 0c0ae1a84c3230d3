-- dialect: athena
-- source: https://docs.aws.amazon.com/athena/latest/ug/filtering-arrays.html
-- construct: trino-fn:contains, output-name
-- answer: the 114 security-group changes (41 authorize, 22 revoke, 17 create, 34 delete) in time order, by micafer, gmolto, alucloud31 and other students.
SELECT eventtime, eventname, useridentity.arn, requestparameters, errorcode
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND contains(ARRAY['AuthorizeSecurityGroupIngress', 'RevokeSecurityGroupIngress',
                     'CreateSecurityGroup', 'DeleteSecurityGroup'], eventname)
ORDER BY eventtime;
