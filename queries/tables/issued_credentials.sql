-- issued_credentials: one row per temporary credential the archive saw issued, from the STS call
-- (or the service's delivery) that returned it: who asked for it, with which key, and how. The
-- `sessions` table adds when each was used; trailscope's lineage (`trace`,
-- `credential_origins`) follows `issuer_access_key` from credential to credential.
--
-- A cross-account AssumeRole is recorded twice, in the caller's account (naming the caller and
-- its access key) and in the role's account (naming only the caller's account and principal id);
-- both copies carry the new credential. The copy that names the caller's key is kept, and
-- `issuing_records` says how many there were, so duplicates stay visible. Session tokens are
-- never selected.
WITH issued AS (
  SELECT
    json_extract_scalar(responseelements, '$.credentials.accessKeyId') AS access_key_id,
    coalesce(
      json_extract_scalar(responseelements, '$.assumedRoleUser.arn'),
      json_extract_scalar(responseelements, '$.federatedUser.arn'),
      CASE WHEN eventname = 'GetSessionToken' THEN useridentity.arn END
    ) AS session_arn,
    json_extract_scalar(requestparameters, '$.roleArn') AS role_arn,
    json_extract_scalar(requestparameters, '$.roleSessionName') AS role_session_name,
    eventname,
    useridentity.type AS issuer_type,
    useridentity.arn AS issuer_arn,
    useridentity.principalid AS issuer_principal_id,
    useridentity.username AS issuer_user_name,
    useridentity.accesskeyid AS issuer_access_key,
    useridentity.accountid AS issuer_account,
    useridentity.invokedby AS invoked_by,
    coalesce(
      useridentity.identityprovider,
      json_extract_scalar(requestparameters, '$.principalArn'),
      json_extract_scalar(requestparameters, '$.providerId')
    ) AS identity_provider,
    coalesce(
      json_extract_scalar(responseelements, '$.sourceIdentity'),
      json_extract_scalar(requestparameters, '$.sourceIdentity')
    ) AS source_identity,
    json_extract_scalar(responseelements, '$.credentials.expiration') AS expiration,
    eventtime,
    sourceipaddress,
    useragent,
    recipientaccountid,
    account_id,
    eventid,
    log_file
  FROM cloudtrail
  WHERE eventsource = 'sts.amazonaws.com'
    AND eventname IN ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity',
                      'GetSessionToken', 'GetFederationToken', 'AssumeRoot')
    AND errorcode IS NULL
    AND json_extract_scalar(responseelements, '$.credentials.accessKeyId') IS NOT NULL
),
ranked AS (
  SELECT *,
    row_number() OVER (
      PARTITION BY access_key_id
      ORDER BY issuer_access_key IS NULL, eventtime, eventid
    ) AS copy,
    count(*) OVER (PARTITION BY access_key_id) AS issuing_records
  FROM issued
)
SELECT
  r.access_key_id,
  r.session_arn,
  -- The session name is the last part of an assumed-role or federated-user ARN.
  coalesce(
    CASE WHEN r.session_arn LIKE 'arn:%:assumed-role/%' THEN split_part(r.session_arn, '/', 3)
         WHEN r.session_arn LIKE 'arn:%:federated-user/%' THEN split_part(r.session_arn, '/', 2)
    END,
    r.role_session_name
  ) AS session_name,
  coalesce(r.role_arn, CASE WHEN r.eventname = 'GetSessionToken' THEN r.issuer_arn END) AS role_arn,
  coalesce(split_part(r.session_arn, ':', 5), r.recipientaccountid) AS account,
  CASE
    WHEN r.invoked_by = 'ec2.amazonaws.com' AND r.issuer_type = 'AWSService' THEN 'EC2InstanceRole'
    WHEN r.invoked_by = 'lambda.amazonaws.com' AND r.issuer_type = 'AWSService' THEN 'LambdaRole'
    WHEN r.issuer_type = 'AWSService' THEN 'ServiceRole'
    WHEN r.eventname = 'AssumeRoleWithSAML' AND r.role_arn LIKE '%/AWSReservedSSO%' THEN 'IdentityCenter'
    WHEN r.eventname = 'GetSessionToken' AND r.invoked_by = 'signin.amazonaws.com' THEN 'ConsoleSignIn'
    ELSE r.eventname
  END AS issued_via,
  r.eventname AS issuing_event_name,
  r.issuer_type,
  -- Who asked: an IAM ARN; for federation the identity provider's subject; for a service its
  -- name; for the role account's copy of a cross-account call, the caller's account and id.
  CASE
    WHEN r.issuer_arn IS NOT NULL THEN r.issuer_arn
    WHEN r.issuer_type IN ('SAMLUser', 'WebIdentityUser')
      THEN concat(coalesce(r.identity_provider, r.issuer_type), ':', coalesce(r.issuer_user_name, r.issuer_principal_id))
    WHEN r.issuer_type = 'AWSService' THEN r.invoked_by
    WHEN r.issuer_type = 'AWSAccount' THEN concat('account:', r.issuer_account, ':', r.issuer_principal_id)
  END AS issuer,
  r.issuer_access_key,
  r.issuer_account,
  r.issuer_principal_id,
  r.identity_provider,
  r.source_identity,
  r.eventtime AS issued_at,
  r.expiration,
  r.sourceipaddress AS source_ip,
  r.useragent AS user_agent,
  r.account_id AS recorded_in,
  r.issuing_records,
  r.eventid AS issuing_event_id,
  r.log_file
FROM ranked r
WHERE r.copy = 1
