-- Log file validation must be on for every trail: without it CloudTrail writes no digests and
-- nobody can prove later that a log file was not deleted or altered. Deliberately the same
-- decision as CTL.CLOUDTRAIL.VALIDATION.001 (the upstream catalog lists the check twice).
SELECT CASE
         WHEN log_file_validation_enabled IS NULL THEN 'inconclusive'
         WHEN log_file_validation_enabled THEN 'pass'
         ELSE 'fail'
       END AS status,
       trail_arn AS resource,
       account_id,
       home_region AS region,
       log_file_validation_enabled,
       is_logging
FROM trail_facts
