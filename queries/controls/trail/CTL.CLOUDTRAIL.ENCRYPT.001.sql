-- Every trail should encrypt its log files with a KMS key: SSE-KMS adds a second gate (kms:Decrypt)
-- in front of the logs besides the bucket's own access. DescribeTrails leaves KmsKeyId out when the
-- trail has none, so a trail row (DescribeTrails answered) with a NULL key is "no key", not "not
-- captured"; without DescribeTrails there is no trail row and the control is inconclusive.
SELECT CASE WHEN kms_key_id IS NOT NULL AND kms_key_id <> '' THEN 'pass' ELSE 'fail' END AS status,
       trail_arn AS resource,
       account_id,
       home_region AS region,
       kms_key_id,
       is_logging,
       is_organization_trail
FROM trail_facts
